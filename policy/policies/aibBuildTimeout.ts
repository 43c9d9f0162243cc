import type { ResourceValidationPolicy } from "@pulumi/policy";
import { readConfig } from "../lib/config";
import { IMAGE_TEMPLATE, forType } from "../lib/types";
import { asNumber } from "../lib/values";

interface Config {
    minMinutes: number;
    maxMinutes: number;
}

const DEFAULTS: Config = { minMinutes: 60, maxMinutes: 480 };
/** What Image Builder uses when buildTimeoutInMinutes is left out or 0. */
const AIB_DEFAULT_MINUTES = 240;

export const aibBuildTimeout: ResourceValidationPolicy = {
    name: "aib-build-timeout",
    description:
        "Image builds get a timeout within sane bounds (default 60-480 minutes). Windows Update alone adds 15-30 minutes " +
        "and a full build takes 30-90, so a short timeout fails good builds; a very long one keeps a stuck build VM " +
        "running and billing for hours (seed: default 240, 'increase to 360 for Windows Update timeouts').",
    enforcementLevel: "advisory",
    remediationSteps: "Set image.build.timeoutMinutes between the bounds (or change the bounds in the stack's policy config).",
    configSchema: {
        properties: {
            minMinutes: { type: "integer", minimum: 1, maximum: 960, default: DEFAULTS.minMinutes, description: "Shortest acceptable build timeout." },
            maxMinutes: { type: "integer", minimum: 1, maximum: 960, default: DEFAULTS.maxMinutes, description: "Longest acceptable build timeout." },
        },
    },
    validateResource: forType(IMAGE_TEMPLATE, (args, reportViolation) => {
        const { minMinutes, maxMinutes } = readConfig(args, DEFAULTS);
        const given = asNumber(args.props.buildTimeoutInMinutes);
        const minutes = given === undefined || given === 0 ? AIB_DEFAULT_MINUTES : given;
        const shown = given === undefined || given === 0 ? `${minutes} minutes (Image Builder's default)` : `${minutes} minutes`;
        if (minutes < minMinutes) reportViolation(`Image template "${args.name}" times out after ${shown}, below ${minMinutes}.`);
        if (minutes > maxMinutes) reportViolation(`Image template "${args.name}" times out after ${shown}, above ${maxMinutes}.`);
    }),
};
