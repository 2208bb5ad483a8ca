/**
 * A pool's wait queue: FIFO within a team, round-robin across teams, so one team's
 * burst of 500 requests does not make another team's single request wait behind it.
 * When the queue is full, a team holding fewer entries than the largest one still gets in:
 * the largest team's newest entry makes room (see `makeRoomFor`), so each team keeps its
 * share of the slots. This is the shape of llm-d's flow control (per-flow queues within a
 * priority band, a round-robin inter-flow dispatch policy choosing which flow's queue goes
 * next: gateway-api-inference-extension, pkg/epp/flowcontrol/framework/plugins/policies/
 * interflow/dispatch/README.md).
 * Entries can leave from anywhere in O(1) (timeout, client gone), which matters with
 * thousands of held requests.
 */

interface Node<T> {
    value: T;
    prev: Node<T> | null;
    next: Node<T> | null;
    list: List<T> | null;
}

class List<T> {
    head: Node<T> | null = null;
    tail: Node<T> | null = null;
    size = 0;

    push(node: Node<T>, front: boolean): void {
        node.list = this;
        if (this.head === null) {
            this.head = this.tail = node;
        } else if (front) {
            node.next = this.head;
            this.head.prev = node;
            this.head = node;
        } else {
            node.prev = this.tail;
            this.tail!.next = node;
            this.tail = node;
        }
        this.size++;
    }

    remove(node: Node<T>): void {
        if (node.prev) node.prev.next = node.next;
        else this.head = node.next;
        if (node.next) node.next.prev = node.prev;
        else this.tail = node.prev;
        node.prev = node.next = node.list = null;
        this.size--;
    }
}

/** Handle returned by push; pass it to remove(). */
export type QueueTicket<T> = Node<T> & { readonly team: string };

export class FairQueue<T> {
    /** Retries of requests that were already admitted go first. */
    private readonly urgent = new List<T>();
    /** Map order is the round-robin order: a served team moves to the back. */
    private readonly teams = new Map<string, List<T>>();
    private count = 0;

    get size(): number {
        return this.count;
    }

    push(team: string, value: T, urgent = false): QueueTicket<T> {
        const node = { value, prev: null, next: null, list: null, team } as QueueTicket<T>;
        if (urgent) {
            this.urgent.push(node, true);
        } else {
            let list = this.teams.get(team);
            if (list === undefined) this.teams.set(team, (list = new List<T>()));
            list.push(node, false);
        }
        this.count++;
        return node;
    }

    /** Removes a waiting entry; false when it was already taken. */
    remove(ticket: QueueTicket<T>): boolean {
        const list = ticket.list;
        if (list === null) return false;
        list.remove(ticket);
        this.count--;
        if (list.size === 0 && list !== this.urgent) this.teams.delete(ticket.team);
        return true;
    }

    /** Entries a team has waiting. */
    countOf(team: string): number {
        return this.teams.get(team)?.size ?? 0;
    }

    /**
     * The full queue's fair share for an arriving `team`: the newest entry of the team with the
     * most entries, if that team holds at least two more than `team` (the caller removes it and
     * refuses it). undefined: `team` already has its share, and is the one refused.
     */
    makeRoomFor(team: string): T | undefined {
        const own = this.countOf(team);
        let largest: List<T> | undefined;
        for (const [t, list] of this.teams) if (t !== team && (largest === undefined || list.size > largest.size)) largest = list;
        if (largest === undefined || largest.size < own + 2) return undefined;
        return largest.tail!.value;
    }

    peek(): T | undefined {
        if (this.urgent.head) return this.urgent.head.value;
        const first = this.teams.values().next();
        return first.done ? undefined : first.value.head!.value;
    }

    shift(): T | undefined {
        let node = this.urgent.head;
        if (node === null) {
            const first = this.teams.entries().next();
            if (first.done) return undefined;
            const [team, list] = first.value;
            node = list.head!;
            // Rotate: the team just served goes to the back of the round.
            this.teams.delete(team);
            if (list.size > 1) this.teams.set(team, list);
        }
        const list = node.list!;
        list.remove(node);
        this.count--;
        return node.value;
    }
}
