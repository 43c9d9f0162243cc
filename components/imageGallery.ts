// The Azure Compute Gallery and the image definition every ring's versions belong to.
import * as pulumi from "@pulumi/pulumi";
import * as compute from "@pulumi/azure-native/compute";
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

/** One image definition of the gallery. */
export interface ImageDefinitionArgs {
    /** Definition name, publisher/offer/sku identifier, Hyper-V generation and description (config `imageDefinition` / `image.gallery`). */
    definition: Omit<GalleryConfig, "name">;
    /** Suffix of the definition's logical name `<component>-definition<suffix>`: "" keeps the single-image form's URN. */
    logicalSuffix: string;
}

export interface ImageGalleryArgs {
    resourceGroupName: pulumi.Input<string>;
    location: string;
    /** Azure Compute Gallery name: letters, digits, `_` and `.`. */
    galleryName: string;
    /** Image name -> its definition; one gallery holds every image of the fleet. */
    imageDefinitions: Record<string, ImageDefinitionArgs>;
    /** Tags of the gallery and every definition. */
    tags: Record<string, string>;
}

export class ImageGallery extends pulumi.ComponentResource {
    readonly galleryId: pulumi.Output<string>;
    readonly galleryName: pulumi.Output<string>;
    /** Image name -> `.../galleries/{g}/images/{def}`. */
    readonly imageDefinitionIds: Record<string, pulumi.Output<string>>;

    constructor(name: string, args: ImageGalleryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("avd-image-rings:image:ImageGallery", name, {}, opts);
        const definitionNames = Object.values(args.imageDefinitions).map((d) => d.definition.imageDefinitionName);

        const gallery = new compute.Gallery(
            `${name}-gallery`,
            {
                resourceGroupName: args.resourceGroupName,
                galleryName: args.galleryName,
                location: args.location,
                description: `AVD golden images (${definitionNames.join(", ")})`,
                tags: args.tags,
            },
            { parent: this, ...IMAGE_ESTATE_OPTIONS },
        );

        this.imageDefinitionIds = {};
        for (const [image, { definition: g, logicalSuffix }] of Object.entries(args.imageDefinitions)) {
            const features = galleryImageFeatures(g.hyperVGeneration);
            const definition = new compute.GalleryImage(
                `${name}-definition${logicalSuffix}`,
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
            this.imageDefinitionIds[image] = definition.id;
        }

        this.galleryId = gallery.id;
        this.galleryName = gallery.name;
        this.registerOutputs({ galleryId: this.galleryId, galleryName: this.galleryName, imageDefinitionIds: this.imageDefinitionIds });
    }
}
