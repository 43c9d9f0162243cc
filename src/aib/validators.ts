// In-VM validation: PowerShell checks Image Builder runs on the customized VM before it publishes.
// A failing check fails the build and, with continueDistributeOnFailure false, nothing is published.
// Defence in depth beside the policy pack, which checks the same rules on the resources.
import { AVD_AGENT, MAX_IMAGE_OS_DISK_GB } from "./guardrails";
import { psArray, readAibScript } from "./powershell";

export interface PowerShellValidator {
    type: "PowerShell";
    name: string;
    inline: string[];
    runElevated: true;
    runAsSystem: true;
}

export interface ValidateSection {
    continueDistributeOnFailure: false;
    sourceValidationOnly: false;
    inVMValidations: PowerShellValidator[];
}

export const VALIDATOR_NAMES = {
    noAvdAgent: "validate-no-avd-agent",
    osDiskSize: "validate-os-disk-size",
} as const;

export function noAvdAgentScript(): string[] {
    return [
        `$AvdAgentServices = ${psArray(AVD_AGENT.services)}`,
        `$AvdAgentRegistryKeys = ${psArray(AVD_AGENT.registryKeys)}`,
        `$AvdAgentProductNames = ${psArray(AVD_AGENT.productNames)}`,
        `$AvdAgentInstallerPatterns = ${psArray(AVD_AGENT.installerPatterns)}`,
        ...readAibScript("Test-NoAvdAgent.ps1"),
    ];
}

export function osDiskSizeScript(): string[] {
    return [`$MaxOsDiskSizeGb = ${MAX_IMAGE_OS_DISK_GB}`, ...readAibScript("Test-OsDiskSize.ps1")];
}

export function buildValidation(): ValidateSection {
    return {
        continueDistributeOnFailure: false,
        sourceValidationOnly: false,
        inVMValidations: [
            { type: "PowerShell", name: VALIDATOR_NAMES.noAvdAgent, inline: noAvdAgentScript(), runElevated: true, runAsSystem: true },
            { type: "PowerShell", name: VALIDATOR_NAMES.osDiskSize, inline: osDiskSizeScript(), runElevated: true, runAsSystem: true },
        ],
    };
}
