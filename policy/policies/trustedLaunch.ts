import type { ResourceValidationPolicy } from "@pulumi/policy";
import { isComputeHost, securityProfile } from "../lib/compute";
import { asString, getPath } from "../lib/values";

export const trustedLaunch: ResourceValidationPolicy = {
    name: "trusted-launch",
    description:
        "Session hosts run as Trusted Launch VMs with Secure Boot and vTPM: boot-kit and rootkit protection and measured " +
        "boot for hosts many users sign in to. The image definition must be a V2 image that supports Trusted Launch.",
    enforcementLevel: "advisory",
    remediationSteps: "Set securityProfile.securityType = TrustedLaunch with uefiSettings.secureBootEnabled and vTpmEnabled = true.",
    validateResource: (args, reportViolation) => {
        if (!isComputeHost(args.type)) return;
        const profile = securityProfile(args.type, args.props);
        const securityType = asString(getPath(profile, "securityType"));
        if (securityType !== "TrustedLaunch" && securityType !== "ConfidentialVM") {
            reportViolation(`"${args.name}" does not set securityProfile.securityType to TrustedLaunch${securityType ? ` (it is "${securityType}")` : ""}.`);
            return;
        }
        const missing = (["secureBootEnabled", "vTpmEnabled"] as const).filter((k) => getPath(profile, "uefiSettings", k) !== true);
        if (missing.length > 0) {
            reportViolation(`"${args.name}" uses ${securityType} without ${missing.map((k) => `uefiSettings.${k}`).join(" and ")}.`);
        }
    },
};
