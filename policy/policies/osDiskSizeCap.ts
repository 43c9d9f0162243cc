import type { ResourceValidationPolicy } from "@pulumi/policy";
import { isComputeHost, osDiskSizeGb } from "../lib/compute";
import { readConfig } from "../lib/config";
import { IMAGE_TEMPLATE, VMSS } from "../lib/types";
import { asNumber, getPath } from "../lib/values";

interface Config {
    maxOsDiskSizeGb: number;
}

const DEFAULTS: Config = { maxOsDiskSizeGb: 128 };

export const osDiskSizeCap: ResourceValidationPolicy = {
    name: "os-disk-size-cap",
    description:
        "OS disks of image builds and session hosts stay at or under the cap (default 128 GB). A bigger OS disk is image " +
        "bloat: slower builds, replication and scale-out, and every host pays for the larger disk (seed: 'keep image disk " +
        "size under 128 GB unless required'; profiles and app data belong in FSLogix, not on the OS disk).",
    enforcementLevel: "mandatory",
    remediationSteps: "Lower image.build.osDiskSizeGb / sessionHosts.osDiskSizeGb, or raise maxOsDiskSizeGb in the stack's policy config with a reason.",
    configSchema: {
        properties: {
            maxOsDiskSizeGb: { type: "integer", minimum: 30, maximum: 4095, default: DEFAULTS.maxOsDiskSizeGb, description: "Largest allowed OS disk in GB." },
        },
    },
    validateResource: (args, reportViolation) => {
        let size: number | undefined;
        let field: string;
        if (args.type === IMAGE_TEMPLATE) {
            size = asNumber(getPath(args.props, "vmProfile", "osDiskSizeGB"));
            field = "vmProfile.osDiskSizeGB";
        } else if (isComputeHost(args.type)) {
            size = osDiskSizeGb(args.type, args.props);
            field = args.type === VMSS ? "virtualMachineProfile.storageProfile.osDisk.diskSizeGB" : "storageProfile.osDisk.diskSizeGB";
        } else {
            return;
        }
        // Left out, Azure sizes the disk from the image, which the build itself is capped at.
        if (size === undefined) return;
        const { maxOsDiskSizeGb } = readConfig(args, DEFAULTS);
        if (size > maxOsDiskSizeGb) {
            reportViolation(`"${args.name}" sets ${field} = ${size} GB, above the ${maxOsDiskSizeGb} GB cap.`);
        }
    },
};
