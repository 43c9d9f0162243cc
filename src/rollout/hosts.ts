// One session host as the rollout sees it: a scale-set instance joined with its AVD session
// host. Both tools build these from Azure's answers on every batch, so nothing about a
// rollout's progress lives anywhere but in Azure.

/** The Application Health extension's verdict (instanceView.vmHealth.status.code). */
export type HealthSignal = "healthy" | "unhealthy" | "unknown" | "none";

export interface HostState {
    /** Scale-set instance id ("0", "1", ...). */
    instanceId: string;
    /** Computer name (or the session host name) for people to read. */
    name: string;
    zone?: string;
    /** The AVD session host name; undefined when the instance never registered in the host pool. */
    sessionHostName?: string;
    /** Gallery image version the instance runs, for reports ("1.1.0"). */
    imageVersion?: string;
    /** The instance has the scale set's latest model and runs the target image version. */
    onTarget: boolean;
    /** An Azure operation (upgrade, reimage) is still running on the instance. */
    busy: boolean;
    health: HealthSignal;
    /** AVD session host status (Available, Unavailable, UpgradeFailed, ...); undefined when not registered. */
    avdStatus?: string;
    /** Drain mode: the session host accepts no new sessions (allowNewSession = false). */
    draining: boolean;
    /**
     * The rollout put the host in drain mode (its marker on the scale set says so). A host in
     * drain mode without it was drained by someone else, and the rollout never undrains it.
     */
    drainedByRollout?: boolean;
    /** The AVD status predates the instance's last upgrade: the agent has not reported since. */
    heartbeatStale?: boolean;
    /** User sessions on the host, active or disconnected. */
    sessions: number;
}

/** Healthy for users: the health probe answers Healthy and AVD reports the agent Available. */
export function isReady(h: HostState): boolean {
    return h.health === "healthy" && h.avdStatus === "Available" && h.heartbeatStale !== true;
}

/** Takes new users now. */
export function isServing(h: HostState): boolean {
    return isReady(h) && !h.draining;
}

/** Why a host is not ready, in words for the failure report. */
export function notReadyReason(h: HostState): string {
    const reasons: string[] = [];
    if (h.busy) reasons.push("an Azure operation is still running");
    if (h.health !== "healthy") reasons.push(h.health === "none" ? "no Application Health signal" : `health probe ${h.health}`);
    if (h.avdStatus === undefined) reasons.push("not registered in the host pool");
    else if (h.avdStatus !== "Available") reasons.push(`AVD status ${h.avdStatus}`);
    else if (h.heartbeatStale === true) reasons.push("no AVD agent heartbeat since the upgrade");
    return reasons.join(", ");
}

/** Numeric order of instance ids ("2" before "10"). */
export function compareInstanceIds(a: string, b: string): number {
    const na = Number(a);
    const nb = Number(b);
    if (Number.isInteger(na) && Number.isInteger(nb) && na !== nb) return na - nb;
    return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Orders hosts so consecutive picks spread evenly over availability zones: each next host
 * comes from the zone with the smallest share already taken (then the zone with most left),
 * so a batch never takes a zone's capacity out ahead of the others. Within a zone the
 * given comparator decides.
 */
export function zoneBalanced<T extends { zone?: string }>(hosts: readonly T[], compare: (a: T, b: T) => number): T[] {
    const zones = new Map<string, T[]>();
    for (const h of hosts) {
        const key = h.zone ?? "";
        const list = zones.get(key) ?? [];
        list.push(h);
        zones.set(key, list);
    }
    const queues = [...zones.entries()].map(([zone, list]) => ({ zone, list: [...list].sort(compare), total: list.length, taken: 0 }));
    const out: T[] = [];
    while (out.length < hosts.length) {
        const open = queues.filter((q) => q.taken < q.total);
        open.sort((a, b) => a.taken / a.total - b.taken / b.total || b.total - b.taken - (a.total - a.taken) || (a.zone < b.zone ? -1 : a.zone > b.zone ? 1 : 0));
        const q = open[0];
        out.push(q.list[q.taken]);
        q.taken += 1;
    }
    return out;
}
