// The Manual-mode rollout's decisions, as pure functions of what Azure reports: which hosts
// form the next batch, when to stop, and how a re-run picks up where a failed or crashed
// run left off. Semantics follow the scale set's rollingUpgradePolicy (Azure's own rolling
// upgrade reads the same fields), plus the drain-aware safety of Azure/AVDSessionHostReplacer:
// only a batch's hosts are drained, capacity never drops below a floor, and batches start
// with a single canary host and grow while hosts come back healthy.
import { compareInstanceIds, isReady, isServing, notReadyReason, zoneBalanced, type HostState } from "./hosts";

export interface RolloutPolicy {
    /** Largest share of the scale set upgraded at once (Azure: maxBatchInstancePercent). */
    maxBatchInstancePercent: number;
    /** Largest share of the whole scale set, untouched hosts included, allowed unhealthy. */
    maxUnhealthyInstancePercent: number;
    /** Largest share of the hosts on the target image allowed unhealthy. */
    maxUnhealthyUpgradedInstancePercent: number;
    /** Upgrade hosts that are unhealthy before healthy ones. */
    prioritizeUnhealthyInstances: boolean;
}

/** What one run has done so far; a new run (a resume) starts empty. */
export interface RunProgress {
    /** Instance ids this run has already put through a batch. */
    attempted: ReadonlySet<string>;
    /** Cap on the next upgrade batch (progressive scale-up): 1, then doubling while batches come back healthy. */
    nextBatchLimit: number;
}

export function initialProgress(): RunProgress {
    return { attempted: new Set(), nextBatchLimit: 1 };
}

/** Hosts per full batch: the policy's share of the scale set, rounded down, at least one. */
export function batchSize(total: number, maxBatchInstancePercent: number): number {
    return Math.max(1, Math.floor((total * maxBatchInstancePercent) / 100));
}

/** Hosts that may be unhealthy at once under a percentage threshold (rounded down). */
export function unhealthyAllowance(total: number, percent: number): number {
    return Math.floor((total * percent) / 100);
}

/**
 * The fewest hosts that must keep taking users while a batch drains: the scale set minus a
 * full batch minus the hosts the policy allows to be unhealthy. Draining never goes below it.
 */
export function minimumServingHosts(total: number, policy: RolloutPolicy): number {
    return Math.max(0, total - batchSize(total, policy.maxBatchInstancePercent) - unhealthyAllowance(total, policy.maxUnhealthyInstancePercent));
}

/** Cap for the batch after one that ended with every upgraded host `healthy` (or not). */
export function nextBatchLimit(current: number, fullBatch: number, healthy: boolean): number {
    return healthy ? Math.min(fullBatch, Math.max(1, current) * 2) : 1;
}

/**
 * Hosts a crashed, stopped or failed run left behind: in drain mode by the rollout's own
 * marker, but not yet dealt with by this run. They are finished first, and not judged by
 * the thresholds until they have been. Hosts someone else drained are not leftovers.
 */
export function isLeftDraining(h: HostState, progress: RunProgress): boolean {
    return h.draining && h.drainedByRollout === true && !progress.attempted.has(h.instanceId);
}

/** In drain mode, but not by the rollout (an administrator's maintenance): upgraded when in scope, never undrained. */
export function isDrainedByOthers(h: HostState): boolean {
    return h.draining && h.drainedByRollout !== true;
}

export interface ThresholdBreach {
    kind: "unhealthy" | "unhealthyUpgraded";
    /** e.g. "3 of 10 hosts are unhealthy (30% > maxUnhealthyInstancePercent 20%)" */
    message: string;
    hosts: HostState[];
}

function percent(part: number, whole: number): number {
    return whole === 0 ? 0 : (part * 100) / whole;
}

function formatPercent(p: number): string {
    return `${Number.isInteger(p) ? p : p.toFixed(1)}%`;
}

/**
 * Azure's two rolling-upgrade thresholds over the current state: unhealthy hosts over the
 * whole scale set (untouched hosts included), and unhealthy hosts over those already on the
 * target image. Exceeding either (strictly) stops the rollout. Hosts still in flight (busy,
 * left draining and not yet finished, or `inFlight`: a paced rollout's hosts whose health
 * timeout still runs) are not judged yet.
 */
export function checkThresholds(hosts: readonly HostState[], policy: RolloutPolicy, progress: RunProgress, inFlight: ReadonlySet<string> = new Set()): ThresholdBreach | undefined {
    const judged = hosts.filter((h) => !h.busy && !isLeftDraining(h, progress) && !inFlight.has(h.instanceId));
    const upgraded = judged.filter((h) => h.onTarget);
    const unhealthyUpgraded = upgraded.filter((h) => !isReady(h));
    const p2 = percent(unhealthyUpgraded.length, upgraded.length);
    if (unhealthyUpgraded.length > 0 && p2 > policy.maxUnhealthyUpgradedInstancePercent) {
        return {
            kind: "unhealthyUpgraded",
            message: `${unhealthyUpgraded.length} of ${upgraded.length} host(s) on the new image are unhealthy (${formatPercent(p2)} > maxUnhealthyUpgradedInstancePercent ${policy.maxUnhealthyUpgradedInstancePercent}%)`,
            hosts: unhealthyUpgraded,
        };
    }
    const unhealthy = judged.filter((h) => !isReady(h));
    const p1 = percent(unhealthy.length, hosts.length);
    if (unhealthy.length > 0 && p1 > policy.maxUnhealthyInstancePercent) {
        return {
            kind: "unhealthy",
            message: `${unhealthy.length} of ${hosts.length} host(s) in the scale set are unhealthy (${formatPercent(p1)} > maxUnhealthyInstancePercent ${policy.maxUnhealthyInstancePercent}%)`,
            hosts: unhealthy,
        };
    }
    return undefined;
}

export type Plan =
    /** Azure operations are still running on these instances (e.g. an upgrade a crashed run started): wait, then plan again. */
    | { kind: "wait"; hosts: HostState[] }
    | { kind: "stop"; reason: string; hosts: HostState[] }
    | { kind: "done" }
    | {
          kind: "batch";
          /** Finishing hosts a previous run left in drain mode. */
          resume: boolean;
          /** Drain, wait for users to leave, upgrade, wait for health, return to service. */
          upgrade: HostState[];
          /** Already on the target image: wait for health, return to service. */
          finish: HostState[];
      };

/** Order of upgrade candidates: (unhealthy first when prioritised,) zone-balanced, fewest users first. */
export function orderCandidates(hosts: readonly HostState[], prioritizeUnhealthy: boolean): HostState[] {
    const byUsers = (a: HostState, b: HostState) => a.sessions - b.sessions || compareInstanceIds(a.instanceId, b.instanceId);
    if (!prioritizeUnhealthy) return zoneBalanced(hosts, byUsers);
    return [...zoneBalanced(hosts.filter((h) => !isReady(h)), byUsers), ...zoneBalanced(hosts.filter(isReady), byUsers)];
}

/**
 * The next step of a rollout, from a fresh snapshot of every instance of the scale set.
 * Order of business: wait out running operations; stop on a threshold breach; finish what
 * an earlier run left in drain mode; otherwise pick the next batch of hosts not on the
 * target image, never draining more than the batch allows nor below the serving floor.
 */
export function planNextBatch(hosts: readonly HostState[], policy: RolloutPolicy, progress: RunProgress): Plan {
    const busy = hosts.filter((h) => h.busy);
    if (busy.length > 0) return { kind: "wait", hosts: busy };

    const breach = checkThresholds(hosts, policy, progress);
    if (breach) return { kind: "stop", reason: breach.message, hosts: breach.hosts };

    const total = hosts.length;
    const fullBatch = batchSize(total, policy.maxBatchInstancePercent);

    const leftovers = zoneBalanced(
        hosts.filter((h) => isLeftDraining(h, progress)),
        (a, b) => compareInstanceIds(a.instanceId, b.instanceId),
    ).slice(0, fullBatch);
    if (leftovers.length > 0) {
        return { kind: "batch", resume: true, upgrade: leftovers.filter((h) => !h.onTarget), finish: leftovers.filter((h) => h.onTarget) };
    }

    // Hosts an administrator drained are upgraded too (they cost no serving capacity) but stay drained.
    const candidates = hosts.filter((h) => !h.onTarget && (!h.draining || isDrainedByOthers(h)) && !progress.attempted.has(h.instanceId));
    if (candidates.length === 0) return { kind: "done" };

    const limit = Math.min(fullBatch, Math.max(1, progress.nextBatchLimit));
    const floor = minimumServingHosts(total, policy);
    let serving = hosts.filter(isServing).length;
    const batch: HostState[] = [];
    for (const h of orderCandidates(candidates, policy.prioritizeUnhealthyInstances)) {
        if (batch.length >= limit) break;
        if (isServing(h)) {
            if (serving - 1 < floor) continue;
            serving -= 1;
        }
        batch.push(h);
    }
    if (batch.length === 0) {
        const notServing = hosts.filter((h) => !isServing(h));
        return {
            kind: "stop",
            reason: `draining another host would leave fewer than ${floor} of ${total} host(s) taking new users (${notServing.length} already do not: ${notServing.map((h) => `${h.name} (${h.draining ? "drain mode" : notReadyReason(h)})`).join(", ")})`,
            hosts: notServing,
        };
    }
    return { kind: "batch", resume: false, upgrade: batch, finish: [] };
}
