// What the deploy-time tools would print offline, assuming each run succeeds: the build
// publishes its version, the rollout upgrades every host, the health gate passes, gallery
// retention deletes what its plan lists (a dry run: the live gallery is checked at deploy time). The JSON
// shapes are the tools' documented last stdout line (docs/ARCHITECTURE.md).
import * as semver from "semver";
import type { MockResourceArgs } from "@pulumi/pulumi/runtime/mocks";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import { parseMarketplaceImage } from "../src/tools/environment";
import { parsePlanned, type RetentionResult } from "../src/lifecycle/retentionCommand";
import { placeholderReleaseNotes } from "../src/lifecycle/releaseNotes";

/** The value inside a secret, as the command provider sees it (an environment with provider credentials is secret). */
function unsecret(value: unknown): unknown {
    const wrapped = value as Record<string, unknown> | undefined;
    return typeof value === "object" && value !== null && wrapped?.[specialSigKey] === specialSecretSig ? wrapped.value : value;
}

function env(args: MockResourceArgs): Record<string, string> {
    const environment = (unsecret((args.inputs as { environment?: unknown }).environment) ?? {}) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(environment).map(([k, v]) => [k, String(unsecret(v))]));
}

function versionOf(imageVersionId: string | undefined, tool: string): string {
    const version = imageVersionId?.split("/").pop();
    if (!imageVersionId || !version || !semver.valid(version)) {
        throw new Error(`offline preview: ${tool} needs a gallery image version id in its environment, got ${JSON.stringify(imageVersionId)}`);
    }
    return version;
}

/** A marketplace pool's image (AVD_MARKETPLACE_IMAGE), when the command was given one. */
function marketplaceImageOf(text: string | undefined, tool: string) {
    if (text === undefined) return undefined;
    const image = parseMarketplaceImage(text);
    if ("problem" in image) throw new Error(`offline preview: ${tool}'s AVD_MARKETPLACE_IMAGE "${text}" ${image.problem}`);
    return image;
}

/**
 * `galleryVersions`: image definition name -> the versions the offline gallery holds (offlineGalleryVersions).
 * `validatedAt`: when the simulated health gate passed (ISO 8601); without it the result carries
 * none, as a gate result recorded before validation times were.
 */
export function simulatedCommandStdout(args: MockResourceArgs, galleryVersions: Record<string, string[]>, validatedAt?: string): string {
    const create = String((args.inputs as { create?: unknown }).create ?? "");
    const e = env(args);
    if (create.includes("tools/buildImage.ts")) {
        const imageVersion = versionOf(e.AVD_GALLERY_IMAGE_VERSION_ID, "buildImage");
        const definition = /\/images\/([^/]+)\/versions\//i.exec(e.AVD_GALLERY_IMAGE_VERSION_ID)?.[1] ?? "";
        const published = [...new Set([...(galleryVersions[definition] ?? []), imageVersion])].sort(semver.compare);
        return JSON.stringify({
            imageVersion,
            imageVersionId: e.AVD_GALLERY_IMAGE_VERSION_ID,
            runState: "Succeeded",
            reusedExistingVersion: false,
            publishedImageVersions: published,
            releaseNotes: placeholderReleaseNotes(imageVersion, e.AVD_GALLERY_IMAGE_VERSION_ID, "offline preview: no build ran, so there is no base image version, inventory or change list"),
        });
    }
    if (create.includes("tools/rollout.ts")) {
        // The shapes the tools print (RolloutResult, GateResult): a marketplace pool's results name its image.
        const marketplace = marketplaceImageOf(e.AVD_MARKETPLACE_IMAGE, "rollout");
        if (marketplace) return JSON.stringify({ imageVersion: marketplace.version, marketplaceImage: marketplace, instancesUpgraded: 0, instancesAlreadyCurrent: 0, batches: 0 });
        const imageVersion = versionOf(e.AVD_IMAGE_VERSION_ID, "rollout");
        return JSON.stringify({ imageVersion, imageVersionId: e.AVD_IMAGE_VERSION_ID, instancesUpgraded: 0, instancesAlreadyCurrent: 0, batches: 0 });
    }
    if (create.includes("tools/healthGate.ts")) {
        const marketplace = marketplaceImageOf(e.AVD_MARKETPLACE_IMAGE, "healthGate");
        if (marketplace) {
            // Offline nothing resolves `latest`: the hosts are taken to run the version the pool names.
            return JSON.stringify({ validatedImageVersion: marketplace.version, marketplaceImage: { ...marketplace, exactVersions: [marketplace.version] }, ...(validatedAt ? { validatedAt } : {}), hostsChecked: 0, hostsPassed: 0 });
        }
        const imageVersion = versionOf(e.AVD_IMAGE_VERSION_ID, "healthGate");
        return JSON.stringify({ validatedImageVersion: imageVersion, imageVersionId: e.AVD_IMAGE_VERSION_ID, ...(validatedAt ? { validatedAt } : {}), hostsChecked: 0, hostsPassed: 0 });
    }
    if (create.includes("tools/retention.ts")) {
        const planned = parsePlanned(e.AVD_RETENTION_PLANNED ?? "");
        if ("problem" in planned) throw new Error(`offline preview: retention's AVD_RETENTION_PLANNED ${planned.problem}`);
        const result: RetentionResult = { imageDefinitionId: e.AVD_IMAGE_DEFINITION_ID, planned, deleted: planned, skipped: [], failed: [] };
        return JSON.stringify(result);
    }
    throw new Error(`offline preview cannot simulate the command ${JSON.stringify(create)}; add it to preview/commands.ts`);
}
