// The build tool's result. tools/buildImage.ts reports progress on stderr and prints one JSON
// object as the last line of stdout; the component reads its outputs from that line.
import * as semver from "semver";
import { parseReleaseNotes, type ReleaseNotes } from "../lifecycle/releaseNotes";
import { toolResultObject, toolResultProblem } from "../tools/toolResult";

export interface BuildResult {
    imageVersion: string;
    imageVersionId: string;
    runState: string;
    /** True when the version already existed with the same ContentHash and no build ran. */
    reusedExistingVersion: boolean;
    /** Versions published (Succeeded) in the image definition, ascending. */
    publishedImageVersions: string[];
    /**
     * The marketplace image version Image Builder built from (the template's `source.exactVersion`,
     * which resolves "latest"); absent when Azure did not report it.
     */
    baseImageExactVersion?: string;
    /** What the version contains and what changed from the previous one (src/lifecycle/releaseNotes.ts). */
    releaseNotes: ReleaseNotes;
}

function fail(problem: string, stdout: string): never {
    return toolResultProblem("tools/buildImage.ts", problem, stdout);
}

/** Parses the last non-empty stdout line; fails with the output's tail when it is not the expected JSON. */
export function parseBuildResult(stdout: string): BuildResult {
    const r = toolResultObject("tools/buildImage.ts", stdout);
    for (const key of ["imageVersion", "imageVersionId", "runState"] as const) {
        if (typeof r[key] !== "string") fail(`its result has no string "${key}"`, stdout);
    }
    if (typeof r.reusedExistingVersion !== "boolean") fail(`its result has no boolean "reusedExistingVersion"`, stdout);
    const versions = r.publishedImageVersions;
    if (!Array.isArray(versions) || versions.some((v) => typeof v !== "string" || semver.valid(v) === null)) {
        fail(`its result has no "publishedImageVersions" list of MAJOR.MINOR.PATCH versions`, stdout);
    }
    if (r.baseImageExactVersion !== undefined && typeof r.baseImageExactVersion !== "string") fail(`its result's "baseImageExactVersion" is not a string`, stdout);
    let releaseNotes: ReleaseNotes;
    try {
        releaseNotes = parseReleaseNotes(r.releaseNotes);
    } catch (e) {
        fail(`its result's "releaseNotes" are not release notes (${e instanceof Error ? e.message : String(e)})`, stdout);
    }
    return {
        imageVersion: r.imageVersion as string,
        imageVersionId: r.imageVersionId as string,
        runState: r.runState as string,
        reusedExistingVersion: r.reusedExistingVersion,
        publishedImageVersions: [...(versions as string[])].sort(semver.compare),
        ...(typeof r.baseImageExactVersion === "string" ? { baseImageExactVersion: r.baseImageExactVersion } : {}),
        releaseNotes,
    };
}

/** Fails when the tool reports a different version than the one this stack builds, or does not list it as published. */
export function checkBuildResult(result: BuildResult, imageVersion: string): BuildResult {
    if (result.imageVersion !== imageVersion) {
        throw new Error(`tools/buildImage.ts reported image version ${result.imageVersion}, but this stack builds ${imageVersion}`);
    }
    if (!result.publishedImageVersions.includes(imageVersion)) {
        throw new Error(
            `tools/buildImage.ts finished (${result.runState}) but image version ${imageVersion} is not among the published versions [${result.publishedImageVersions.join(", ")}]`,
        );
    }
    return result;
}
