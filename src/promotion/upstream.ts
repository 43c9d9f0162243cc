import * as pulumi from "@pulumi/pulumi";
import { SINGLE_FORM_NAME } from "../config/parse";
import { PromotionRefusedError, type UpstreamImage, type UpstreamRing } from "./gate";
import type { ImageOutputs, LegacyRingOutputs, RingOutputs } from "./ringOutputs";

/**
 * Reads the ring before this one through a StackReference and waits for its values, so the
 * caller can refuse a promotion before registering anything else (no partial deployment).
 */
export async function readUpstreamRing(promoteFrom: string, stackFile: string, parent?: pulumi.Resource): Promise<UpstreamRing> {
    const ref = new pulumi.StackReference("upstream-ring", { name: promoteFrom }, { parent });
    const read = async (name: string): Promise<unknown> => {
        const details = await ref.getOutputDetails(name);
        return details.value ?? details.secretValue;
    };
    return upstreamRingFrom(promoteFrom, stackFile, {
        images: await read("images"),
        galleryId: await read("galleryId"),
        galleryName: await read("galleryName"),
        imageDefinitionId: await read("imageDefinitionId"),
        publishedImageVersions: await read("publishedImageVersions"),
        validatedImageVersion: await read("validatedImageVersion"),
    });
}

/** The outputs `upstreamRingFrom` needs: `RingOutputs` plus, for a ring of an earlier release, the legacy top-level ones. */
export type UpstreamOutputValues = { [K in keyof Pick<RingOutputs, "images" | "galleryId" | "galleryName"> | keyof Pick<LegacyRingOutputs, "imageDefinitionId" | "publishedImageVersions" | "validatedImageVersion">]: unknown };

/**
 * Checks the upstream ring's outputs against the contract. A ring deployed by an earlier release
 * exports only the single-image top-level outputs: they are its image `default`.
 */
export function upstreamRingFrom(promoteFrom: string, stackFile: string, v: UpstreamOutputValues): UpstreamRing {
    const missing = (name: string): never => {
        throw new PromotionRefusedError(
            `${stackFile}: avd-image-rings:promoteFrom ${promoteFrom} has no output "${name}". Deploy that ring first (pulumi up -s ${promoteFrom.split("/").pop()}) with this version of the program.`,
        );
    };
    const text = (name: string, value: unknown, required: boolean): string | undefined => {
        if (value === undefined || value === null || value === "") return required ? missing(name) : undefined;
        return typeof value === "string" ? value : missing(name);
    };
    const versions = (name: string, value: unknown): string[] =>
        Array.isArray(value) && value.every((x) => typeof x === "string") ? (value as string[]) : missing(name);

    const images: Record<string, UpstreamImage> = {};
    if (v.images !== undefined && v.images !== null) {
        if (typeof v.images !== "object" || Array.isArray(v.images)) missing("images");
        for (const [name, raw] of Object.entries(v.images as Record<string, unknown>)) {
            if (typeof raw !== "object" || raw === null) missing(`images.${name}`);
            const image = raw as Partial<Record<keyof ImageOutputs, unknown>>;
            images[name] = {
                imageDefinitionId: text(`images.${name}.imageDefinitionId`, image.imageDefinitionId, true) as string,
                publishedImageVersions: versions(`images.${name}.publishedImageVersions`, image.publishedImageVersions),
                validatedImageVersion: text(`images.${name}.validatedImageVersion`, image.validatedImageVersion, false),
            };
        }
    } else {
        images[SINGLE_FORM_NAME] = {
            imageDefinitionId: text("imageDefinitionId", v.imageDefinitionId, true) as string,
            publishedImageVersions: versions("publishedImageVersions", v.publishedImageVersions),
            validatedImageVersion: text("validatedImageVersion", v.validatedImageVersion, false),
        };
    }
    return {
        stack: promoteFrom,
        galleryId: text("galleryId", v.galleryId, true) as string,
        galleryName: text("galleryName", v.galleryName, true) as string,
        images,
    };
}
