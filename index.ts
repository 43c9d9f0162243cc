// avd-image-rings: one ring of the golden-image pipeline per stack (test -> pilot -> prod).
// Read this file as the table of contents; the work happens in components/ and src/.
import * as pulumi from "@pulumi/pulumi";
import * as resources from "@pulumi/azure-native/resources";
import { GoldenImageBuild } from "./components/goldenImageBuild";
import { IMAGE_ESTATE_OPTIONS, ImageGallery } from "./components/imageGallery";
import { ImageRollout } from "./components/imageRollout";
import { SessionHostPool } from "./components/sessionHostPool";
import { loadRingConfig } from "./src/config/parse";
import { requirePromotable, upstreamImage, type RingImage } from "./src/promotion/gate";
import { readUpstreamRing } from "./src/promotion/upstream";
import { sessionHostTags } from "./src/sessionHosts/naming";

export = async () => {
    // 1. Configuration and promotion are settled before anything is registered, so bad input or a
    //    refused version never leaves a half-deployed ring.
    const ring = loadRingConfig();
    const upstream = ring.promoteFrom ? await readUpstreamRing(ring.promoteFrom, ring.stackFile) : undefined;
    if (upstream) requirePromotable(ring, ring.imageVersion, upstream);

    // The build ring's resource group holds the gallery every ring runs from: protected like the gallery.
    const resourceGroup = new resources.ResourceGroup(
        "ring",
        {
            resourceGroupName: ring.resourceGroupName,
            location: ring.location,
            tags: sessionHostTags(ring),
        },
        ring.image ? IMAGE_ESTATE_OPTIONS : undefined,
    );

    // 2. The image: built and published here in the build ring, or the upstream ring's published version.
    let image: RingImage;
    let build: GoldenImageBuild | undefined;
    if (ring.image) {
        const gallery = new ImageGallery("gallery", {
            resourceGroupName: resourceGroup.name,
            location: ring.location,
            gallery: ring.image.gallery,
            tags: ring.tags,
        });
        build = new GoldenImageBuild("golden-image", {
            resourceGroupName: resourceGroup.name,
            resourceGroupId: resourceGroup.id,
            location: ring.location,
            imageVersion: ring.imageVersion,
            image: ring.image,
            gallery,
            tags: ring.tags,
        });
        image = {
            galleryId: gallery.galleryId,
            galleryName: gallery.galleryName,
            imageDefinitionId: gallery.imageDefinitionId,
            latestImageReference: gallery.latestImageReference,
            imageVersionId: build.builtImageVersionId,
            publishedImageVersions: build.publishedImageVersions,
        };
    } else {
        image = upstreamImage(upstream!, ring.imageVersion);
    }

    // 3. The ring's AVD environment on the pinned version, then the rollout and its health gate.
    const sessionHosts = new SessionHostPool("session-hosts", {
        ring,
        resourceGroupName: resourceGroup.name,
        imageDefinitionId: image.imageDefinitionId,
        imageVersionId: image.imageVersionId,
    });
    const rollout = new ImageRollout(
        "rollout",
        {
            ring,
            vmssId: sessionHosts.vmssId,
            hostPoolId: sessionHosts.hostPoolId,
            imageVersionId: image.imageVersionId,
            imageVersion: ring.imageVersion,
        },
        { dependsOn: [sessionHosts] },
    );

    // 4. Outputs: the seed's module outputs and the promotion contract the next ring reads.
    return {
        imageVersion: ring.imageVersion,
        imageVersionId: image.imageVersionId,
        galleryImageVersionId: image.imageVersionId,
        latestImageReference: image.latestImageReference,
        galleryId: image.galleryId,
        galleryName: image.galleryName,
        imageDefinitionId: image.imageDefinitionId,
        publishedImageVersions: image.publishedImageVersions,
        validatedImageVersion: rollout.validatedImageVersion,
        hostPoolId: sessionHosts.hostPoolId,
        vmssId: sessionHosts.vmssId,
        upgradeMode: ring.sessionHosts.upgradeMode,
        ...(build
            ? {
                  templateName: build.templateName,
                  buildCommandCli: build.buildCommandCli,
                  buildCommandPowershell: build.buildCommandPowershell,
              }
            : { promotedFrom: ring.promoteFrom }),
    } satisfies Record<string, pulumi.Input<unknown>>;
};
