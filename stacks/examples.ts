/**
 * Placeholder values from the committed stack files (AWS's documentation account
 * 123456789012, example.org, documentation CIDRs, a made-up certificate ARN) are fine for the
 * offline plan but must never reach AWS: a real `pulumi up` with one fails before any
 * resource is created, naming the key; a real preview warns.
 */
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { ConfigError, ConfigIssue, configKey, showValue } from "./errors";
import { PROJECT } from "./schema";

/** The account ID AWS uses in its documentation examples. */
const EXAMPLE_ACCOUNT = "123456789012";
/** The certificate ARN committed in Pulumi.prod.yaml: a made-up ID in the example account. */
const EXAMPLE_CERTIFICATE_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f";
/** Domains reserved for documentation (RFC 2606 section 3 and its TLDs in section 2). */
const EXAMPLE_DOMAIN = /(^|\.)(example\.(com|net|org)|[a-z0-9-]+\.(example|test|invalid|localhost))$/i;
/** Address blocks reserved for documentation (RFC 5737): no office or runner lives there. */
const DOCUMENTATION_CIDR = /^(192\.0\.2|198\.51\.100|203\.0\.113)\.\d{1,3}\/(2[4-9]|3[0-2])$/;

function whatIsWrong(value: string): { message: string; fix: string } | undefined {
    if (value === EXAMPLE_CERTIFICATE_ARN)
        return {
            message: "is the example certificate ARN from the committed stack file",
            fix: "request or import your certificate in ACM and set its ARN (aws acm list-certificates)",
        };
    if (new RegExp(`(^|[^0-9])${EXAMPLE_ACCOUNT}([^0-9]|$)`).test(value))
        return {
            message: `uses AWS's documentation account ${EXAMPLE_ACCOUNT}`,
            fix: "use your account's ARN (aws sts get-caller-identity shows the account)",
        };
    if (EXAMPLE_DOMAIN.test(value))
        return { message: "is a domain reserved for documentation (RFC 2606)", fix: "set the domain you own and have an ACM certificate for" };
    if (DOCUMENTATION_CIDR.test(value))
        return {
            message: "is an address block reserved for documentation (RFC 5737)",
            fix: "list the CIDRs of your office VPN or of the runner that deploys (see docs/deploy.md)",
        };
    return undefined;
}

/** Every example value anywhere in the raw stack config, with its key. */
export function exampleValueIssues(raw: Record<string, unknown>): ConfigIssue[] {
    const issues: ConfigIssue[] = [];
    const walk = (value: unknown, path: PropertyKey[]) => {
        if (typeof value === "string") {
            const bad = whatIsWrong(value);
            if (bad) issues.push({ key: configKey(PROJECT, path), message: `${showValue(value)} ${bad.message}`, fix: bad.fix });
        } else if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...path, i]));
        else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
    };
    for (const [k, v] of Object.entries(raw)) walk(v, [k]);
    return issues;
}

export type EngineMode = "mock" | "preview" | "update";

/** How the program runs: under the offline mock engine (plan, tests), or a real preview/update. */
export function engineMode(): EngineMode {
    if (pulumi.runtime.getMonitor() instanceof MockMonitor) return "mock";
    return pulumi.runtime.isDryRun() ? "preview" : "update";
}

/** Fails a real update on example values; a real preview only warns, the offline plan says nothing. */
export function checkExampleValues(
    raw: Record<string, unknown>,
    mode: EngineMode = engineMode(),
    warn: (message: string) => void = (m) => pulumi.log.warn(m),
): void {
    if (mode === "mock") return;
    const issues = exampleValueIssues(raw);
    if (issues.length === 0) return;
    if (mode === "update") throw new ConfigError(issues);
    for (const issue of issues) warn(`${issue.key}: ${issue.message}; \`pulumi up\` will refuse it. Fix: ${issue.fix}`);
}
