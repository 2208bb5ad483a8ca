/**
 * A fake NVIDIA DCGM exporter: `GET /metrics` in the exposition format of dcgm-exporter
 * 4.5.3-4.8.2 (the image tag of chart 4.8.2), with its real metric names and labels:
 * - per-GPU labels `gpu`, `UUID`, `pci_bus_id`, `device`, `modelName`, `Hostname`
 *   (internal/pkg/rendermetrics/render_metrics.go, gpuMetricsFormat at that tag), plus
 *   `DCGM_FI_DRIVER_VERSION` (a `label` field of etc/default-counters.csv);
 * - the GPU's workload as `pod`, `namespace`, `container` (+ `pod_uid`) when a pod holds it
 *   (internal/pkg/transformation/const.go + kubernetes.go; the chart sets
 *   DCGM_EXPORTER_KUBERNETES=true), nothing when no pod does;
 * - the default counters the project queries (etc/default-counters.csv at that tag).
 */
import * as http from "http";
import { AddressInfo } from "net";

export interface FakeGpu {
    /** DCGM_FI_DEV_GPU_UTIL, percent 0-100. */
    util: number;
    /** The pod the GPU is allocated to (kubelet pod-resources), if any. */
    pod?: { name: string; namespace: string; container: string };
    /** Framebuffer MiB used / free. @default 20000 / 3000 */
    fbUsedMiB?: number;
    fbFreeMiB?: number;
}

export interface FakeDcgm {
    readonly url: string;
    /** Replaces the node's GPUs (what the next scrape sees). */
    setGpus(gpus: FakeGpu[]): void;
    stop(): Promise<void>;
}

/** DCGM field, Prometheus type, help: as etc/default-counters.csv (ratios 0-1, utilizations in %). */
const FIELDS: Array<[string, string, string, (g: FakeGpu) => number]> = [
    ["DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %).", (g) => g.util],
    ["DCGM_FI_DEV_MEM_COPY_UTIL", "gauge", "Memory utilization (in %).", (g) => Math.round(g.util / 2)],
    ["DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (in MiB).", (g) => g.fbFreeMiB ?? 3000],
    ["DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB).", (g) => g.fbUsedMiB ?? 20000],
    ["DCGM_FI_PROF_GR_ENGINE_ACTIVE", "gauge", "Ratio of time the graphics engine is active.", (g) => g.util / 100],
    ["DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "gauge", "Ratio of cycles the tensor (HMMA) pipe is active.", (g) => g.util / 200],
];

function render(gpus: FakeGpu[], hostname: string): string {
    let out = "";
    for (const [name, type, help, value] of FIELDS) {
        out += `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
        gpus.forEach((g, i) => {
            const uuid = `GPU-0000${i}a1b-2c3d-4e5f-6a7b-8c9d0e1f2a3b`;
            let labels = `gpu="${i}",UUID="${uuid}",pci_bus_id="00000000:00:${(0x1b + i).toString(16).toUpperCase()}.0",device="nvidia${i}",modelName="NVIDIA A10G",Hostname="${hostname}",DCGM_FI_DRIVER_VERSION="580.95.05"`;
            if (g.pod)
                labels += `,container="${g.pod.container}",namespace="${g.pod.namespace}",pod="${g.pod.name}",pod_uid="uid-${g.pod.namespace}-${g.pod.name}"`;
            out += `${name}{${labels}} ${value(g)}\n`;
        });
    }
    return out;
}

export async function startFakeDcgm(gpus: FakeGpu[] = [], hostname = "ip-10-0-12-34.ec2.internal"): Promise<FakeDcgm> {
    let current = gpus;
    const server = http.createServer((req, res) => {
        if (req.method === "GET" && (req.url ?? "").split("?")[0] === "/metrics") {
            res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
            return void res.end(render(current, hostname));
        }
        res.writeHead(404).end();
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    return {
        url: `http://127.0.0.1:${port}`,
        setGpus(g) {
            current = g;
        },
        stop: () =>
            new Promise<void>((r) => {
                server.closeAllConnections();
                server.close(() => r());
            }),
    };
}
