// avd-image-rings: one ring of the golden-image pipeline per stack (test -> pilot -> prod).
// Read this file as the table of contents; the work happens in components/ and src/.
import * as resources from "@pulumi/azure-native/resources";
import type * as pulumi from "@pulumi/pulumi";
import { GalleryRetention } from "./components/galleryRetention";
import { GoldenImageBuild } from "./components/goldenImageBuild";
import { IMAGE_ESTATE_OPTIONS, ImageGallery } from "./components/imageGallery";
import { ImageRollout } from "./components/imageRollout";
import { SessionHostPool } from "./components/sessionHostPool";
import { AvdInsights } from "./components/avdInsights";
import { notificationEnvironment } from "./src/config/notifications";
import { latestImageReference } from "./src/aib/gallery";
import { loadRingConfig } from "./src/config/parse";
import { ownRingPins, readProtectedRings, ringPinsFor } from "./src/lifecycle/protectedRings";
import { poolPlacement, ringExports, rolloutImage, sessionHostImage, type RingParts } from "./src/fleet";
import { requirePromotable, upstreamImage } from "./src/promotion/gate";
import { requireSoaked } from "./src/promotion/soak";
import { readUpstreamRing } from "./src/promotion/upstream";
import { sessionHostTags } from "./src/sessionHosts/naming";

export = async () => {
    // 1. Configuration and promotion (per image) are settled before anything is registered, so bad
    //    input or a refused version never leaves a half-deployed ring.
    const ring = loadRingConfig();
    const upstream = ring.promoteFrom ? await readUpstreamRing(ring.promoteFrom, ring.stackFile) : undefined;
    if (upstream) requireSoaked(ring, requirePromotable(ring, upstream), upstream, new Date());
    // Gallery retention (build ring): what the other rings pin and validated, read like the upstream.
    const protectedRings = ring.retention ? await readProtectedRings(ring.retention.protectStacks, ring.stackFile) : [];

    // The build ring's resource group holds the gallery every ring runs from: protected like the gallery.
    const resourceGroup = new resources.ResourceGroup(
        "ring",
        { resourceGroupName: ring.resourceGroupName, location: ring.location, tags: sessionHostTags(ring) },
        ring.gallery ? IMAGE_ESTATE_OPTIONS : undefined,
    );

    // The webhook the deploy-time tools tell when they start, finish or fail (a secret; empty when off).
    const notifications = notificationEnvironment(ring.notifications, ring.stack);

    // 2. The images: built and published here in the build ring (one gallery, a definition and a
    //    build per image), or the upstream ring's published versions.
    const parts: Omit<RingParts, "gallery"> = { images: {}, builds: {}, pools: {} };
    let gallery: RingParts["gallery"];
    if (ring.gallery) {
        const imageGallery = new ImageGallery("gallery", {
            resourceGroupName: resourceGroup.name,
            location: ring.location,
            galleryName: ring.gallery.name,
            imageDefinitions: Object.fromEntries(Object.values(ring.images).map((i) => [i.name, { definition: i.gallery, logicalSuffix: i.logicalSuffix }])),
            tags: ring.tags,
        });
        gallery = imageGallery;
        for (const image of Object.values(ring.images)) {
            const build = new GoldenImageBuild(`golden-image${image.logicalSuffix}`, {
                resourceGroupName: resourceGroup.name,
                resourceGroupId: resourceGroup.id,
                location: ring.location,
                imageVersion: image.imageVersion,
                image,
                imageDefinitionId: imageGallery.imageDefinitionIds[image.name],
                tags: ring.tags,
                perImageRoles: ring.form === "fleet",
                notificationEnvironment: notifications,
            });
            parts.builds[image.name] = {
                templateName: build.templateName,
                buildCommandCli: build.buildCommandCli,
                buildCommandPowershell: build.buildCommandPowershell,
                baseImageExactVersion: build.baseImageExactVersion,
                releaseNotes: build.releaseNotes,
            };
            parts.images[image.name] = {
                imageDefinitionId: imageGallery.imageDefinitionIds[image.name],
                latestImageReference: latestImageReference(imageGallery.imageDefinitionIds[image.name]),
                imageVersionId: build.builtImageVersionId,
                publishedImageVersions: build.publishedImageVersions,
            };
            if (ring.retention) {
                new GalleryRetention(
                    `gallery-retention${image.logicalSuffix}`,
                    {
                        imageDefinitionId: imageGallery.imageDefinitionIds[image.name],
                        publishedImageVersions: build.publishedImageVersions,
                        retention: ring.retention,
                        pins: [...ownRingPins(ring, image.name), ...protectedRings.flatMap((r) => ringPinsFor(r, image.name))],
                    },
                    { dependsOn: [build] },
                );
            }
        }
    } else {
        gallery = upstream!;
        for (const [image, version] of Object.entries(ring.imageVersions)) parts.images[image] = upstreamImage(upstream!, image, version);
    }

    // 3. Each host pool on its pinned version, then its rollout and health gate.
    const avd: Record<"hostPoolIds" | "applicationGroupIds" | "workspaceIds", Record<string, pulumi.Output<string>>> = { hostPoolIds: {}, applicationGroupIds: {}, workspaceIds: {} };
    for (const pool of Object.values(ring.hostPools)) {
        const sessionHosts = new SessionHostPool(`session-hosts${pool.logicalSuffix}`, {
            placement: poolPlacement(ring, pool, resourceGroup.name),
            sessionHosts: pool.sessionHosts,
            image: sessionHostImage(pool, parts.images),
        });
        const rollout = new ImageRollout(
            `rollout${pool.logicalSuffix}`,
            { sessionHosts: pool.sessionHosts, vmssId: sessionHosts.vmssId, hostPoolId: sessionHosts.hostPoolId, image: rolloutImage(pool, parts.images), notificationEnvironment: notifications },
            { dependsOn: [sessionHosts] },
        );
        parts.pools[pool.name] = { hostPoolId: sessionHosts.hostPoolId, vmssId: sessionHosts.vmssId, validatedImageVersion: rollout.validatedImageVersion, validatedAt: rollout.validatedAt };
        avd.hostPoolIds[pool.name] = sessionHosts.hostPoolId;
        avd.applicationGroupIds[pool.name] = sessionHosts.applicationGroupId;
        avd.workspaceIds[pool.name] = sessionHosts.workspaceId;
    }
    // AVD Insights (optional): every host pool, application group and workspace to Log Analytics.
    if (ring.insights) {
        new AvdInsights("insights", { resourceGroupName: resourceGroup.name, location: ring.location, tags: sessionHostTags(ring), workspace: ring.insights, ...avd });
    }

    // 4. Outputs: the promotion contract the next ring reads (src/promotion/ringOutputs.ts).
    return ringExports(ring, { ...parts, gallery });
};
