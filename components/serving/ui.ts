/**
 * The web UI: the static page from ui/ in a ConfigMap, served by an unprivileged nginx
 * (pinned image, read-only root, non-root). A checksum annotation rolls the pods when
 * the page changes. The page calls the gateway on the same origin (/v1 via the ALB).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { normalizeImageRef } from "../../stacks/imageRef";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { childOf } from "../deps";
import { UI_REQUESTS, k8sRequests } from "../../stacks/catalog/systemPods";
import { PRE_STOP_SECONDS, RESTRICTED_CONTAINER_SECURITY, RESTRICTED_POD_SECURITY, componentLabels } from "./security";

export const UI_NAME = "ui";
export const UI_PORT = 8080;
const UI_DIR = path.resolve(__dirname, "..", "..", "ui");
/** Files served: the page and what it loads (no build step, no CDN). */
const SERVED = /\.(html|js|css|svg|json|txt)$/;
/** The DICOM parser the page loads, served from node_modules under this fixed name (not copied into ui/). */
const DICOM_PARSER_FILE = "dicom-parser.min.js";

/** File name -> content of every served file: those in ui/ plus the DICOM parser from node_modules. */
export function readUiFiles(dir = UI_DIR): Record<string, string> {
    const files: Record<string, string> = Object.fromEntries(
        fs
            .readdirSync(dir)
            .filter((f) => SERVED.test(f) && fs.statSync(path.join(dir, f)).isFile())
            .map((f) => [f, fs.readFileSync(path.join(dir, f), "utf8")]),
    );
    if (DICOM_PARSER_FILE in files)
        throw new Error(`${path.join(dir, DICOM_PARSER_FILE)}: this name is reserved for the DICOM parser served from node_modules`);
    files[DICOM_PARSER_FILE] = fs.readFileSync(require.resolve("dicom-parser/dist/dicomParser.min.js"), "utf8");
    return Object.fromEntries(
        Object.keys(files)
            .sort()
            .map((f) => [f, files[f]]),
    );
}

/**
 * The page's Content-Security-Policy. Scripts only from the page's origin (ui/index.html loads
 * main.js (an ES module importing the others), dicom.js and the DICOM parser as files; nothing inline). Inline styles stay allowed:
 * a style attribute cannot run code.
 */
export const CSP =
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/** Where the content ConfigMap is mounted (the image's default document root). */
const UI_ROOT = "/usr/share/nginx/html";
/** HSTS for a year once the ALB serves HTTPS (the browser then never tries plain HTTP). */
export const HSTS = "max-age=31536000";

export interface NginxConfOptions {
    /** TLS at the ALB: adds Strict-Transport-Security. */
    readonly tls: boolean;
    /** `listen` argument; the test binds 127.0.0.1:<free port>. */
    readonly listen?: string;
    /** Document root; the test points it at a temp copy of the same files. */
    readonly root?: string;
}

/**
 * The UI's nginx server block. A level inherits add_header directives "if and only if there
 * are no add_header directives defined on the current level" (nginx.org/en/docs/http/
 * ngx_http_headers_module.html#add_header; `add_header_inherit` exists only from 1.29.3,
 * Debian's 1.22 in the tests rejects it), so every location that sets Cache-Control repeats the security headers:
 * they are one list here, emitted at server level and in each such location.
 */
export function uiNginxConf(opts: NginxConfOptions): string {
    const security = [
        `add_header X-Content-Type-Options nosniff always;`,
        `add_header X-Frame-Options DENY always;`,
        `add_header Referrer-Policy no-referrer always;`,
        `add_header Content-Security-Policy "${CSP}" always;`,
        ...(opts.tls ? [`add_header Strict-Transport-Security "${HSTS}" always;`] : []),
    ];
    const block = (indent: string, extra: string[] = []) => [...security, ...extra].map((l) => indent + l).join("\n");
    return `server {
    listen ${opts.listen ?? UI_PORT};
    server_tokens off;
    root ${opts.root ?? UI_ROOT};
    index index.html;
    charset utf-8;
    gzip on;
    gzip_vary on;
    gzip_min_length 256;
    gzip_types text/css application/javascript text/javascript application/json image/svg+xml text/plain;
    # Responses of locations without add_header of their own (/healthz).
${block("    ")}
    location = /healthz { access_log off; return 200 "ok\\n"; }
    # The page (also every deep link and /, through try_files and index): never stored, so a
    # deploy is seen at the next load.
    location = /index.html {
${block("        ", ['add_header Cache-Control "no-store" always;'])}
    }
    # Assets keep their names across deploys (main.js, style.css, ...): a cache may keep them
    # but must revalidate on every use (ETag changes with the file), so no stale script runs
    # against a new page.
    location / {
        try_files $uri /index.html;
${block("        ", ['add_header Cache-Control "no-cache" always;'])}
    }
}
`;
}

/** The server block for a stack without TLS (kept for tools that read the CSP from the config text). */
export const NGINX_CONF = uiNginxConf({ tls: false });

export interface UiArgs {
    readonly namespace: string;
    readonly image: string;
    readonly replicas: number;
    /** HTTPS at the ALB (a certificate is configured): the page is sent with HSTS. */
    readonly tls: boolean;
}

export class Ui extends pulumi.ComponentResource {
    readonly serviceName = UI_NAME;

    constructor(name: string, args: UiArgs, opts: pulumi.ComponentResourceOptions) {
        super("gpuserve:serving:Ui", name, {}, opts);
        const child = childOf(this, opts);
        const labels = componentLabels("ui", { "app.kubernetes.io/name": UI_NAME });
        const meta = (n: string) => ({ name: n, namespace: args.namespace, labels });
        const files = readUiFiles();
        const nginxConf = uiNginxConf({ tls: args.tls });
        const checksum = createHash("sha256").update(JSON.stringify(files)).update(nginxConf).digest("hex").slice(0, 16);

        const content = new k8s.core.v1.ConfigMap(`${name}-content`, { metadata: meta(`${UI_NAME}-content`), data: files }, child);
        const conf = new k8s.core.v1.ConfigMap(`${name}-nginx`, { metadata: meta(`${UI_NAME}-nginx`), data: { "default.conf": nginxConf } }, child);

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
                                    image: normalizeImageRef(args.image),
                                    ports: [{ name: "http", containerPort: UI_PORT, protocol: "TCP" }],
                                    resources: { requests: k8sRequests(UI_REQUESTS), limits: { memory: "64Mi" } },
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
