// In-VM validation: PowerShell checks Image Builder runs on the customized VM before it publishes.
// A failing check fails the build and, with continueDistributeOnFailure false, nothing is published.
// Defence in depth beside the policy pack, which checks the same rules on the resources.
import { AVD_AGENT, MAX_IMAGE_OS_DISK_GB } from "./guardrails";
import { gpuSizeFamily, type GpuVendor } from "../sessionHosts/gpu";
import { psArray, psQuote, readAibScript } from "./powershell";

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
    gpuDriver: "validate-gpu-driver",
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

export function gpuDriverScript(vendor: GpuVendor): string[] {
    return [`$GpuVendor = ${psQuote(vendor)}`, ...readAibScript("Test-GpuDriver.ps1")];
}

/**
 * The in-VM validators. An image built on a GPU size (`buildVmSize`) is built there to bake the
 * GPU's driver in, so it must have that driver working before it is published.
 */
export function buildValidation(buildVmSize: string): ValidateSection {
    const gpu = gpuSizeFamily(buildVmSize);
    return {
        continueDistributeOnFailure: false,
        sourceValidationOnly: false,
        inVMValidations: [
            { type: "PowerShell", name: VALIDATOR_NAMES.noAvdAgent, inline: noAvdAgentScript(), runElevated: true, runAsSystem: true },
            { type: "PowerShell", name: VALIDATOR_NAMES.osDiskSize, inline: osDiskSizeScript(), runElevated: true, runAsSystem: true },
            ...(gpu ? [{ type: "PowerShell" as const, name: VALIDATOR_NAMES.gpuDriver, inline: gpuDriverScript(gpu.vendor), runElevated: true as const, runAsSystem: true as const }] : []),
        ],
    };
}
