// What the deploy-time tools would print offline, assuming each run succeeds: the build
// publishes its version, the rollout upgrades every host, the health gate passes. The JSON
// shapes are the tools' documented last stdout line (docs/ARCHITECTURE.md).
import * as semver from "semver";
import type { MockResourceArgs } from "@pulumi/pulumi/runtime/mocks";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
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

/** The version a rollout or gate targets: the gallery version, or a marketplace pool's `publisher:offer:sku:version`. */
function targetVersion(e: Record<string, string>, tool: string): { imageVersion: string; imageVersionId?: string } {
    if (e.AVD_MARKETPLACE_IMAGE) return { imageVersion: e.AVD_MARKETPLACE_IMAGE.split(":").pop() ?? "" };
    return { imageVersion: versionOf(e.AVD_IMAGE_VERSION_ID, tool), imageVersionId: e.AVD_IMAGE_VERSION_ID };
}

/** `galleryVersions`: image definition name -> the versions the offline gallery holds (offlineGalleryVersions). */
export function simulatedCommandStdout(args: MockResourceArgs, galleryVersions: Record<string, string[]>): string {
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
        const { imageVersion, imageVersionId } = targetVersion(e, "rollout");
        return JSON.stringify({ imageVersion, imageVersionId, instancesUpgraded: 0, instancesAlreadyCurrent: 0, batches: 0 });
    }
    if (create.includes("tools/healthGate.ts")) {
        const { imageVersion, imageVersionId } = targetVersion(e, "healthGate");
        return JSON.stringify({ validatedImageVersion: imageVersion, imageVersionId, hostsChecked: 0, hostsPassed: 0 });
    }
    throw new Error(`offline preview cannot simulate the command ${JSON.stringify(create)}; add it to preview/commands.ts`);
}
