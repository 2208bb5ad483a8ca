/**
 * Offline placeholders for the secret config keys. `npm run plan` cannot decrypt values
 * stored with `pulumi config set --secret` (no Pulumi service, no passphrase): it uses
 * these instead, each in the shape its key must have, so the program parses and renders
 * everything it would with the real value (the gateway's API key hashes, the HF token
 * Secret). They stay marked secret, and the plan's summary lists the keys they replaced.
 */
import { SECRET_KEYS } from "./schema";

export type SecretKey = (typeof SECRET_KEYS)[number];

/** One per secret key: adding a key to SECRET_KEYS without a placeholder fails the type check. */
export const OFFLINE_SECRET_PLACEHOLDERS: Readonly<Record<SecretKey, string>> = {
    hfToken: "hf_offline_placeholder_not_a_real_token",
    gatewayApiKeys: JSON.stringify([{ team: "offline-placeholder", key: "offline-placeholder-key-not-a-real-key" }]),
    batchStorePassword: "offline-placeholder-batch-store-password",
};

/** Placeholder for any other encrypted value (a key outside the secret keys, another namespace). */
const OFFLINE_SECRET = "offline-placeholder-secret";

/** The placeholder for an encrypted value of `namespace:key`. */
export function offlinePlaceholder(fullKey: string, project: string): string {
    const k = fullKey.startsWith(`${project}:`) ? fullKey.slice(project.length + 1) : undefined;
    return k !== undefined && (SECRET_KEYS as readonly string[]).includes(k) ? OFFLINE_SECRET_PLACEHOLDERS[k as SecretKey] : OFFLINE_SECRET;
}
