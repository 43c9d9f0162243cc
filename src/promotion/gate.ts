import * as pulumi from "@pulumi/pulumi";
import * as semver from "semver";

/**
 * A ring refused the version it pins. Extends RunError so the Pulumi CLI prints only the
 * message; the offline preview maps it to exit code 1 (like a mandatory policy violation).
 */
export class PromotionRefusedError extends pulumi.RunError {
    constructor(message: string) {
        super(message);
        this.name = "PromotionRefusedError";
    }
}

/** What a ring needs to know about the ring before it. */
export interface UpstreamRing {
    /** Fully-qualified stack name, as written in promoteFrom. */
    stack: string;
    galleryId: string;
    galleryName: string;
    imageDefinitionId: string;
    /** Versions that exist (Succeeded) in the image definition. */
    publishedImageVersions: string[];
    /** The version the upstream ring runs and validated; undefined until its health gate first passes. */
    validatedImageVersion?: string;
}

export type PromotionKind = "promotion" | "rollback";

/**
 * Decides whether a ring may run `requested`, given the ring before it: the upstream's
 * validated version or any older published version (a rollback) are allowed; anything the
 * upstream has not validated, or that was never published, is refused with one message.
 */
export function decidePromotion(
    ring: { stack: string; stackFile: string },
    requested: string,
    upstream: UpstreamRing,
): { allowed: true; kind: PromotionKind } | { allowed: false; reason: string } {
    const key = "avd-image-rings:imageVersion";
    const where = `${ring.stackFile}: ${key} ${requested}`;
    const published = [...upstream.publishedImageVersions].sort(semver.compare);
    if (!published.includes(requested)) {
        const list = published.length > 0 ? published.join(", ") : "none yet";
        return {
            allowed: false,
            reason: `${where} was never published to the gallery (published versions known to ${upstream.stack}: ${list}). Pin a published version.`,
        };
    }
    const validated = upstream.validatedImageVersion;
    if (!validated) {
        return {
            allowed: false,
            reason: `${where} is refused: ${upstream.stack} has not validated any image version yet. Run \`pulumi up -s ${upstream.stack.split("/").pop()}\` and let its health gate pass first.`,
        };
    }
    if (semver.gt(requested, validated)) {
        return {
            allowed: false,
            reason: `${where} is refused: ${upstream.stack} has validated ${validated}, and ${ring.stack} may not run a version its upstream ring has not validated. Promote ${upstream.stack.split("/").pop()} to ${requested} first, or pin ${validated} or older.`,
        };
    }
    return { allowed: true, kind: semver.eq(requested, validated) ? "promotion" : "rollback" };
}

/** Throws PromotionRefusedError when the ring may not run `requested`. */
export function requirePromotable(ring: { stack: string; stackFile: string }, requested: string, upstream: UpstreamRing): PromotionKind {
    const decision = decidePromotion(ring, requested, upstream);
    if (!decision.allowed) throw new PromotionRefusedError(decision.reason);
    return decision.kind;
}

/** The image a promoted ring runs, addressed in the upstream ring's gallery. */
export interface RingImage {
    galleryId: pulumi.Input<string>;
    galleryName: pulumi.Input<string>;
    imageDefinitionId: pulumi.Input<string>;
    latestImageReference: pulumi.Input<string>;
    imageVersionId: pulumi.Input<string>;
    publishedImageVersions: pulumi.Input<string[]>;
}

export function upstreamImage(upstream: UpstreamRing, imageVersion: string): RingImage {
    return {
        galleryId: upstream.galleryId,
        galleryName: upstream.galleryName,
        imageDefinitionId: upstream.imageDefinitionId,
        latestImageReference: `${upstream.imageDefinitionId}/versions/latest`,
        imageVersionId: `${upstream.imageDefinitionId}/versions/${imageVersion}`,
        publishedImageVersions: upstream.publishedImageVersions,
    };
}
