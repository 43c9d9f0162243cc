// The build tool's result. tools/buildImage.ts reports progress on stderr and prints one JSON
// object as the last line of stdout; the component reads its outputs from that line.
import * as semver from "semver";
import { parseReleaseNotes, type ReleaseNotes } from "../lifecycle/releaseNotes";

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
    // The result line carries the release notes (tens of KB): quote only the start of each line.
    const tail = stdout.trim().split("\n").slice(-5).map((l) => (l.length > 400 ? `${l.slice(0, 400)}… (${l.length} characters)` : l)).join("\n");
    throw new Error(`tools/buildImage.ts: ${problem}; the last line of its output must be its JSON result. Output ended with:\n${tail || "(no output)"}`);
}

/** Parses the last non-empty stdout line; fails with the output's tail when it is not the expected JSON. */
export function parseBuildResult(stdout: string): BuildResult {
    const lines = stdout.split(/\r?\n/).filter((l) => l.trim() !== "");
    if (lines.length === 0) fail("printed nothing on stdout", stdout);
    let parsed: unknown;
    try {
        parsed = JSON.parse(lines[lines.length - 1]);
    } catch {
        fail("its last stdout line is not JSON", stdout);
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) fail("its last stdout line is not a JSON object", stdout);
    const r = parsed as Record<string, unknown>;
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
