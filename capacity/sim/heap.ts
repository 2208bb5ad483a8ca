/**
 * Min-heap of timed events. Ties break by insertion order, so a run is deterministic
 * regardless of how the heap happens to be shaped.
 */
export interface Timed {
    t: number;
    seq: number;
}

export class EventHeap<E extends Timed> {
    private items: E[] = [];
    private counter = 0;

    get size(): number {
        return this.items.length;
    }

    peekTime(): number {
        return this.items.length > 0 ? this.items[0].t : Infinity;
    }

    push(e: E): void {
        e.seq = this.counter++;
        const a = this.items;
        a.push(e);
        let i = a.length - 1;
        while (i > 0) {
            const p = (i - 1) >> 1;
            if (!less(a[i], a[p])) break;
            [a[i], a[p]] = [a[p], a[i]];
            i = p;
        }
    }

    pop(): E | undefined {
        const a = this.items;
        if (a.length === 0) return undefined;
        const top = a[0];
        const last = a.pop()!;
        if (a.length > 0) {
            a[0] = last;
            let i = 0;
            for (;;) {
                const l = 2 * i + 1;
                const r = l + 1;
                let m = i;
                if (l < a.length && less(a[l], a[m])) m = l;
                if (r < a.length && less(a[r], a[m])) m = r;
                if (m === i) break;
                [a[i], a[m]] = [a[m], a[i]];
                i = m;
            }
        }
        return top;
    }
}

function less(a: Timed, b: Timed): boolean {
    return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}
