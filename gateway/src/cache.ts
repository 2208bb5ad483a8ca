/**
 * Opt-in exact-match response cache, one per pool. A class of 20 students sending the same
 * X-ray with the same question costs one GPU call: identical requests share the cached
 * answer, or join the one upstream call already in flight (see flight.ts).
 * Bounded by bytes (LRU eviction) and TTL; only deterministic requests (temperature 0).
 */
import { createHash } from "crypto";

export interface CachedResponse {
    status: number;
    contentType: string;
    /** The upstream bytes as received: one JSON body, or the SSE chunks of a stream. */
    chunks: Buffer[];
    bytes: number;
    expiresAtMs: number;
}

/** Fields that do not change the answer and so stay out of the key. */
const IGNORED = new Set(["user", "metadata", "store", "request_id", "service_tier"]);

/** Only greedy decoding gives the same answer twice. */
export function isDeterministic(body: Record<string, unknown>): boolean {
    return body.temperature === 0;
}

/** Canonical JSON: sorted keys, so field order does not change the key. */
function canonical(v: unknown): string {
    if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
    if (v !== null && typeof v === "object") {
        const o = v as Record<string, unknown>;
        return `{${Object.keys(o)
            .sort()
            .filter((k) => o[k] !== undefined)
            .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
            .join(",")}}`;
    }
    // JSON.stringify writes 1e400 (Infinity) as null: keep them apart.
    if (typeof v === "number" && !Number.isFinite(v)) return `#${v}`;
    return JSON.stringify(v);
}

/**
 * Hash of the scope (the team, unless the pool shares its cache across teams) + model + messages (image data URLs included, so the image bytes are part of the
 * key) + every sampling parameter. `stream` and `stream_options` are in the key because
 * the stored bytes are the upstream's exact answer in that format.
 */
export function cacheKey(pool: string, body: Record<string, unknown>, team?: string): string {
    const h = createHash("sha256").update(pool).update("\0");
    // Per-team keys: a hit never tells one team what another asked. Recursion depth is bounded by request.ts.
    if (team !== undefined) h.update("team:").update(team).update("\0");
    for (const k of Object.keys(body).sort()) {
        if (IGNORED.has(k) || body[k] === undefined) continue;
        h.update(JSON.stringify(k)).update(":").update(canonical(body[k])).update("\0");
    }
    return h.digest("hex");
}

export class ResponseCache {
    /** Map order is recency order: a hit moves the entry to the end. */
    private readonly entries = new Map<string, CachedResponse>();
    private total = 0;

    constructor(
        readonly maxBytes: number,
        readonly maxEntryBytes: number,
        readonly ttlMs: number,
        private readonly onEvict: () => void = () => undefined,
        private readonly now: () => number = Date.now,
    ) {}

    get bytes(): number {
        return this.total;
    }

    get size(): number {
        return this.entries.size;
    }

    get(key: string): CachedResponse | undefined {
        const e = this.entries.get(key);
        if (e === undefined) return undefined;
        this.entries.delete(key);
        if (e.expiresAtMs <= this.now()) {
            this.total -= e.bytes;
            return undefined;
        }
        this.entries.set(key, e);
        return e;
    }

    set(key: string, status: number, contentType: string, chunks: Buffer[]): void {
        const bytes = chunks.reduce((n, c) => n + c.length, 0) + key.length + contentType.length;
        if (bytes > this.maxEntryBytes || bytes > this.maxBytes) return;
        const old = this.entries.get(key);
        if (old) {
            this.entries.delete(key);
            this.total -= old.bytes;
        }
        this.entries.set(key, { status, contentType, chunks, bytes, expiresAtMs: this.now() + this.ttlMs });
        this.total += bytes;
        for (const [k, e] of this.entries) {
            if (this.total <= this.maxBytes) break;
            this.entries.delete(k);
            this.total -= e.bytes;
            this.onEvict();
        }
    }
}
