// The Azure Compute Gallery and the image definition every ring's versions belong to.
import * as pulumi from "@pulumi/pulumi";
import * as compute from "@pulumi/azure-native/compute";
import { galleryVersionProblem } from "../src/config/parse";
import type { GalleryConfig } from "../src/config/types";
import { galleryImageFeatures } from "../src/aib/gallery";

/**
 * The image estate every ring runs from: the gallery, its image definitions and the resource group
 * holding them. `pulumi destroy -s test` must stop at them, not delete what pilot and prod boot from;
 * and a deliberate teardown of the build ring leaves them in Azure (deleting a resource group also
 * deletes the image versions Azure Image Builder published, which Pulumi does not manage:
 * pulumi-azure-native#2522). README.md "Tearing down" gives the order for removing them on purpose.
 */
export const IMAGE_ESTATE_OPTIONS = { protect: true, retainOnDelete: true } as const satisfies pulumi.CustomResourceOptions;

export interface ImageGalleryArgs {
    resourceGroupName: pulumi.Input<string>;
    location: string;
    gallery: GalleryConfig;
    tags: Record<string, string>;
}

export class ImageGallery extends pulumi.ComponentResource {
    readonly galleryId: pulumi.Output<string>;
    readonly galleryName: pulumi.Output<string>;
    readonly imageDefinitionId: pulumi.Output<string>;
    /** `{imageDefinitionId}/versions/latest`: follows the newest version not excluded from latest. */
    readonly latestImageReference: pulumi.Output<string>;

    constructor(name: string, args: ImageGalleryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("avd-image-rings:image:ImageGallery", name, {}, opts);
        const g = args.gallery;

        const gallery = new compute.Gallery(
            `${name}-gallery`,
            {
                resourceGroupName: args.resourceGroupName,
                galleryName: g.name,
                location: args.location,
                description: `AVD golden images (${g.imageDefinitionName})`,
                tags: args.tags,
            },
            { parent: this, ...IMAGE_ESTATE_OPTIONS },
        );

        const features = galleryImageFeatures(g.hyperVGeneration);
        const definition = new compute.GalleryImage(
            `${name}-definition`,
            {
                resourceGroupName: args.resourceGroupName,
                galleryName: gallery.name,
                galleryImageName: g.imageDefinitionName,
                location: args.location,
                identifier: { publisher: g.publisher, offer: g.offer, sku: g.sku },
                osType: "Windows",
                osState: "Generalized",
                hyperVGeneration: g.hyperVGeneration,
                features: features.length > 0 ? features : undefined,
                description: g.description,
                tags: args.tags,
            },
            { parent: this, ...IMAGE_ESTATE_OPTIONS },
        );

        this.galleryId = gallery.id;
        this.galleryName = gallery.name;
        this.imageDefinitionId = definition.id;
        this.latestImageReference = pulumi.interpolate`${definition.id}/versions/latest`;
        this.registerOutputs({
            galleryId: this.galleryId,
            galleryName: this.galleryName,
            imageDefinitionId: this.imageDefinitionId,
            latestImageReference: this.latestImageReference,
        });
    }

    /** `{imageDefinitionId}/versions/{version}`; the version must be MAJOR.MINOR.PATCH. */
    imageVersionId(version: string): pulumi.Output<string> {
        const problem = galleryVersionProblem(version);
        if (problem) throw new Error(`image version ${problem}`);
        return pulumi.interpolate`${this.imageDefinitionId}/versions/${version}`;
    }
}
