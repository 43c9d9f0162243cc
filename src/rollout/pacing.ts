// What the two rollouts paced by host share (strategy surge, and strategy reimage with pacing
// host): how many hosts may be in flight at once, and in which order hosts leave service. A
// slot frees as soon as its host is done, so one user who stays signed in holds one slot, not
// the rollout.
import { isReady, zoneBalanced, compareInstanceIds, type HostState } from "./hosts";

/**
 * How many hosts may be in flight at once. Two bounds: the step (maxBatchInstancePercent of the
 * scale set) bounds every host in flight, and a smaller, growing bound covers the hosts whose
 * verdict is still open (on the new image, not yet healthy and Available): one at first (the
 * canary), one more for every host that comes back healthy since the start or the last failure,
 * so each round of good verdicts doubles it. A host that fails sets it back to one.
 */
export class SlotWindow {
    private readySinceFailure = 0;

    constructor(
        /** Most hosts in flight at once: the step size. */
        readonly step: number,
    ) {}

    /** Most hosts with an open verdict at once. */
    get unverified(): number {
        return Math.min(this.step, 1 + this.readySinceFailure);
    }

    /** No host has come back healthy since the start or the last failure: the next one is a canary. */
    get canary(): boolean {
        return this.readySinceFailure === 0;
    }

    hostReady(): void {
        this.readySinceFailure += 1;
    }

    hostFailed(): void {
        this.readySinceFailure = 0;
    }
}

/**
 * The order in which a paced rollout takes hosts out of service. When `fastVerdicts` (the
 * canary: no host has come back healthy yet), the fewest user sessions first: little is at
 * stake if the image is bad, and it drains fast, so the verdict comes early. Otherwise the most
 * sessions first: hosts with more users take longest to drain, and starting the longest work
 * first keeps the end of the rollout from waiting on a few late hosts
 * (longest-processing-time-first scheduling). Hosts with as many sessions spread over
 * availability zones; unhealthy hosts come first when the policy prioritises them.
 */
export function pacedOrder<T extends HostState>(hosts: readonly T[], prioritizeUnhealthy: boolean, fastVerdicts: boolean): T[] {
    const bySessions = (group: readonly T[]): T[] => {
        const counts = [...new Set(group.map((h) => h.sessions))].sort((a, b) => (fastVerdicts ? a - b : b - a));
        return counts.flatMap((n) => zoneBalanced(group.filter((h) => h.sessions === n), (a, b) => compareInstanceIds(a.instanceId, b.instanceId)));
    };
    if (!prioritizeUnhealthy) return bySessions(hosts);
    return [...bySessions(hosts.filter((h) => !isReady(h))), ...bySessions(hosts.filter(isReady))];
}
