// `avd-image-rings:retention` (build ring only): how many published versions per image the build
// ring keeps in the gallery, and which other rings' stacks it reads so it never deletes what they
// pin, validated or would roll back to (src/lifecycle/retention.ts decides, tools/retention.ts deletes).
import { DEFAULTS, LIMITS } from "../tools/environment";
import type { Reader, StringRule } from "./reader";

export interface RetentionConfig {
    /** Newest versions kept per image, whatever else holds (1-100, default 5; seed 001 keeps 3-6). */
    keep: number;
    /** Fully-qualified stacks of the rings that run this ring's images ("org/avd-image-rings/pilot"). */
    protectStacks: string[];
    /** The deletion step's own deadline, in minutes. */
    deadlineMinutes: number;
}

const STACK: StringRule = {
    pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]*\/avd-image-rings\/[A-Za-z0-9_.-]+$/,
    hint: 'must be a fully-qualified stack name of this project, "<org>/avd-image-rings/<stack>"',
};

/**
 * Parses the retention block of the root reader, or undefined when the key is absent (retention is
 * opt-in: deleting gallery versions is never a default). `protectStacks` is required, `[]` included,
 * so a build ring cannot forget the rings downstream of it by leaving the key out.
 */
export function parseRetention(root: Reader, ring: { stack: string; promoteFrom?: string }): RetentionConfig | undefined {
    if (!root.has("retention")) {
        root.optObj("retention");
        return undefined;
    }
    if (ring.promoteFrom) {
        root.fail("retention", "is only allowed in the build ring (the ring without promoteFrom): the build ring owns the gallery and deletes its old versions; list this ring in the build ring's retention.protectStacks instead");
    }
    const r = root.obj("retention");
    if (!r.has("protectStacks")) {
        r.fail(
            "protectStacks",
            'is required: list every stack that runs this ring\'s images (e.g. ["<org>/avd-image-rings/pilot", "<org>/avd-image-rings/prod"]) so their pinned, validated and rollback versions are never deleted; write [] when no other ring uses them',
        );
    }
    const protectStacks = r.strList("protectStacks", STACK);
    protectStacks.forEach((s, i) => {
        if (s.split("/")[2] === ring.stack) r.fail(`protectStacks[${i}]`, `names this ring itself (${JSON.stringify(s)}); the build ring's own versions are protected without it`);
        if (protectStacks.indexOf(s) !== i) r.fail(`protectStacks[${i}]`, `lists ${JSON.stringify(s)} twice`);
    });
    const config: RetentionConfig = {
        keep: r.int("keep", LIMITS.retentionKeep, DEFAULTS.retentionKeep),
        protectStacks,
        deadlineMinutes: r.int("deadlineMinutes", LIMITS.retentionDeadlineMinutes, DEFAULTS.retentionDeadlineMinutes),
    };
    r.done();
    return config;
}
