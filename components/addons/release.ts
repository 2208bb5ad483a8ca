/**
 * One pinned Helm chart as a Pulumi helm.v3.Release: computed values first, the user's
 * overrides deep-merged last. Releases wait for their resources (no skipAwait) so that
 * dependents (CRD users, webhooks) start after the chart is really up.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { HelmValues, deepMerge } from "./values";
import { ChartRef } from "./versions";

export interface ChartReleaseArgs {
    readonly chart: ChartRef;
    readonly namespace: pulumi.Input<string>;
    /** Release name (also the prefix of the chart's object names). */
    readonly releaseName: string;
    readonly values: HelmValues;
    /** The user's overrides from config, merged last. */
    readonly overrides?: Record<string, unknown>;
    /** Seconds Helm waits for the release to be ready. @default 600 */
    readonly timeoutSeconds?: number;
}

export function chartRelease(name: string, args: ChartReleaseArgs, opts: pulumi.CustomResourceOptions): k8s.helm.v3.Release {
    return new k8s.helm.v3.Release(
        name,
        {
            name: args.releaseName,
            chart: args.chart.chart,
            version: args.chart.version,
            repositoryOpts: { repo: args.chart.repo },
            namespace: args.namespace,
            values: deepMerge(args.values, args.overrides ?? {}),
            atomic: true, // a failed upgrade rolls back instead of leaving a half-applied chart
            cleanupOnFail: true,
            timeout: args.timeoutSeconds ?? 600,
            maxHistory: 5,
        },
        opts,
    );
}
