/** Small statistics helpers shared by the simulator and its reports. */

/** Quantile of an ascending array (linear interpolation between closest ranks); NaN when empty. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
    const n = sorted.length;
    if (n === 0) return NaN;
    const pos = (n - 1) * q;
    const lo = Math.floor(pos);
    const hi = Math.min(n - 1, lo + 1);
    const frac = pos - lo;
    if (frac === 0 || sorted[hi] === sorted[lo]) return sorted[lo];
    if (sorted[hi] === Infinity) return Infinity; // failures counted as never answered
    return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

export function sortedCopy(values: ArrayLike<number>): Float64Array {
    return Float64Array.from(values).sort();
}

export function mean(values: ArrayLike<number>): number {
    if (values.length === 0) return NaN;
    let s = 0;
    for (let i = 0; i < values.length; i++) s += values[i];
    return s / values.length;
}

export const round = (n: number, digits = 2): number => {
    if (!Number.isFinite(n)) return n;
    const f = 10 ** digits;
    return Math.round(n * f) / f;
};
