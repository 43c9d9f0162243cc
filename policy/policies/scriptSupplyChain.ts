import type { ResourceValidationPolicy } from "@pulumi/policy";
import { buildVmSteps, scriptUri, sha256Checksum, sourceUri } from "../lib/aib";
import { IMAGE_TEMPLATE, forType } from "../lib/types";

const SHA256 = /^[0-9a-fA-F]{64}$/;

const ABSOLUTE_URL = /^([a-z][a-z0-9+.-]*):\/\/[^\s/?#]+/i;

function checkDownload(uri: string, checksum: string | undefined, field: string): string[] {
    const problems: string[] = [];
    const scheme = ABSOLUTE_URL.exec(uri)?.[1]?.toLowerCase();
    if (scheme === undefined) problems.push(`${field} "${uri}" is not an absolute URL`);
    else if (scheme !== "https") problems.push(`${field} "${uri}" is not https`);
    if (checksum === undefined || checksum === "") problems.push(`${field} "${uri}" has no sha256Checksum`);
    else if (!SHA256.test(checksum)) problems.push(`sha256Checksum "${checksum}" for ${field} is not 64 hex characters`);
    return problems;
}

export const scriptSupplyChain: ResourceValidationPolicy = {
    name: "script-supply-chain",
    description:
        "Scripts and files an image build downloads (PowerShell/Shell scriptUri, File sourceUri, in customizers and in-VM " +
        "validators) come over https and carry a sha256Checksum, which Image Builder verifies before it runs or copies " +
        "them. Everything in the image runs on every session host; a script swapped at its URL would otherwise be baked " +
        "into the next version unnoticed (seed: script URIs 'must be accessible'; apps/packages 'scripted to support " +
        "automation').",
    enforcementLevel: "mandatory",
    remediationSteps: "Give every image.customizations.scriptUris entry an https uri and its sha256 (Get-FileHash -Algorithm SHA256).",
    validateResource: forType(IMAGE_TEMPLATE, (args, reportViolation) => {
        for (const step of buildVmSteps(args.props)) {
            let problems: string[] = [];
            if (step.type === "PowerShell" || step.type === "Shell") {
                const uri = scriptUri(step);
                if (uri !== undefined) problems = checkDownload(uri, sha256Checksum(step), "scriptUri");
            } else if (step.type === "File") {
                const uri = sourceUri(step);
                problems = checkDownload(uri ?? "", sha256Checksum(step), "sourceUri");
            }
            for (const problem of problems) reportViolation(`Image template "${args.name}" ${step.label}: ${problem}.`);
        }
    }),
};
