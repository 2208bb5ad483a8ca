/**
 * A pool's wait queue: FIFO within a team, round-robin across teams, so one team's
 * burst of 500 requests does not make another team's single request wait behind it.
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
