// The template's `distribute` target: one Azure Compute Gallery version, replicated to the
// configured regions, tagged with what it contains.
import type { DistributionConfig, ImageConfig, StorageAccountType } from "../config/types";

export interface TargetRegion {
    name: string;
    replicaCount: number;
    storageAccountType: StorageAccountType;
}

/** SharedImage distributor without its artifactTags (those carry the content hash, which is computed from this). */
export interface SharedImageDistributor<Id> {
    type: "SharedImage";
    /** The version id `.../images/{def}/versions/X.Y.Z`: Image Builder publishes exactly this version. */
    galleryImageId: Id;
    runOutputName: string;
    targetRegions: TargetRegion[];
    excludeFromLatest: boolean;
}

/** Azure's limits on a tag value. */
export const MAX_TAG_VALUE_LENGTH = 256;

// Run output names: ^[A-Za-z0-9-_.]{1,64}$ (imagebuilder.json 2024-02-01).
const MAX_RUN_OUTPUT_NAME_LENGTH = 64;

/** The replication targets, build region first (Image Builder publishes there before it replicates), each region once. */
export function targetRegions(distribution: DistributionConfig, buildLocation: string): TargetRegion[] {
    const regions = [buildLocation, ...distribution.replicationRegions.filter((r) => r !== buildLocation)];
    return [...new Set(regions)].map((name) => ({
        name,
        replicaCount: distribution.replicaCount,
        storageAccountType: distribution.storageAccountType,
    }));
}

/** `<definition>-<X.Y.Z>`, the definition shortened so the name stays within 64 characters. */
export function runOutputName(imageDefinitionName: string, imageVersion: string): string {
    const room = MAX_RUN_OUTPUT_NAME_LENGTH - imageVersion.length - 1;
    return `${imageDefinitionName.slice(0, room).replace(/[-_.]+$/, "")}-${imageVersion}`;
}

export function sharedImageDistributor<Id>(
    image: ImageConfig,
    buildLocation: string,
    imageVersion: string,
    galleryImageVersionId: Id,
): SharedImageDistributor<Id> {
    return {
        type: "SharedImage",
        galleryImageId: galleryImageVersionId,
        runOutputName: runOutputName(image.gallery.imageDefinitionName, imageVersion),
        targetRegions: targetRegions(image.distribution, buildLocation),
        excludeFromLatest: image.distribution.excludeFromLatest,
    };
}

/** The Chocolatey package ids, comma separated, cut at a package boundary to fit a tag value. */
export function applicationsTag(packageIds: readonly string[]): string {
    const all = packageIds.join(",");
    if (all.length <= MAX_TAG_VALUE_LENGTH) return all;
    for (let kept = packageIds.length - 1; kept > 0; kept--) {
        const value = `${packageIds.slice(0, kept).join(",")},+${packageIds.length - kept} more`;
        if (value.length <= MAX_TAG_VALUE_LENGTH) return value;
    }
    return `${packageIds.length} packages`;
}

/** `publisher:offer:sku:version`, the marketplace image URN the build started from. */
export function baseImageUrn(image: ImageConfig): string {
    const b = image.baseImage;
    return `${b.publisher}:${b.offer}:${b.sku}:${b.version}`;
}

/**
 * Tags on the published image version (the seed's tagging strategy): the configured image tags
 * (e.g. WindowsUpdates, TestedBy), then ImageVersion, BaseImage, Applications and ContentHash,
 * which configuration cannot override. Ring tags (Environment, ...) stay off: the version is
 * promoted to every ring. No build date: a wall-clock value would make every `pulumi up` a diff.
 */
export function artifactTags(image: ImageConfig, imageVersion: string, contentHash: string): Record<string, string> {
    const packages = image.customizations.chocolateyPackages.map((p) => p.name);
    return {
        ...image.tags,
        ImageVersion: imageVersion,
        BaseImage: baseImageUrn(image),
        ...(packages.length > 0 ? { Applications: applicationsTag(packages) } : {}),
        ContentHash: contentHash,
    };
}
