// Offline, the rings a build ring's retention protects (`retention.protectStacks`) cannot be
// evaluated first: they promote from the build ring, so evaluating them would need it. Their
// outputs are taken from their stack files instead, with the preview's usual assumption that a
// ring runs and has validated the version it pins (the health gate passes offline too).
import type { StackConfig } from "./stackConfig";

const VERSION_KEY = "avd-image-rings:imageVersion";

/** The outputs a protect stack is assumed to export, and the note the preview prints about it. */
export function assumedRingOutputs(cfg: StackConfig): { outputs: Record<string, unknown>; note: string } | undefined {
    const version = cfg.config[VERSION_KEY];
    if (!version) return undefined;
    return {
        outputs: { imageVersion: version, validatedImageVersion: version },
        note: `retention: ${cfg.stack} is read from Pulumi.${cfg.stack}.yaml, taken to run and have validated ${version} (offline assumption)`,
    };
}
