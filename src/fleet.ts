// The fleet's wiring: which image each pool's components get, and the ring's outputs. Pure
// mappings from validated config and component outputs, so index.ts stays a table of contents.
import * as pulumi from "@pulumi/pulumi";
import * as semver from "semver";
import type { PoolConfig, RingConfig } from "./config/types";
import type { RingImage } from "./promotion/gate";
import { marketplacePoolImage, type BuildOutputs, type Exported, type ExportedRing, type LegacyRingOutputs, type RingOutputs } from "./promotion/ringOutputs";
import { lastValidatedAt } from "./promotion/soak";
import { marketplaceImageUrn } from "./sessionHosts/imageReference";
import { sessionHostTags, type PoolPlacement } from "./sessionHosts/naming";
import type { RolloutImage } from "../components/imageRollout";
import type { SessionHostImage } from "../components/sessionHostPool";

export function poolPlacement(ring: RingConfig, pool: PoolConfig, resourceGroupName: pulumi.Input<string>): PoolPlacement {
    return {
        stack: ring.stack,
        ...(ring.form === "fleet" ? { pool: pool.name } : {}),
        location: ring.location,
        resourceGroupName,
        names: pool.names,
        tags: sessionHostTags(ring),
    };
}

export function sessionHostImage(pool: PoolConfig, images: Record<string, RingImage>): SessionHostImage {
    if (pool.source.kind === "marketplace") return { kind: "marketplace", image: pool.source.image };
    const image = images[pool.source.image];
    return { kind: "gallery", imageDefinitionId: image.imageDefinitionId, imageVersionId: image.imageVersionId };
}

export function rolloutImage(pool: PoolConfig, images: Record<string, RingImage>): RolloutImage {
    if (pool.source.kind === "marketplace") return { kind: "marketplace", image: pool.source.image };
    return { kind: "gallery", imageVersionId: images[pool.source.image].imageVersionId, imageVersion: pool.source.imageVersion };
}

/** The oldest of the pools' validated versions: an image counts as validated on a version only when every pool running it passed on it. */
export function validatedByAll(versions: Array<string | undefined>): string | undefined {
    if (versions.length === 0 || versions.some((v) => v === undefined || v === "")) return undefined;
    return [...(versions as string[])].sort(semver.compare)[0];
}

/** What the ring's components produced, per image and per pool. */
export interface RingParts {
    gallery: { galleryId: pulumi.Input<string>; galleryName: pulumi.Input<string> };
    images: Record<string, RingImage>;
    builds: Record<string, Exported<BuildOutputs>>;
    pools: Record<string, { hostPoolId: pulumi.Output<string>; vmssId: pulumi.Output<string>; validatedImageVersion: pulumi.Output<string>; validatedAt: pulumi.Output<string | undefined> }>;
}

export type RingExports = ExportedRing<RingOutputs> & Partial<Exported<LegacyRingOutputs>>;

/** The ring's stack outputs: the `RingOutputs` contract, plus today's top-level outputs where the ring has one image (and one pool). */
export function ringExports(ring: RingConfig, parts: RingParts): RingExports {
    const pools = Object.values(ring.hostPools);
    const poolsOf = (image: string) => pools.filter((p) => p.source.kind === "gallery" && p.source.image === image);
    const images: ExportedRing<RingOutputs>["images"] = {};
    for (const [name, version] of Object.entries(ring.imageVersions)) {
        const image = parts.images[name];
        images[name] = {
            imageVersion: version,
            imageVersionId: image.imageVersionId,
            imageDefinitionId: image.imageDefinitionId,
            latestImageReference: image.latestImageReference,
            publishedImageVersions: image.publishedImageVersions,
            validatedImageVersion: pulumi.all(poolsOf(name).map((p) => parts.pools[p.name].validatedImageVersion)).apply(validatedByAll),
            validatedAt: pulumi.all(poolsOf(name).map((p) => parts.pools[p.name].validatedAt)).apply(lastValidatedAt),
        };
    }
    const hostPools: ExportedRing<RingOutputs>["hostPools"] = {};
    for (const pool of pools) {
        const source = pool.source;
        hostPools[pool.name] = {
            image: source.kind === "gallery" ? source.image : marketplacePoolImage(marketplaceImageUrn(source.image)),
            imageVersion: source.kind === "gallery" ? source.imageVersion : source.image.version,
            hostPoolId: parts.pools[pool.name].hostPoolId,
            vmssId: parts.pools[pool.name].vmssId,
            upgradeMode: pool.sessionHosts.upgradeMode,
            validatedImageVersion: parts.pools[pool.name].validatedImageVersion,
        };
    }
    const builds = Object.keys(parts.builds).length > 0 ? parts.builds : undefined;
    const exports: RingExports = {
        galleryId: parts.gallery.galleryId,
        galleryName: parts.gallery.galleryName,
        images,
        hostPools,
        signOffs: ring.signOffs,
        ...(builds ? { builds } : { promotedFrom: ring.promoteFrom }),
    };

    const imageNames = Object.keys(images);
    if (imageNames.length === 1) {
        const image = images[imageNames[0]];
        const build = builds?.[imageNames[0]];
        Object.assign(exports, {
            imageVersion: image.imageVersion,
            imageVersionId: image.imageVersionId,
            galleryImageVersionId: image.imageVersionId,
            latestImageReference: image.latestImageReference,
            imageDefinitionId: image.imageDefinitionId,
            publishedImageVersions: image.publishedImageVersions,
            validatedImageVersion: image.validatedImageVersion,
            ...(build ? { templateName: build.templateName, buildCommandCli: build.buildCommandCli, buildCommandPowershell: build.buildCommandPowershell } : {}),
        } satisfies Partial<Exported<LegacyRingOutputs>>);
    }
    if (pools.length === 1) {
        const pool = hostPools[pools[0].name];
        Object.assign(exports, { hostPoolId: pool.hostPoolId, vmssId: pool.vmssId, upgradeMode: pool.upgradeMode } satisfies Partial<Exported<LegacyRingOutputs>>);
    }
    return exports;
}
