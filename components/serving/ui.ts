/**
 * The web UI: the static page from ui/ in a ConfigMap, served by an unprivileged nginx
 * (pinned image, read-only root, non-root). A checksum annotation rolls the pods when
 * the page changes. The page calls the gateway on the same origin (/v1 via the ALB).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { childOf } from "../deps";
import { PRE_STOP_SECONDS, RESTRICTED_CONTAINER_SECURITY, RESTRICTED_POD_SECURITY, componentLabels } from "./security";

export const UI_NAME = "ui";
export const UI_PORT = 8080;
export const UI_DIR = path.resolve(__dirname, "..", "..", "ui");
/** Files served: the page and what it loads (no build step, no CDN). */
const SERVED = /\.(html|js|css|svg|json|txt)$/;
/** The DICOM parser the page loads, served from node_modules under this fixed name (not copied into ui/). */
export const DICOM_PARSER_FILE = "dicom-parser.min.js";

/** File name -> content of every served file: those in ui/ plus the DICOM parser from node_modules. */
export function readUiFiles(dir = UI_DIR): Record<string, string> {
    const files: Record<string, string> = Object.fromEntries(
        fs
            .readdirSync(dir)
            .filter((f) => SERVED.test(f) && fs.statSync(path.join(dir, f)).isFile())
            .map((f) => [f, fs.readFileSync(path.join(dir, f), "utf8")]),
    );
    if (DICOM_PARSER_FILE in files) throw new Error(`${path.join(dir, DICOM_PARSER_FILE)}: this name is reserved for the DICOM parser served from node_modules`);
    files[DICOM_PARSER_FILE] = fs.readFileSync(require.resolve("dicom-parser/dist/dicomParser.min.js"), "utf8");
    return Object.fromEntries(Object.keys(files).sort().map((f) => [f, files[f]]));
}

/** nginx server block: static files, no caching of index.html, strict security headers. */
export const NGINX_CONF = `server {
    listen ${UI_PORT};
    server_tokens off;
    root /usr/share/nginx/html;
    index index.html;
    add_header X-Content-Type-Options nosniff always;
    add_header X-Frame-Options DENY always;
    add_header Referrer-Policy no-referrer always;
    add_header Content-Security-Policy "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'" always;
    location = /healthz { access_log off; return 200 "ok\\n"; }
    location = /index.html { add_header Cache-Control "no-store" always; }
    location / { try_files $uri /index.html; }
}
`;

export interface UiArgs {
    readonly namespace: string;
    readonly image: string;
    readonly replicas: number;
}

export class Ui extends pulumi.ComponentResource {
    readonly serviceName = UI_NAME;

    constructor(name: string, args: UiArgs, opts: pulumi.ComponentResourceOptions) {
        super("gpuserve:serving:Ui", name, {}, opts);
        const child = childOf(this, opts);
        const labels = componentLabels("ui", { "app.kubernetes.io/name": UI_NAME });
        const meta = (n: string) => ({ name: n, namespace: args.namespace, labels });
        const files = readUiFiles();
        const checksum = createHash("sha256").update(JSON.stringify(files)).update(NGINX_CONF).digest("hex").slice(0, 16);

        const content = new k8s.core.v1.ConfigMap(`${name}-content`, { metadata: meta(`${UI_NAME}-content`), data: files }, child);
        const conf = new k8s.core.v1.ConfigMap(`${name}-nginx`, { metadata: meta(`${UI_NAME}-nginx`), data: { "default.conf": NGINX_CONF } }, child);

        new k8s.apps.v1.Deployment(
            `${name}-deployment`,
            {
                metadata: meta(UI_NAME),
                spec: {
                    replicas: args.replicas,
                    selector: { matchLabels: { "app.kubernetes.io/name": UI_NAME } },
                    template: {
                        metadata: { labels, annotations: { "gpuserve.io/content-checksum": checksum } },
                        spec: {
                            securityContext: RESTRICTED_POD_SECURITY,
                            automountServiceAccountToken: false,
                            enableServiceLinks: false,
                            containers: [
                                {
                                    name: "nginx",
                                    image: args.image,
                                    ports: [{ name: "http", containerPort: UI_PORT, protocol: "TCP" }],
                                    resources: { requests: { cpu: "50m", memory: "32Mi" }, limits: { memory: "64Mi" } },
                                    securityContext: RESTRICTED_CONTAINER_SECURITY,
                                    readinessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 5 },
                                    livenessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 15 },
                                    // Keep serving while the ALB deregisters the pod.
                                    lifecycle: { preStop: { sleep: { seconds: PRE_STOP_SECONDS } } },
                                    volumeMounts: [
                                        { name: "content", mountPath: "/usr/share/nginx/html", readOnly: true },
                                        { name: "conf", mountPath: "/etc/nginx/conf.d", readOnly: true },
                                        { name: "tmp", mountPath: "/tmp" }, // pid file and temp paths of nginx-unprivileged
                                    ],
                                },
                            ],
                            volumes: [
                                { name: "content", configMap: { name: `${UI_NAME}-content` } },
                                { name: "conf", configMap: { name: `${UI_NAME}-nginx` } },
                                { name: "tmp", emptyDir: { sizeLimit: "32Mi" } },
                            ],
                        },
                    },
                },
            },
            childOf(this, opts, [content, conf]),
        );
        new k8s.core.v1.Service(
            `${name}-service`,
            {
                metadata: { ...meta(UI_NAME), annotations: { "alb.ingress.kubernetes.io/healthcheck-path": "/healthz" } },
                spec: { selector: { "app.kubernetes.io/name": UI_NAME }, ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }] },
            },
            child,
        );
        this.registerOutputs({});
    }
}
