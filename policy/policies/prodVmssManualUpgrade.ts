import type { ResourceValidationPolicy } from "@pulumi/policy";
import { automaticOsUpgradeEnabled, upgradeMode } from "../lib/compute";
import { readConfig } from "../lib/config";
import { DEFAULT_PRODUCTION_STACKS, stackFromUrn, stackMatches, stackPatternsSchema } from "../lib/stacks";
import { VMSS, forType } from "../lib/types";

interface Config {
    productionStacks: string[];
}

const DEFAULTS: Config = { productionStacks: [...DEFAULT_PRODUCTION_STACKS] };

export const prodVmssManualUpgrade: ResourceValidationPolicy = {
    name: "prod-vmss-manual-upgrade",
    description:
        "Session-host scale sets in production stacks use upgradePolicy.mode = Manual. With Manual, a new image version " +
        "reaches production hosts only through the controlled rollout (drain -> reimage -> validate -> undrain, batch by " +
        "batch); Automatic cycles hosts under signed-in users and Rolling lets the platform pick the moment (seed: " +
        "'Manual: you trigger rollout, recommended for production; Automatic: riskier').",
    enforcementLevel: "mandatory",
    remediationSteps: "Set sessionHosts.upgradeMode to Manual in the production stack file (upgradePolicy.mode = \"Manual\").",
    configSchema: {
        properties: {
            productionStacks: stackPatternsSchema(DEFAULT_PRODUCTION_STACKS, "Stack names (glob patterns, * and ?) that are production."),
        },
    },
    validateResource: forType(VMSS, (args, reportViolation) => {
        const { productionStacks } = readConfig(args, DEFAULTS);
        if (!stackMatches(productionStacks, args.urn)) return;
        const stack = stackFromUrn(args.urn);
        const mode = upgradeMode(args.props);
        if (mode === undefined) {
            reportViolation(
                `Scale set "${args.name}" in production stack "${stack}" does not set upgradePolicy.mode; set it to "Manual" ` +
                    "explicitly rather than relying on an API default.",
            );
        } else if (mode !== "Manual") {
            reportViolation(`Scale set "${args.name}" in production stack "${stack}" uses upgradePolicy.mode "${mode}"; production must use "Manual".`);
        }
        if (automaticOsUpgradeEnabled(args.props)) {
            reportViolation(
                `Scale set "${args.name}" in production stack "${stack}" enables automaticOSUpgradePolicy.enableAutomaticOSUpgrade, ` +
                    "which reimages hosts without draining them; turn it off.",
            );
        }
    }),
};
