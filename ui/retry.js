// @ts-check
/**
 * Cold starts and rate limits, as the page tells them: how long to wait before trying again
 * (Retry-After), what to say while the gateway holds a question or answers 503/429, and the
 * countdown between tries. The figures (a pool's estimated cold start, the gateway's hold
 * bound) come from the gateway's /v1/models entries, which come from the stack's config and
 * cold-start model (components/serving/gatewayConfig.ts). Pure apart from the countdown's
 * timers, which a test replaces (test/ui/retry.test.ts).
 */

/**
 * What the gateway says about a model's pool (GET /v1/models entries); absent from older gateways.
 * @typedef {object} PoolTimes
 * @property {number} [coldStartSeconds] the pool's estimated time from zero workers to a ready one
 * @property {number} [maxWaitSeconds] how long the gateway holds a question before a 503
 */

/**
 * Retry-After as whole seconds (delta-seconds or an HTTP date), bounded to 1..600.
 * @param {string | null} header
 * @param {number} fallback seconds when the header is absent or unreadable
 * @param {number} [now] ms since the epoch, for HTTP dates
 */
export function retryAfterSeconds(header, fallback, now = Date.now()) {
    let s = header === null ? NaN : /^\s*\d+\s*$/.test(header) ? Number(header) : (Date.parse(header) - now) / 1000;
    if (!Number.isFinite(s)) s = fallback;
    return Math.min(600, Math.max(1, Math.ceil(s)));
}

/**
 * A duration as people say it: "45 s", "3 min", "1 h 5 min".
 * @param {number} seconds
 */
export function spoken(seconds) {
    const s = Math.max(0, Math.round(seconds));
    if (s < 100) return `${s} s`;
    const min = Math.round(s / 60);
    return min < 60 ? `${min} min` : `${Math.floor(min / 60)} h${min % 60 ? ` ${min % 60} min` : ""}`;
}

/**
 * "a GPU worker takes about 3 min to start", from the pool's estimate when the gateway gives one.
 * @param {PoolTimes} times
 */
function startsIn(times) {
    return times.coldStartSeconds
        ? `a GPU worker takes about ${spoken(times.coldStartSeconds)} to start (this service's estimate)`
        : "a GPU worker takes a few minutes to start";
}

/**
 * The status line while the gateway holds the question (no answer yet).
 * @param {number} waited seconds since the question was sent
 * @param {PoolTimes} times
 */
export function holdingDetail(waited, times) {
    const hold = times.maxWaitSeconds ? ` for up to ${spoken(times.maxWaitSeconds)}` : "";
    return `Waiting ${waited} s so far. After a quiet period ${startsIn(times)}; the server keeps your question in line${hold} meanwhile, so keep this page open.`;
}

/**
 * What to tell the user about a 503 or 429 before the countdown to the next try.
 * @param {number} status 503 or 429
 * @param {{ message: string, code: string }} error the gateway's error
 * @param {PoolTimes} times
 */
export function retryMessage(status, error, times) {
    if (status === 429) return `Too many requests right now${error.message ? ` (${error.message})` : ""}. The page will try again.`;
    if (error.code === "pool_busy") return "All GPU workers are busy with other questions. The page will try again.";
    if (error.code === "shutting_down") return "The server is restarting. The page will try again.";
    return `GPU workers are starting: after a quiet period ${startsIn(times)}. The page keeps trying.`;
}

/**
 * Timers the countdown runs on (a test passes its own clock).
 * @typedef {object} Clock
 * @property {() => number} now ms
 * @property {(fn: () => void, ms: number) => unknown} every
 * @property {(handle: unknown) => void} cancel
 */

/** @type {Clock} */
const REAL_CLOCK = {
    now: () => Date.now(),
    every: (fn, ms) => setInterval(fn, ms),
    cancel: (handle) => clearInterval(/** @type {number} */ (handle)),
};

/**
 * Waits `seconds`, calling `onTick` with the whole seconds left (at once, then 4 times a second).
 * @param {number} seconds
 * @param {AbortSignal} signal Stop: resolves false at once
 * @param {(left: number) => void} onTick
 * @param {Clock} [clock]
 * @returns {Promise<boolean>} true when the time is up, false when stopped
 */
export function countdown(seconds, signal, onTick, clock = REAL_CLOCK) {
    return new Promise((resolve) => {
        if (signal.aborted) return resolve(false);
        const until = clock.now() + seconds * 1000;
        /** @type {unknown} */
        let timer;
        /** @param {boolean} ok */
        const finish = (ok) => {
            clock.cancel(timer);
            signal.removeEventListener("abort", onAbort);
            resolve(ok);
        };
        const onAbort = () => finish(false);
        const tick = () => {
            const left = Math.max(0, Math.ceil((until - clock.now()) / 1000));
            onTick(left);
            if (left <= 0) finish(true);
        };
        signal.addEventListener("abort", onAbort);
        timer = clock.every(tick, 250);
        tick();
    });
}
