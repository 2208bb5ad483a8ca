/**
 * API keys: only their SHA-256 is configured, so the ConfigMap never holds a usable key.
 * Looking up the hash of the presented key leaks nothing useful through timing: a caller
 * cannot steer the hash toward a stored one.
 */
import { createHash } from "crypto";
import { ANONYMOUS, type GatewayConfig } from "./config";
import { errors, GatewayError } from "./errors";

export type Authenticator = (authorization: string | undefined) => string | GatewayError;

export function sha256Hex(s: string): string {
    return createHash("sha256").update(s).digest("hex");
}

/** Returns the caller's team, or the error to send. */
export function createAuthenticator(auth: GatewayConfig["auth"]): Authenticator {
    if (auth === undefined) {
        return () => errors.unauthorized("Authentication is not configured on this gateway, so every request is refused (configure auth.keys)");
    }
    if (auth.disabled) return () => ANONYMOUS;
    const teams = new Map(auth.keys.map((k) => [k.sha256.toLowerCase(), k.team]));
    // Valid keys seen recently skip the hash (it shows in profiles); bounded, and wrong keys are never kept.
    const recent = new Map<string, string>();
    return (authorization) => {
        const m = authorization === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(authorization);
        if (m === null) return errors.unauthorized("Missing API key: send 'Authorization: Bearer <key>'");
        const known = recent.get(m[1]);
        if (known !== undefined) return known;
        const team = teams.get(sha256Hex(m[1]));
        if (team === undefined) return errors.unauthorized("Invalid API key");
        if (recent.size >= 1024) recent.clear();
        recent.set(m[1], team);
        return team;
    };
}
