import * as pulumi from "@pulumi/pulumi";
import * as semver from "semver";
import type { RingConfig } from "../config/types";

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

/** What a ring needs to know about one image of the ring before it. */
export interface UpstreamImage {
    imageDefinitionId: string;
    /** Versions that exist (Succeeded) in the image definition. */
    publishedImageVersions: string[];
    /** The version every upstream pool running the image validated; undefined until all passed. */
    validatedImageVersion?: string;
}

/** What a ring needs to know about the ring before it. */
export interface UpstreamRing {
    /** Fully-qualified stack name, as written in promoteFrom. */
    stack: string;
    galleryId: string;
    galleryName: string;
    /** Image name -> what the upstream ring exported about it. */
    images: Record<string, UpstreamImage>;
}

export type PromotionKind = "promotion" | "rollback";

/** The promoted ring's side: which stack file, and which form (it decides the key messages name). */
export type PromotedRing = Pick<RingConfig, "stack" | "stackFile" | "form">;

/** The config key holding the version of `image`: `imageVersion` in the single form, `imageVersions.<image>` in a fleet. */
export function imageVersionKey(ring: Pick<RingConfig, "form">, image: string): string {
    return ring.form === "single" ? "avd-image-rings:imageVersion" : `avd-image-rings:imageVersions.${image}`;
}

/**
 * Decides whether a ring may run `requested` of `image`, given the ring before it: the upstream's
 * validated version or any older published version (a rollback) are allowed; anything the
 * upstream has not validated, or that was never published, is refused with one message.
 */
export function decidePromotion(
    ring: PromotedRing,
    image: string,
    requested: string,
    upstream: UpstreamRing,
): { allowed: true; kind: PromotionKind } | { allowed: false; reason: string } {
    const where = `${ring.stackFile}: ${imageVersionKey(ring, image)} ${requested}`;
    const upstreamRing = upstream.stack.split("/").pop();
    const what = ring.form === "single" ? "image version" : `version of image ${image}`;
    const found = upstream.images[image];
    if (!found) {
        const known = Object.keys(upstream.images);
        return {
            allowed: false,
            reason: `${where} is refused: ${upstream.stack} runs no image named "${image}" (its images: ${known.length > 0 ? known.join(", ") : "none"}). A ring runs only images its upstream ring runs and validated.`,
        };
    }
    const published = [...found.publishedImageVersions].sort(semver.compare);
    if (!published.includes(requested)) {
        const list = published.length > 0 ? published.join(", ") : "none yet";
        return {
            allowed: false,
            reason: `${where} was never published to the gallery (published versions${ring.form === "single" ? "" : ` of ${image}`} known to ${upstream.stack}: ${list}). Pin a published version.`,
        };
    }
    const validated = found.validatedImageVersion;
    if (!validated) {
        return {
            allowed: false,
            reason: `${where} is refused: ${upstream.stack} has not validated any ${what} yet. Run \`pulumi up -s ${upstreamRing}\` and let its health gate pass first.`,
        };
    }
    if (semver.gt(requested, validated)) {
        return {
            allowed: false,
            reason: `${where} is refused: ${upstream.stack} has validated ${validated}${ring.form === "single" ? "" : ` of image ${image}`}, and ${ring.stack} may not run a version its upstream ring has not validated. Promote ${upstreamRing} to ${requested} first, or pin ${validated} or older.`,
        };
    }
    return { allowed: true, kind: semver.eq(requested, validated) ? "promotion" : "rollback" };
}

/**
 * Decides every image of the ring on its own and throws one PromotionRefusedError naming each
 * refused image (and the images that were allowed), before anything is registered: a refused
 * version never leaves a half-deployed ring, and one image's refusal is never another's.
 */
export function requirePromotable(ring: PromotedRing & Pick<RingConfig, "imageVersions">, upstream: UpstreamRing): Record<string, PromotionKind> {
    const kinds: Record<string, PromotionKind> = {};
    const refused: string[] = [];
    for (const [image, version] of Object.entries(ring.imageVersions)) {
        const decision = decidePromotion(ring, image, version, upstream);
        if (decision.allowed) kinds[image] = decision.kind;
        else refused.push(decision.reason);
    }
    if (refused.length > 0) {
        const allowed = Object.entries(kinds).map(([image, kind]) => `${image} ${ring.imageVersions[image]} (${kind})`);
        const others = allowed.length > 0 ? `\nNo pool is changed in this run; the other images' versions are allowed: ${allowed.join(", ")}.` : "";
        throw new PromotionRefusedError(refused.join("\n") + others);
    }
    return kinds;
}

/** The image a promoted ring runs, addressed in the upstream ring's gallery. */
export interface RingImage {
    imageDefinitionId: pulumi.Input<string>;
    latestImageReference: pulumi.Input<string>;
    imageVersionId: pulumi.Input<string>;
    publishedImageVersions: pulumi.Input<string[]>;
}

export function upstreamImage(upstream: UpstreamRing, image: string, imageVersion: string): RingImage {
    const found = upstream.images[image];
    return {
        imageDefinitionId: found.imageDefinitionId,
        latestImageReference: `${found.imageDefinitionId}/versions/latest`,
        imageVersionId: `${found.imageDefinitionId}/versions/${imageVersion}`,
        publishedImageVersions: found.publishedImageVersions,
    };
}
