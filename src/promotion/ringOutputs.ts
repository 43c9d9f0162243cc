// The promotion contract: what every ring exports and what the next ring (and the build ring's
// retention) reads through a StackReference. Both sides compile against these types, so an output
// renamed on one side is a type error on the other.
import type * as pulumi from "@pulumi/pulumi";
import type { SignOffs } from "../config/promotion";
import type { UpgradeMode } from "../config/types";
import type { ReleaseNotes } from "../lifecycle/releaseNotes";

/** What a ring exports about one image it runs. */
export interface ImageOutputs {
    /** MAJOR.MINOR.PATCH this ring runs. */
    imageVersion: string;
    /** `.../galleries/{g}/images/{def}/versions/{X.Y.Z}`. */
    imageVersionId: string;
    /** `.../galleries/{g}/images/{def}`. */
    imageDefinitionId: string;
    /** `{imageDefinitionId}/versions/latest`. */
    latestImageReference: string;
    /** Versions that exist (Succeeded) in the image definition, ascending. */
    publishedImageVersions: string[];
    /** The version every pool of this ring running the image validated; absent until all of them passed. */
    validatedImageVersion?: string;
    /** When the last of those pools' health gates passed (ISO 8601): the start of the soak (src/promotion/soak.ts). */
    validatedAt?: string;
}

/** What a ring exports about one host pool. */
export interface HostPoolOutputs {
    /** The image the pool runs: an image name, or `marketplace:<publisher>:<offer>:<sku>:<version>`. */
    image: string;
    /** The version the pool runs (the marketplace version for a marketplace pool). */
    imageVersion: string;
    hostPoolId: string;
    vmssId: string;
    upgradeMode: UpgradeMode;
    /** The version whose health gate passed on this pool; absent until it first passes. */
    validatedImageVersion?: string;
}

/** The build ring's handles on one image's build (seed outputs). */
export interface BuildOutputs {
    templateName: string;
    /** Starts the template's build by hand. */
    buildCommandCli: string;
    buildCommandPowershell: string;
    /** The marketplace version Image Builder actually built from (the template source's exactVersion). */
    baseImageExactVersion?: string;
    /** What is in the version: base image, updates, applications, steps, and the change from the previous one. */
    releaseNotes: ReleaseNotes;
}

/** Every ring's outputs. The single-image top-level outputs of earlier releases are `LegacyRingOutputs`. */
export interface RingOutputs {
    galleryId: string;
    galleryName: string;
    images: Record<string, ImageOutputs>;
    hostPools: Record<string, HostPoolOutputs>;
    /** Build ring: image name -> its build. */
    builds?: Record<string, BuildOutputs>;
    /** Fully-qualified upstream stack of a promoted ring. */
    promotedFrom?: string;
    /** The ring's `avd-image-rings:signOffs`: who approved which version here, for the next ring's promotion. */
    signOffs: SignOffs;
}

/**
 * Today's top-level outputs of a ring with one image (and, for the pool fields, one pool): kept
 * unchanged, so what reads them (a downstream ring of an older release, dashboards, scripts) keeps working.
 */
export interface LegacyRingOutputs {
    imageVersion: string;
    imageVersionId: string;
    galleryImageVersionId: string;
    latestImageReference: string;
    galleryId: string;
    galleryName: string;
    imageDefinitionId: string;
    publishedImageVersions: string[];
    validatedImageVersion?: string;
    hostPoolId?: string;
    vmssId?: string;
    upgradeMode?: UpgradeMode;
    templateName?: string;
    buildCommandCli?: string;
    buildCommandPowershell?: string;
}

/** The exporting side: each value may still be an Output when the program returns it. */
export type Exported<T> = { [K in keyof T]: pulumi.Input<T[K]> };

/** The ring's outputs as the program returns them: every map entry's fields may be Outputs. */
export type ExportedRing<T> = {
    [K in keyof T]: NonNullable<T[K]> extends Record<string, infer V> ? (V extends object ? Record<string, Exported<V>> : pulumi.Input<T[K]>) : pulumi.Input<T[K]>;
};

/** The image name of a marketplace pool in `HostPoolOutputs.image`. */
export function marketplacePoolImage(urn: string): string {
    return `marketplace:${urn}`;
}
