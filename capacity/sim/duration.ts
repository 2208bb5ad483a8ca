/** Go-style durations as the Cluster Autoscaler flags take them ("5m", "30s", "1h"), in seconds. */
export function durationSeconds(d: string): number {
    const m = /^(\d+)([smh])$/.exec(d);
    if (!m) throw new Error(`'${d}' is not a duration such as 5m`);
    return Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as "s" | "m" | "h"];
}
