// Walks an Azure Image Builder template (azure-native v3 `VirtualMachineImageTemplate` inputs):
// customizers (PowerShell inline/scriptUri, File, Shell, WindowsRestart, WindowsUpdate), in-VM
// validators and distribution targets. Field reads are left to the caller, so a policy only
// touches the fields it checks.
import { asArray, asBoolean, asNumber, asRecord, asString, getPath, type Props } from "./values";

export interface AibStep {
    section: "customize" | "validate.inVMValidations";
    index: number;
    /** AIB discriminator: PowerShell, Shell, File, WindowsRestart, WindowsUpdate. */
    type: string;
    /** `customize[2] "install-apps" (PowerShell)`, for messages. */
    label: string;
    raw: Props;
}

function stepsOf(section: AibStep["section"], list: unknown): AibStep[] {
    return asArray(list).flatMap((item, index) => {
        const raw = asRecord(item);
        if (!raw) return [];
        const type = asString(raw.type) ?? "unknown";
        const name = asString(raw.name);
        return [{ section, index, type, raw, label: `${section}[${index}]${name ? ` "${name}"` : ""} (${type})` }];
    });
}

export function customizers(template: Props): AibStep[] {
    return stepsOf("customize", template.customize);
}

export function validators(template: Props): AibStep[] {
    return stepsOf("validate.inVMValidations", getPath(template, "validate", "inVMValidations"));
}

/** Customizers and in-VM validators: both run inside the build VM before it is captured. */
export function buildVmSteps(template: Props): AibStep[] {
    return [...customizers(template), ...validators(template)];
}

export function inlineLines(step: AibStep): string[] {
    return asArray(step.raw.inline).filter((l): l is string => typeof l === "string");
}

export function scriptUri(step: AibStep): string | undefined {
    return asString(step.raw.scriptUri);
}

export function sourceUri(step: AibStep): string | undefined {
    return asString(step.raw.sourceUri);
}

export function destination(step: AibStep): string | undefined {
    return asString(step.raw.destination);
}

export function sha256Checksum(step: AibStep): string | undefined {
    return asString(step.raw.sha256Checksum);
}

/** Runs commands on the build VM (as opposed to File, restart and update steps). */
export function isScriptStep(step: AibStep): boolean {
    return step.type === "PowerShell" || step.type === "Shell";
}

export interface TargetRegion {
    name: string;
    replicaCount: number;
}

export interface GalleryDistribution {
    index: number;
    galleryImageId: string;
    excludeFromLatest: boolean;
    targetRegions: TargetRegion[];
}

/** `distribute[]` entries of type SharedImage (publishing to an Azure Compute Gallery). */
export function galleryDistributions(template: Props): GalleryDistribution[] {
    return asArray(template.distribute).flatMap((item, index) => {
        const d = asRecord(item);
        if (!d || asString(d.type) !== "SharedImage") return [];
        const galleryImageId = asString(d.galleryImageId) ?? "";
        const explicit = asArray(d.targetRegions).flatMap((r) => {
            const name = asString(getPath(r, "name"));
            // AIB replicates once per region unless told otherwise.
            return name ? [{ name, replicaCount: asNumber(getPath(r, "replicaCount")) ?? 1 }] : [];
        });
        const legacy = asArray(d.replicationRegions)
            .filter((r): r is string => typeof r === "string")
            .map((name) => ({ name, replicaCount: 1 }));
        return [
            {
                index,
                galleryImageId,
                excludeFromLatest: asBoolean(d.excludeFromLatest) ?? false,
                targetRegions: explicit.length > 0 ? explicit : legacy,
            },
        ];
    });
}
