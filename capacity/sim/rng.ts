/**
 * Seeded random numbers for the simulator and the traffic generator.
 *
 * Why hashed streams: every random quantity comes from its own stream, keyed by what it
 * belongs to ("node 3 of pool a10g", "arrivals"), not from one shared sequence. Two runs
 * that differ in one knob (min replicas, cold-start speed) then still see the same
 * arrivals, service times and per-node boot times (common random numbers), so their
 * difference is the knob's effect, not noise.
 */

/** 32-bit FNV-1a of a string, to turn stream names into seeds. */
function hashString(s: string): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < s.length; i++) {
        h ^= s.charCodeAt(i);
        h = Math.imul(h, 0x01000193);
    }
    return h >>> 0;
}

/** splitmix32 finalizer: spreads a 32-bit seed over all bits. */
function mix32(x: number): number {
    x = (x + 0x9e3779b9) | 0;
    x = Math.imul(x ^ (x >>> 16), 0x21f0aaad);
    x = Math.imul(x ^ (x >>> 15), 0x735a2d97);
    return (x ^ (x >>> 15)) >>> 0;
}

/** A small, fast generator (sfc32) with the helpers the simulator needs. */
export class Rng {
    private a: number;
    private b: number;
    private c: number;
    private d: number;

    constructor(seed: number, stream = "") {
        const s = mix32(seed ^ hashString(stream));
        this.a = mix32(s);
        this.b = mix32(this.a);
        this.c = mix32(this.b);
        this.d = 1;
        for (let i = 0; i < 12; i++) this.next();
    }

    /** Uniform in [0, 1). */
    next(): number {
        const t = (((this.a + this.b) | 0) + this.d) | 0;
        this.d = (this.d + 1) | 0;
        this.a = this.b ^ (this.b >>> 9);
        this.b = (this.c + (this.c << 3)) | 0;
        this.c = (this.c << 21) | (this.c >>> 11);
        this.c = (this.c + t) | 0;
        return (t >>> 0) / 4294967296;
    }

    uniform(min: number, max: number): number {
        return min + (max - min) * this.next();
    }

    /** Integer in [min, max], both included. */
    int(min: number, max: number): number {
        return min + Math.floor(this.next() * (max - min + 1));
    }

    /** Exponential with the given mean. */
    exp(mean: number): number {
        return -mean * Math.log(1 - this.next());
    }

    /** Standard normal (Box-Muller; one value per call keeps streams simple). */
    normal(): number {
        const u = 1 - this.next();
        const v = this.next();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
}

/** A uniform draw in [0, 1) that depends only on (seed, stream, index): per-entity randomness. */
export function unitDraw(seed: number, stream: string, index: number): number {
    return mix32(mix32(seed ^ hashString(stream)) ^ mix32(index + 0x632be5ab)) / 4294967296;
}
