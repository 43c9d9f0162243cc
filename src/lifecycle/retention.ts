// Gallery retention (issue 13 item 4): which published versions of one image definition may be
// deleted after a build. Pure: the offline preview, the program's plan and the deploy-time tool
// (tools/retention.ts) all decide with this one function, so the tool never deletes a version the
// plan did not list for a reason the plan did not know.
import * as semver from "semver";

/** What one ring (or one host pool of a ring) runs and has validated of this image. */
export interface RingPin {
    /** Where the facts come from, for messages: "org/avd-image-rings/prod hostPools.default". */
    ring: string;
    /** The version the ring pins (its stack file's imageVersion for this image). */
    imageVersion?: string;
    /** The version whose health gate last passed in the ring. */
    validatedImageVersion?: string;
}

/** One version as the gallery lists it. */
export interface GalleryVersion {
    name: string;
    /** properties.provisioningState: only Succeeded versions are ever deleted. */
    provisioningState: string;
    /** properties.replicationStatus.aggregatedState when Azure reported it. */
    replicationState?: string;
    /** properties.publishingProfile.endOfLifeDate (ISO 8601), when set. */
    endOfLifeDate?: string;
    /** properties.safetyProfile.blockDeletionBeforeEndOfLife. */
    blockDeletionBeforeEndOfLife?: boolean;
}

export interface RetentionPolicy {
    /** How many of the newest versions are kept whatever else holds. */
    keep: number;
    pins: readonly RingPin[];
    /** Now (ms since the epoch), for end-of-life dates. */
    now: number;
}

export interface KeptVersion {
    version: string;
    /** Every reason it stays, e.g. "pinned by .../prod", "rollback target of .../pilot". */
    reasons: string[];
}

export interface RetentionDecision {
    /** Versions to delete, oldest first. */
    delete: string[];
    /** Every other version with why it stays, newest first. */
    kept: KeptVersion[];
}

const isSucceeded = (v: GalleryVersion): boolean => /^succeeded$/i.test(v.provisioningState);

/** Replication reports InProgress (or a region Replicating) while a version is still being copied. */
const isReplicating = (v: GalleryVersion): boolean => v.replicationState !== undefined && !/^completed$/i.test(v.replicationState);

/**
 * The rollback target of a ring: the newest Succeeded version older than the version it pins.
 * It is what "Rollback: set an older published version" in the runbook goes back to, and the
 * promotion gate allows it (any published version at or below the upstream's validated one). The
 * program keeps no history of earlier deployments, so a ring that skipped releases (1.2.0 ->
 * 1.4.0 with 1.3.0 published) has 1.3.0 as its target; 1.2.0 is then protected only by `keep`.
 */
export function rollbackTarget(pinned: string, succeeded: readonly string[]): string | undefined {
    if (!semver.valid(pinned)) return undefined;
    return [...succeeded].filter((v) => semver.valid(v) && semver.lt(v, pinned)).sort(semver.rcompare)[0];
}

/**
 * Decides which versions to delete: everything outside the newest `keep`, unless some ring pins
 * it, has validated it, would roll back to it, it is not Succeeded (still creating, replicating,
 * failed or being deleted: deleting it is the build trigger's business, not retention's), its
 * name is not MAJOR.MINOR.PATCH (no order to judge it by), or Azure blocks its deletion until its
 * end-of-life date.
 */
export function selectRetention(versions: readonly GalleryVersion[], policy: RetentionPolicy): RetentionDecision {
    if (!Number.isInteger(policy.keep) || policy.keep < 1) throw new Error(`retention keep must be a whole number of at least 1, got ${policy.keep}`);
    const reasons = new Map<string, string[]>();
    const add = (version: string | undefined, reason: string) => {
        if (version === undefined || !reasons.has(version)) return;
        reasons.get(version)!.push(reason);
    };
    for (const v of versions) reasons.set(v.name, []);

    const ordered = versions.filter((v) => semver.valid(v.name)).sort((a, b) => semver.rcompare(a.name, b.name));
    for (const v of ordered.slice(0, policy.keep)) add(v.name, `among the newest ${policy.keep}`);
    const succeeded = versions.filter(isSucceeded).map((v) => v.name);
    for (const pin of policy.pins) {
        if (pin.imageVersion) add(pin.imageVersion, `pinned by ${pin.ring}`);
        if (pin.validatedImageVersion) add(pin.validatedImageVersion, `validated by ${pin.ring}`);
        for (const pinned of new Set([pin.imageVersion, pin.validatedImageVersion])) {
            if (pinned) add(rollbackTarget(pinned, succeeded), `rollback target of ${pin.ring} (next older than ${pinned})`);
        }
    }
    for (const v of versions) {
        if (!semver.valid(v.name)) add(v.name, "not a MAJOR.MINOR.PATCH name");
        if (!isSucceeded(v)) add(v.name, `provisioning state ${v.provisioningState}`);
        else if (isReplicating(v)) add(v.name, `replication ${v.replicationState}`);
        const eol = v.endOfLifeDate ? Date.parse(v.endOfLifeDate) : NaN;
        if (v.blockDeletionBeforeEndOfLife && !(eol <= policy.now)) {
            add(v.name, Number.isNaN(eol) ? "blockDeletionBeforeEndOfLife is set (no end-of-life date)" : `blockDeletionBeforeEndOfLife until its end of life ${v.endOfLifeDate}`);
        }
    }

    const byNewest = [...versions].sort((a, b) => compareNames(b.name, a.name));
    return {
        delete: byNewest
            .filter((v) => reasons.get(v.name)!.length === 0)
            .map((v) => v.name)
            .reverse(),
        kept: byNewest.filter((v) => reasons.get(v.name)!.length > 0).map((v) => ({ version: v.name, reasons: reasons.get(v.name)! })),
    };
}

/** Semver order, names that are not versions last (by text). */
function compareNames(a: string, b: string): number {
    const va = semver.valid(a) !== null;
    const vb = semver.valid(b) !== null;
    if (va && vb) return semver.compare(a, b);
    if (va !== vb) return va ? 1 : -1;
    return a.localeCompare(b);
}
