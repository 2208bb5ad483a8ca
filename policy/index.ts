/** The gpuserve policy pack: `pulumi preview --policy-pack policy`. Rules in rules.ts. */
import { PolicyPack } from "@pulumi/policy";
import { POLICIES } from "./rules";

new PolicyPack("gpuserve-guardrails", { policies: POLICIES });
