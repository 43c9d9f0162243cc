// Image definition settings that depend on the Hyper-V generation, and the ids of a definition's versions.
import * as pulumi from "@pulumi/pulumi";
import { galleryVersionProblem } from "../config/parse";
import type { HyperVGeneration } from "../config/types";

export interface GalleryImageFeature {
    name: string;
    value: string;
}

/**
 * Trusted Launch needs a generation 2 image: a V2 definition declares it so session hosts can
 * boot with Secure Boot and vTPM. Azure refuses the feature on a V1 definition.
 */
export function galleryImageFeatures(hyperVGeneration: HyperVGeneration): GalleryImageFeature[] {
    return hyperVGeneration === "V2" ? [{ name: "SecurityType", value: "TrustedLaunchSupported" }] : [];
}

/** `{imageDefinitionId}/versions/latest`: follows the newest version not excluded from latest. */
export function latestImageReference(imageDefinitionId: pulumi.Input<string>): pulumi.Output<string> {
    return pulumi.interpolate`${imageDefinitionId}/versions/latest`;
}

/** `{imageDefinitionId}/versions/{version}`; the version must be MAJOR.MINOR.PATCH. */
export function imageVersionId(imageDefinitionId: pulumi.Input<string>, version: string): pulumi.Output<string> {
    const problem = galleryVersionProblem(version);
    if (problem) throw new Error(`image version ${problem}`);
    return pulumi.interpolate`${imageDefinitionId}/versions/${version}`;
}
