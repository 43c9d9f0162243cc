// Offline, the rings a build ring's retention protects (`retention.protectStacks`) cannot be
// evaluated first: they promote from the build ring, so evaluating them would need it. Their
// outputs are taken from their stack files instead, with the preview's usual assumption that a
// ring runs and has validated the versions it pins (the health gate passes offline too).
import type { ImageOutputs } from "../src/promotion/ringOutputs";
import type { StackConfig } from "./stackConfig";

/** The outputs a protect stack is assumed to export (`images.<name>.{imageVersion, validatedImageVersion}`), and the preview's note. */
export function assumedRingOutputs(stack: string, pinned: Record<string, string>): { outputs: { images: Record<string, Pick<ImageOutputs, "imageVersion" | "validatedImageVersion">> }; note: string } | undefined {
    const entries = Object.entries(pinned);
    if (entries.length === 0) return undefined;
    return {
        outputs: { images: Object.fromEntries(entries.map(([image, version]) => [image, { imageVersion: version, validatedImageVersion: version }])) },
        note: `retention: ${stack} is read from Pulumi.${stack}.yaml, taken to run and have validated ${entries.map(([image, v]) => `${image} ${v}`).join(", ")} (offline assumption)`,
    };
}

const PROMOTE_KEY = "avd-image-rings:promoteFrom";
const RETENTION_KEY = "avd-image-rings:retention";

/**
 * The preview knows every stack file of the repository, the program only its own: a ring that runs
 * the build ring's images (it promotes from it, directly or through other rings) but is missing
 * from `retention.protectStacks` would lose the versions it pins. Returns a note naming them.
 */
export function unprotectedRingsNote(build: Pick<StackConfig, "project" | "stack" | "config">, all: ReadonlyArray<Pick<StackConfig, "stack" | "config">>): string | undefined {
    let retention: unknown;
    try {
        retention = JSON.parse(build.config[RETENTION_KEY] ?? "null");
    } catch {
        return undefined;
    }
    const listed = (retention as { protectStacks?: unknown } | null)?.protectStacks;
    if (!Array.isArray(listed)) return undefined;
    const upstreamOf = (c: Pick<StackConfig, "config">) => c.config[PROMOTE_KEY]?.split("/")[2];
    const downstream = all.filter((c) => {
        const seen = new Set<string>();
        for (let up = upstreamOf(c); up !== undefined && !seen.has(up); up = upstreamOf(all.find((x) => x.stack === up) ?? { config: {} })) {
            if (up === build.stack) return true;
            seen.add(up);
        }
        return false;
    });
    const missing = downstream.filter((c) => !listed.some((s) => typeof s === "string" && s.split("/")[1] === build.project && s.split("/")[2] === c.stack)).map((c) => c.stack);
    if (missing.length === 0) return undefined;
    return `retention: ${missing.map((s) => `Pulumi.${s}.yaml`).join(", ")} ${missing.length === 1 ? "runs" : "run"} this ring's images but ${missing.length === 1 ? "is" : "are"} not in ${RETENTION_KEY}.protectStacks, so the versions ${missing.length === 1 ? "it pins" : "they pin"} may be deleted; add ${missing.length === 1 ? "it" : "them"}`;
}
