import * as pulumi from "@pulumi/pulumi";
import { PromotionRefusedError, type UpstreamRing } from "./gate";

/**
 * Reads the ring before this one through a StackReference and waits for its values, so the
 * caller can refuse a promotion before registering anything else (no partial deployment).
 */
export async function readUpstreamRing(promoteFrom: string, stackFile: string, parent?: pulumi.Resource): Promise<UpstreamRing> {
    const ref = new pulumi.StackReference("upstream-ring", { name: promoteFrom }, { parent });
    const missing = (name: string): never => {
        throw new PromotionRefusedError(
            `${stackFile}: avd-image-rings:promoteFrom ${promoteFrom} has no output "${name}". Deploy that ring first (pulumi up -s ${promoteFrom.split("/").pop()}) with this version of the program.`,
        );
    };
    const read = async (name: string): Promise<unknown> => {
        const details = await ref.getOutputDetails(name);
        return details.value ?? details.secretValue;
    };
    const text = async (name: string, required: boolean): Promise<string | undefined> => {
        const value = await read(name);
        if (value === undefined || value === null || value === "") return required ? missing(name) : undefined;
        if (typeof value !== "string") return missing(name);
        return value;
    };
    const published = await read("publishedImageVersions");
    if (!Array.isArray(published) || published.some((v) => typeof v !== "string")) missing("publishedImageVersions");

    return {
        stack: promoteFrom,
        galleryId: (await text("galleryId", true)) as string,
        galleryName: (await text("galleryName", true)) as string,
        imageDefinitionId: (await text("imageDefinitionId", true)) as string,
        publishedImageVersions: published as string[],
        validatedImageVersion: await text("validatedImageVersion", false),
    };
}
