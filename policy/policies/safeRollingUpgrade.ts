import type { ResourceValidationPolicy } from "@pulumi/policy";
import { ROLLING_DEFAULTS, rollingUpgradePolicy, upgradeMode } from "../lib/compute";
import { readConfig } from "../lib/config";
import { parseDurationSeconds } from "../lib/duration";
import { DEFAULT_PRODUCTION_STACKS, stackFromUrn, stackMatches, stackPatternsSchema } from "../lib/stacks";
import { VMSS, forType } from "../lib/types";
import { asNumber, asString } from "../lib/values";

interface Config {
    productionStacks: string[];
    prodMaxPercent: number;
    maxPercent: number;
    prodMinPauseTimeBetweenBatches: string;
    minPauseTimeBetweenBatches: string;
}

const DEFAULTS: Config = {
    productionStacks: [...DEFAULT_PRODUCTION_STACKS],
    prodMaxPercent: 20,
    maxPercent: 50,
    prodMinPauseTimeBetweenBatches: "PT10M",
    minPauseTimeBetweenBatches: "PT2M",
};

const PERCENT_FIELDS = ["maxBatchInstancePercent", "maxUnhealthyInstancePercent", "maxUnhealthyUpgradedInstancePercent"] as const;
const ISO_DURATION = "^P(?:\\d+D)?(?:T(?:\\d+H)?(?:\\d+M)?(?:\\d+(?:\\.\\d+)?S)?)?$";

export const safeRollingUpgrade: ResourceValidationPolicy = {
    name: "safe-rolling-upgrade",
    description:
        "Rolling and Automatic scale sets carry a rollingUpgradePolicy whose batch and unhealthy-instance percentages stay " +
        "within limits (default 20% in production stacks, 50% elsewhere) and that pauses between batches for at least a " +
        "minimum (default PT10M in production, PT2M elsewhere), so a bad image stops after one small batch and health " +
        "checks get time to run (seed: 'you control batch size, pause duration, health probe'). Production scale sets in " +
        "Manual mode are held to the same limits because the rollout tool follows the same fields. A field left out " +
        "counts as Azure's default (20%, pause PT0S).",
    enforcementLevel: "mandatory",
    remediationSteps: "Set sessionHosts.rollingUpgrade (maxBatchInstancePercent, maxUnhealthy*Percent, pauseTimeBetweenBatches) within the ring's limits.",
    configSchema: {
        properties: {
            productionStacks: stackPatternsSchema(DEFAULT_PRODUCTION_STACKS, "Stack names (glob patterns) held to the production limits."),
            prodMaxPercent: { type: "integer", minimum: 1, maximum: 100, default: DEFAULTS.prodMaxPercent, description: "Largest batch/unhealthy percentage in production." },
            maxPercent: { type: "integer", minimum: 1, maximum: 100, default: DEFAULTS.maxPercent, description: "Largest batch/unhealthy percentage elsewhere." },
            prodMinPauseTimeBetweenBatches: {
                type: "string",
                pattern: ISO_DURATION,
                default: DEFAULTS.prodMinPauseTimeBetweenBatches,
                description: "Shortest pause between batches in production (ISO 8601).",
            },
            minPauseTimeBetweenBatches: {
                type: "string",
                pattern: ISO_DURATION,
                default: DEFAULTS.minPauseTimeBetweenBatches,
                description: "Shortest pause between batches elsewhere (ISO 8601).",
            },
        },
    },
    validateResource: forType(VMSS, (args, reportViolation) => {
        const cfg = readConfig(args, DEFAULTS);
        const production = stackMatches(cfg.productionStacks, args.urn);
        const mode = upgradeMode(args.props) ?? "Manual";
        if (mode === "Manual" && !production) return;
        const scope = `${production ? "production " : ""}stack "${stackFromUrn(args.urn)}"`;
        const policy = rollingUpgradePolicy(args.props);
        if (!policy) {
            reportViolation(
                `Scale set "${args.name}" (${mode} mode, ${scope}) has no upgradePolicy.rollingUpgradePolicy; ` +
                    `set batch size, unhealthy limits and pause explicitly.`,
            );
            return;
        }
        const maxPercent = production ? cfg.prodMaxPercent : cfg.maxPercent;
        for (const field of PERCENT_FIELDS) {
            const given = asNumber(policy[field]);
            const value = given ?? ROLLING_DEFAULTS[field];
            if (value > maxPercent) {
                reportViolation(
                    `Scale set "${args.name}" (${scope}): rollingUpgradePolicy.${field} is ${value}%${given === undefined ? " (Azure default)" : ""}, ` +
                        `above the ${maxPercent}% limit.`,
                );
            }
        }
        const minText = production ? cfg.prodMinPauseTimeBetweenBatches : cfg.minPauseTimeBetweenBatches;
        const minSeconds = parseDurationSeconds(minText) ?? 0;
        const pauseText = asString(policy.pauseTimeBetweenBatches);
        const pause = parseDurationSeconds(pauseText ?? ROLLING_DEFAULTS.pauseTimeBetweenBatches);
        if (pause === undefined) {
            reportViolation(`Scale set "${args.name}" (${scope}): rollingUpgradePolicy.pauseTimeBetweenBatches "${pauseText}" is not an ISO 8601 duration (e.g. PT10M).`);
        } else if (pause < minSeconds) {
            reportViolation(
                `Scale set "${args.name}" (${scope}): rollingUpgradePolicy.pauseTimeBetweenBatches is ` +
                    `${pauseText ?? "not set (Azure default PT0S)"}, shorter than the minimum ${minText}.`,
            );
        }
    }),
};
