/**
 * The cluster side: the Deployment (replicas -> pods, ReplicaSet deletion order), the
 * scheduler (one GPU per pod, image locality), pod start (image pull, vLLM load,
 * readiness), the Cluster Autoscaler (scale-up for pending pods once the oldest is past the
 * GPU buffer, scale-down of empty nodes after the unneeded time and the delay after a
 * scale-up) and spot reclaims. Cold-start phases come from coldStart.ts.
 */
import { allocatableAfterLaunch, drawRange, nodeBoot } from "../../stacks/model/coldStartPhases";
import { Gateway, WorkerDrain } from "./gatewayQueue";
import { unitDraw } from "./rng";
import { Ev, Node, NodeState, Pod, PodState, SimState } from "./state";

export class Cluster implements WorkerDrain {
    gateway!: Gateway;

    constructor(private readonly s: SimState) {}

    /** The steady state at t = 0: `initial[wp]` routable pods on warm nodes, plus the pools' minNodes. */
    initialState(initial: readonly number[]): void {
        const s = this.s;
        const perGp = s.gps.map(() => [] as Pod[]);
        s.wps.forEach((w, i) => {
            w.desired = initial[i];
            w.peakReplicas = initial[i];
            if (initial[i] > 0) w.keda.lastActive = 0;
            for (let k = 0; k < initial[i]; k++) {
                const pod = new Pod(i, w.podSeq++);
                w.pods.push(pod);
                perGp[w.setup.gpuPool].push(pod);
            }
        });
        s.gps.forEach((g, gi) => {
            const pods = perGp[gi];
            const count = Math.max(g.setup.minNodes, Math.ceil(pods.length / g.setup.gpusPerNode));
            for (let k = 0; k < count; k++) {
                const node = new Node(gi, g.nodeSeq++, 0);
                node.state = NodeState.Ready;
                node.allocatableAt = 0;
                node.imageReadyAt = 0;
                node.emptySince = 0;
                g.nodes.push(node);
                this.scheduleSpot(node);
            }
            g.peakNodes = count;
            pods.forEach((pod, k) => {
                this.bindTo(pod, g.nodes[Math.floor(k / g.setup.gpusPerNode)]);
                pod.state = PodState.Ready;
                s.wps[pod.wp].ready.push(pod);
                s.meters?.workers(pod.wp, s.wps[pod.wp].ready.length, s.now);
                s.rec?.events.push({ t: s.now, kind: "vllm", pool: pod.wp, pod: pod.seq, up: true });
            });
        });
    }

    // --- Deployment ------------------------------------------------------------------

    setReplicas(wi: number, n: number): void {
        const w = this.s.wps[wi];
        w.desired = n;
        w.peakReplicas = Math.max(w.peakReplicas, n);
        const live = w.pods.filter((p) => p.state !== PodState.Draining && p.state !== PodState.Gone);
        if (n > live.length) {
            for (let k = live.length; k < n; k++) this.createPod(wi);
            this.schedule(w.setup.gpuPool);
        } else if (n < live.length) {
            // ReplicaSet deletion order: unscheduled, then not ready, then ready the shortest time; newest first.
            const rank = (p: Pod) => (p.state === PodState.Pending ? 0 : p.state === PodState.Starting ? 1 : 2);
            live.sort((a, b) => rank(a) - rank(b) || b.boundAt - a.boundAt || b.seq - a.seq);
            for (const pod of live.slice(0, live.length - n)) this.deletePod(pod);
        }
    }

    private createPod(wi: number): Pod {
        const w = this.s.wps[wi];
        const pod = new Pod(wi, w.podSeq++);
        pod.createdAt = this.s.now;
        w.pods.push(pod);
        this.s.gps[w.setup.gpuPool].pending.push(pod);
        return pod;
    }

    private deletePod(pod: Pod): void {
        if (pod.state === PodState.Pending) {
            pod.state = PodState.Gone;
            this.forget(pod);
        } else if (pod.state === PodState.Starting) this.podGone(pod);
        else if (pod.state === PodState.Ready) this.startDrain(pod);
    }

    isDraining(pod: Pod): boolean {
        return pod.state === PodState.Draining;
    }

    /** Out of the gateway's rotation at once; the GPU is freed after preStop and the last request. */
    private startDrain(pod: Pod): void {
        const w = this.s.wps[pod.wp];
        pod.state = PodState.Draining;
        pod.drainUntil = this.s.now + this.s.p.preStopSeconds;
        w.ready.splice(w.ready.indexOf(pod), 1);
        this.s.meters?.workers(pod.wp, w.ready.length, this.s.now);
        this.s.rec?.events.push({ t: this.s.now, kind: "vllm", pool: pod.wp, pod: pod.seq, up: false });
        if (pod.outstanding === 0) this.release(pod);
    }

    release(pod: Pod): void {
        if (this.s.now >= pod.drainUntil) this.podGone(pod);
        else this.s.at(pod.drainUntil, Ev.PodRelease, { pod });
    }

    podRelease(pod: Pod): void {
        if (pod.state === PodState.Draining && pod.outstanding === 0) this.podGone(pod);
    }

    private podGone(pod: Pod): void {
        const s = this.s;
        const w = s.wps[pod.wp];
        if (pod.state === PodState.Ready) {
            w.ready.splice(w.ready.indexOf(pod), 1);
            s.meters?.workers(pod.wp, w.ready.length, s.now);
            s.rec?.events.push({ t: s.now, kind: "vllm", pool: pod.wp, pod: pod.seq, up: false });
        }
        pod.state = PodState.Gone;
        const node = pod.node;
        if (node) {
            s.rec?.events.push({ t: s.now, kind: "gpu", pool: pod.wp, pod: pod.seq, bound: false });
            w.podGpuSeconds += s.now - pod.boundAt;
            node.slotsUsed--;
            node.pods.splice(node.pods.indexOf(pod), 1);
            if (node.slotsUsed === 0) node.emptySince = s.now;
        }
        this.forget(pod);
        // A freed GPU may host a pending pod of another worker pool.
        if (node && node.state === NodeState.Ready) this.schedule(node.gp);
    }

    private forget(pod: Pod): void {
        const pods = this.s.wps[pod.wp].pods;
        const i = pods.indexOf(pod);
        if (i >= 0) pods.splice(i, 1);
    }

    // --- scheduler and pod start -------------------------------------------------------

    /** Binds pending pods to free GPUs, preferring nodes that already have the vLLM image (image locality). */
    private schedule(gi: number): void {
        const s = this.s;
        const g = s.gps[gi];
        g.pending = g.pending.filter((p) => p.state === PodState.Pending);
        if (g.pending.length === 0) return;
        const still: Pod[] = [];
        for (const pod of g.pending) {
            let best: Node | undefined;
            let bestScore = -1;
            for (const node of g.nodes) {
                if (node.state !== NodeState.Ready || node.slotsUsed >= g.setup.gpusPerNode) continue;
                const score = node.imageReadyAt <= s.now ? 1 : 0;
                if (score > bestScore) {
                    best = node;
                    bestScore = score;
                }
            }
            if (best) this.bind(pod, best);
            else still.push(pod);
        }
        g.pending = still;
    }

    private bindTo(pod: Pod, node: Node): void {
        pod.node = node;
        pod.boundAt = this.s.now;
        pod.utilMarkAt = this.s.now;
        pod.utilMark = pod.busyAccum;
        node.slotsUsed++;
        node.pods.push(pod);
        node.emptySince = Infinity;
        this.s.rec?.events.push({ t: this.s.now, kind: "gpu", pool: pod.wp, pod: pod.seq, bound: true });
    }

    private bind(pod: Pod, node: Node): void {
        const s = this.s;
        const w = s.wps[pod.wp];
        const p = s.p;
        const scale = p.coldStartScale;
        this.bindTo(pod, node);
        pod.state = PodState.Starting;
        const create = p.imagePullCachedSeconds * scale;
        let pulled: number;
        if (node.imageReadyAt <= s.now) pulled = s.now + create;
        // The snapshot volume still initializing: the container is created once its blocks are there.
        else if (node.imageFromSnapshot) pulled = node.imageReadyAt + create;
        else if (node.imageReadyAt < Infinity)
            pulled = node.imageReadyAt; // another pod is pulling it
        else {
            // The image phase of the first pod on the node: the team's measured figure, or a pull.
            const measured = s.input.coldStartMeasured?.image;
            const range = measured ? drawRange(measured) : p.imagePullUncachedSeconds;
            const u = unitDraw(s.input.seed, `pull:${s.gps[node.gp].setup.name}`, node.seq);
            pulled = s.now + (range.min + u * (range.max - range.min)) * scale;
            node.imageReadyAt = pulled;
        }
        s.at(pulled + (w.setup.start.vllmSeconds + w.setup.start.routableSeconds) * scale, Ev.PodReady, { pod });
    }

    podReady(pod: Pod): void {
        if (pod.state !== PodState.Starting) return;
        const w = this.s.wps[pod.wp];
        pod.state = PodState.Ready;
        w.ready.push(pod);
        this.s.meters?.workers(pod.wp, w.ready.length, this.s.now);
        this.s.rec?.events.push({ t: this.s.now, kind: "vllm", pool: pod.wp, pod: pod.seq, up: true });
        w.podStarts++;
        this.gateway.drainHeld(w);
    }

    // --- Cluster Autoscaler and nodes ---------------------------------------------------

    caScan(): void {
        const s = this.s;
        const p = s.p;
        let scaledUp = false;
        // Cluster Autoscaler waits while every pending GPU pod is younger than its GPU buffer (more may come);
        // that loop does no scale-down either (static_autoscaler.go: allPodsAreNew, DisableScaleDownForLoop).
        let oldest = Infinity;
        for (const g of s.gps) for (const pod of g.pending) if (pod.state === PodState.Pending) oldest = Math.min(oldest, pod.createdAt);
        if (oldest < Infinity && s.now - oldest < p.caGpuBufferSeconds) return;
        s.gps.forEach((g, gi) => {
            g.pending = g.pending.filter((pod) => pod.state === PodState.Pending);
            // Booting nodes are capacity the pending pods will get; only the rest needs new nodes.
            const upcoming = g.nodes.filter((n) => n.state === NodeState.Booting).length * g.setup.gpusPerNode;
            const need = g.pending.length - upcoming;
            if (need <= 0) return;
            const add = Math.min(Math.ceil(need / g.setup.gpusPerNode), g.setup.maxNodes - g.nodes.length);
            for (let k = 0; k < add; k++) this.launchNode(gi);
            if (add > 0) scaledUp = true;
        });
        if (scaledUp) s.lastScaleUp = s.now;
        if (s.now - s.lastScaleUp < p.caDelayAfterAddSeconds) return;
        for (const g of s.gps) {
            let live = g.nodes.length;
            for (const node of [...g.nodes]) {
                if (live <= g.setup.minNodes) break;
                if (node.state === NodeState.Ready && node.slotsUsed === 0 && s.now - node.emptySince >= g.setup.scaleDownUnneededSeconds) {
                    this.removeNode(node);
                    live--;
                }
            }
        }
    }

    private launchNode(gi: number): void {
        const s = this.s;
        const g = s.gps[gi];
        const p = s.p;
        const node = new Node(gi, g.nodeSeq++, s.now);
        const u = unitDraw(s.input.seed, `boot:${g.setup.name}`, node.seq);
        const measured = s.input.coldStartMeasured;
        const range = drawRange(nodeBoot(p, g.setup.ami, measured));
        const boot = range.min + u * (range.max - range.min);
        node.allocatableAt = s.now + allocatableAfterLaunch(p, g.setup.ami, boot, measured) * p.coldStartScale;
        // The image-cache snapshot puts the vLLM image on the node's data volume, readable once EBS has
        // initialized it (coldStart.ts imageInitSeconds); a measured image phase replaces that model.
        if (g.setup.imageCache && !measured?.image) {
            node.imageFromSnapshot = true;
            node.imageReadyAt = s.now + g.setup.imageInitSeconds * p.coldStartScale;
        }
        g.nodes.push(node);
        g.nodeLaunches++;
        g.peakNodes = Math.max(g.peakNodes, g.nodes.length);
        s.at(node.allocatableAt, Ev.NodeAllocatable, { node });
        this.scheduleSpot(node);
    }

    private scheduleSpot(node: Node): void {
        const s = this.s;
        const rate = s.p.spotInterruptionsPerNodeHour;
        const g = s.gps[node.gp];
        if (rate <= 0 || g.setup.capacityType !== "spot") return;
        const u = unitDraw(s.input.seed, `spot:${g.setup.name}`, node.seq);
        s.at(node.launchedAt - (Math.log(1 - u) / rate) * 3600, Ev.SpotNotice, { node });
    }

    nodeAllocatable(node: Node): void {
        if (node.state !== NodeState.Booting) return;
        node.state = NodeState.Ready;
        node.emptySince = this.s.now;
        this.schedule(node.gp);
    }

    private removeNode(node: Node): void {
        node.state = NodeState.Gone;
        node.goneAt = this.s.now;
        const g = this.s.gps[node.gp];
        g.nodes.splice(g.nodes.indexOf(node), 1);
        g.retired.push(node);
    }

    /** Two minutes' notice: pods leave rotation, the ReplicaSet replaces them elsewhere at once. */
    spotNotice(node: Node): void {
        const s = this.s;
        if (node.state === NodeState.Gone) return;
        s.gps[node.gp].interruptions++;
        node.state = NodeState.Interrupted;
        for (const pod of [...node.pods]) {
            if (pod.state === PodState.Starting) this.podGone(pod);
            else if (pod.state === PodState.Ready) this.startDrain(pod);
            else continue;
            this.createPod(pod.wp);
        }
        s.gps.forEach((_, gi) => this.schedule(gi));
        s.at(s.now + s.p.spotNoticeSeconds, Ev.SpotTerminate, { node });
    }

    /** The node is gone: requests still on it are re-sent by the gateway. */
    spotTerminate(node: Node): void {
        if (node.state === NodeState.Gone) return;
        for (const pod of [...node.pods]) {
            this.gateway.evict(pod);
            this.podGone(pod);
            this.gateway.drainHeld(this.s.wps[pod.wp]);
        }
        this.removeNode(node);
    }
}
