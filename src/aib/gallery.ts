// Image definition settings that depend on the Hyper-V generation.
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
