/**
 * What a rendered plan asks of Prometheus, collected generically from its objects so that
 * triggers, rules and panels added later are covered without touching the suite:
 * - every PromQL expression: ScaledObject `prometheus` triggers, PrometheusRule rules,
 *   Grafana dashboard targets and template-variable queries (ConfigMaps with the sidecar label);
 * - the scrape jobs its ServiceMonitors ask the Prometheus Operator for, as static scrape
 *   configs with the target labels the operator attaches.
 */
import { GRAFANA_DASHBOARD_LABEL } from "../../components/addons/monitoring";
import { ResourceRecord } from "../../scripts/engine/mocks";

const inputs = (r: ResourceRecord) => r.inputs as any;
const ofKind = (resources: ResourceRecord[], kind: string) => resources.filter((r) => inputs(r)?.kind === kind);

export interface PlanTrigger {
    /** ScaledObject namespace/name. */
    readonly scaledObject: string;
    /** The Deployment it scales. */
    readonly target: string;
    readonly name: string;
    readonly query: string;
    readonly threshold: number;
    readonly activationThreshold: number;
}

export interface PlanRule {
    readonly group: string;
    readonly record?: string;
    readonly alert?: string;
    readonly expr: string;
    readonly labels: Record<string, string>;
}

export interface PlanPanelQuery {
    readonly dashboard: string;
    readonly panel: string;
    /** The panel's unit (fieldConfig.defaults.unit), e.g. "currencyUSD". */
    readonly unit?: string;
    /** As written in the dashboard (with Grafana variables). */
    readonly expr: string;
}

export function triggers(resources: ResourceRecord[]): PlanTrigger[] {
    return ofKind(resources, "ScaledObject").flatMap((so) => {
        const { metadata, spec } = inputs(so);
        return (spec.triggers ?? [])
            .filter((t: any) => t.type === "prometheus")
            .map((t: any) => ({
                scaledObject: `${metadata.namespace}/${metadata.name}`,
                target: spec.scaleTargetRef.name,
                name: t.name ?? "(unnamed)",
                query: t.metadata.query,
                threshold: Number(t.metadata.threshold),
                activationThreshold: Number(t.metadata.activationThreshold ?? 0),
            }));
    });
}

/** The PrometheusRule objects' `spec` (rule groups), by namespace/name. */
export function ruleSpecs(resources: ResourceRecord[]): Array<{ name: string; groups: any[] }> {
    return ofKind(resources, "PrometheusRule").map((r) => ({
        name: `${inputs(r).metadata.namespace}/${inputs(r).metadata.name}`,
        groups: inputs(r).spec.groups,
    }));
}

export function rules(resources: ResourceRecord[]): PlanRule[] {
    return ruleSpecs(resources).flatMap(({ groups }) =>
        groups.flatMap((g: any) =>
            g.rules.map((r: any) => ({ group: g.name, record: r.record, alert: r.alert, expr: String(r.expr), labels: r.labels ?? {} })),
        ),
    );
}

function panelsOf(dashboard: any): any[] {
    return (dashboard.panels ?? []).flatMap((p: any) => [p, ...panelsOf(p)]); // rows nest panels
}

export function panelQueries(resources: ResourceRecord[]): PlanPanelQuery[] {
    return ofKind(resources, "ConfigMap")
        .filter((cm) => inputs(cm).metadata.labels?.[GRAFANA_DASHBOARD_LABEL] === "1")
        .flatMap((cm) =>
            Object.entries(inputs(cm).data as Record<string, string>).flatMap(([file, json]) => {
                const d = JSON.parse(json);
                const targets = panelsOf(d).flatMap((p: any) =>
                    (p.targets ?? [])
                        .filter((t: any) => typeof t.expr === "string")
                        .map((t: any) => ({ dashboard: file, panel: p.title, unit: p.fieldConfig?.defaults?.unit, expr: t.expr })),
                );
                const vars = (d.templating?.list ?? [])
                    .filter((v: any) => v.type === "query")
                    .map((v: any) => ({ dashboard: file, panel: `variable $${v.name}`, expr: typeof v.query === "string" ? v.query : v.query?.query }))
                    .filter((v: any) => typeof v.expr === "string");
                return [...targets, ...vars];
            }),
        );
}

/**
 * A Grafana query as Prometheus would receive it: `$__rate_interval` and friends become a
 * window, a multi-value variable the regex of its values (as Grafana formats it for `=~`),
 * `label_values(metric, label)` the series query Grafana runs for it.
 */
export function grafanaToPromQL(expr: string, values: Record<string, string[]>): string {
    const lv = /^label_values\((.+),\s*(\w+)\)$/.exec(expr.trim());
    if (lv) return `group by (${lv[2]}) (${lv[1]})`;
    return expr
        .replace(/\$\{?__(rate_interval|interval|range)\}?/g, "1m")
        .replace(/\$\{?(\w+)\}?/g, (_m, name: string) => (values[name]?.length ? `(${values[name].join("|")})` : ".*"));
}

export interface PlanPod {
    readonly name: string;
    readonly namespace: string;
    readonly labels: Record<string, string>;
    readonly container: string;
    /** host:port the pod's metrics port answers on (a fake or the real gateway). */
    readonly address: string;
}

export interface ScrapeJob {
    readonly jobName: string;
    /** Prometheus scrape_config (file_sd file filled by targetsFor). */
    readonly config: Record<string, unknown>;
    readonly file: string;
    /** The target groups for a set of pods, with the labels the operator attaches. */
    targetsFor(pods: PlanPod[]): Array<{ targets: string[]; labels: Record<string, string> }>;
}

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
    selector !== undefined && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** ServiceMonitor relabelings (camelCase) as Prometheus relabel_configs. */
function relabelConfig(r: Record<string, unknown>): Record<string, unknown> {
    const keys: Record<string, string> = {
        sourceLabels: "source_labels",
        targetLabel: "target_label",
        separator: "separator",
        regex: "regex",
        modulus: "modulus",
        replacement: "replacement",
        action: "action",
    };
    return Object.fromEntries(
        Object.entries(r).map(([k, v]) => {
            if (!(k in keys)) throw new Error(`relabeling field ${k} has no translation in the suite: add it`);
            return [keys[k], k === "action" ? String(v).toLowerCase() : v];
        }),
    );
}

export interface MonitorSpec {
    readonly namespace: string;
    readonly name: string;
    readonly spec: any;
}

/** The emitted ServiceMonitors, plus monitors a chart creates (passed in: charts render nothing under the mocks). */
export function serviceMonitors(resources: ResourceRecord[]): MonitorSpec[] {
    return ofKind(resources, "ServiceMonitor").map((r) => ({ namespace: inputs(r).metadata.namespace, name: inputs(r).metadata.name, spec: inputs(r).spec }));
}

/**
 * Scrape jobs as the Prometheus Operator generates them for a ServiceMonitor endpoint
 * (prometheus-operator v0.93.0 pkg/prometheus/promcfg.go, golden files in
 * pkg/prometheus/testdata): job `serviceMonitor/<ns>/<name>/<i>`, target labels namespace,
 * service, pod, container, job (the Service name) and endpoint (the port name), then the
 * endpoint's own relabelings; honorLabels as honor_labels.
 */
export function scrapeJobs(
    monitors: MonitorSpec[],
    services: Array<{ namespace: string; name: string; labels: Record<string, string>; selector: Record<string, string>; ports: string[] }>,
    sdDir: string,
    interval: string,
): ScrapeJob[] {
    return monitors.flatMap((m) =>
        (m.spec.endpoints as any[]).map((ep, i) => {
            const jobName = `serviceMonitor/${m.namespace}/${m.name}/${i}`;
            const file = `${sdDir}/${m.namespace}-${m.name}-${i}.json`;
            const namespaces: string[] = m.spec.namespaceSelector?.matchNames ?? [m.namespace];
            // The operator keeps Endpoints whose port has the endpoint's port name.
            const selected = services.filter(
                (s) => namespaces.includes(s.namespace) && matches(m.spec.selector.matchLabels, s.labels) && s.ports.includes(String(ep.port)),
            );
            return {
                jobName,
                file,
                config: {
                    job_name: jobName,
                    honor_labels: ep.honorLabels ?? false,
                    metrics_path: ep.path ?? "/metrics",
                    scrape_interval: interval,
                    scrape_timeout: interval,
                    file_sd_configs: [{ files: [file], refresh_interval: interval }],
                    relabel_configs: (ep.relabelings ?? []).map(relabelConfig),
                },
                targetsFor: (pods: PlanPod[]) =>
                    selected.flatMap((svc) =>
                        pods
                            .filter((p) => p.namespace === svc.namespace && matches(svc.selector, p.labels))
                            .map((p) => ({
                                targets: [p.address],
                                labels: {
                                    namespace: p.namespace,
                                    service: svc.name,
                                    pod: p.name,
                                    container: p.container,
                                    job: svc.name,
                                    endpoint: String(ep.port),
                                },
                            })),
                    ),
            };
        }),
    );
}

export function services(resources: ResourceRecord[]) {
    return ofKind(resources, "Service").map((r) => ({
        namespace: inputs(r).metadata.namespace,
        name: inputs(r).metadata.name,
        labels: inputs(r).metadata.labels ?? {},
        selector: inputs(r).spec.selector ?? {},
        ports: ((inputs(r).spec.ports ?? []) as any[]).map((p) => String(p.name)),
    }));
}

export function deployments(resources: ResourceRecord[]) {
    return ofKind(resources, "Deployment").map((r) => ({
        namespace: inputs(r).metadata.namespace as string,
        name: inputs(r).metadata.name as string,
        podLabels: (inputs(r).spec.template.metadata.labels ?? {}) as Record<string, string>,
        container: inputs(r).spec.template.spec.containers[0].name as string,
    }));
}
