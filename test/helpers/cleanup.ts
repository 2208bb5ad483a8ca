/**
 * Per-test teardown (servers, fake workers, spawned gateways), run after every test by the root
 * hook plugin in test/setup.ts. A plain top-level afterEach in a helper module is not enough under
 * mocha's parallel mode: a worker evaluates the module once, so the hook attached only to the first
 * spec file that worker ran, and later files leaked their spawned gateway processes.
 */
const cleanups: Array<() => Promise<void>> = [];

/** Registers teardown for the current test. */
export function onCleanup(fn: () => Promise<void>): void {
    cleanups.push(fn);
}

/** Runs (and forgets) every registered teardown, newest first; a failing one does not stop the rest. */
export async function runCleanups(): Promise<void> {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
}
