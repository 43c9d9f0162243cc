// Microsoft.DesktopVirtualization (api-version 2024-04-03) for the rollout and health-gate
// tests: host pool GET, session hosts list/get/PATCH (allowNewSession = drain mode), user
// sessions per host and per host pool, log off (DELETE ?force=true) and sendMessage. None of
// these is a long-running operation in the spec: each answers 200 at once.
// Session hosts are the instances of a fake scale set (ComputeModule): their resourceId is
// the VMSS VM id, and their `status` is what the AVD agent said in its last heartbeat, as in
// AVD: the agent heartbeats every `heartbeatSeconds` while it runs, `lastHeartBeat` advances
// with it, a host whose VM went down keeps its last status until the heartbeat is
// `heartbeatTimeoutSeconds` overdue (then Unavailable), and a reimaged host reports again only
// once its agent has re-registered. User sessions take the spec's SessionState values: users
// sign out through LogOff, a forced log off passes through LogOff until the next heartbeat,
// Disconnected users may reconnect, and sendMessage to a session that is not Active answers
// 200 without the user seeing it. An upgrade or reimage ends every user session still on the
// host, which the module records, so a test can prove nobody was thrown out by a reimage.
// Scale-out and scale-in, for the surge rollout: a new instance's agent registers as a session
// host `registerSeconds` after its VM runs (allowNewSession true, status from its first
// heartbeat); until then the pool does not list it. SessionHosts_Delete (200, or 204 when the
// host does not exist) refuses a host that still has user sessions unless `force=true` (the
// spec's `force`: "force sessionHost deletion even when userSession exists"; the spec gives the
// refusal no own status, the fake answers 400 as a CloudError). Deleting a VM whose session
// host still has sessions records them, as a reimage does.
import { parseResourceId } from "../../tools/azure/ids";
import type { ComputeModule } from "./compute";
import { exampleBody, exampleListItem, type FakeAzure, type FakeRequest, type FakeResponse, type ResourceProviderModule } from "./server";

export const DESKTOP_VIRTUALIZATION_API_VERSION = "2024-04-03";

/** SessionState in desktopvirtualization 2024-04-03. */
export type SessionState = "Unknown" | "Active" | "Disconnected" | "Pending" | "LogOff" | "UserProfileDiskMounted";

export interface UserSessionSeed {
    userPrincipalName?: string;
    state?: SessionState;
    /**
     * Reads of the host's sessions (session host or user session lists) while the host is in
     * drain mode before the user signs out; "never" keeps the session until logged off.
     * Default: 1 (the user leaves right after the first look).
     */
    endsAfterPolls?: number | "never";
    /**
     * Instead of endsAfterPolls: the user signs out this many seconds after the host goes into
     * drain mode (when the rollout's warning goes out), however often the host is looked at.
     */
    signsOutAfterDrainSeconds?: number;
    /** The session changes state (e.g. a Disconnected user reconnects) after this many reads of the host's sessions, drained or not. */
    becomes?: { state: SessionState; afterPolls: number };
}

export interface SessionHostScenario {
    /** Status before any upgrade (default Available). */
    status?: string;
    /** Status once the agent has re-registered after an upgrade/reimage (default Available). */
    statusAfterUpgrade?: string;
    /** Seconds from the instance running again to the agent reporting (default 120). */
    registerSeconds?: number;
}

export interface HostPoolSeed {
    /** `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.DesktopVirtualization/hostPools/{name}` */
    id: string;
    /** The fake scale set whose instances are the pool's session hosts. */
    scaleSetId: string;
    location?: string;
    /** Appended to computer names to form session host names, e.g. ".contoso.local". */
    hostNameSuffix?: string;
    /** Instances that never registered in the pool. */
    unregistered?: string[];
}

export interface AcceptingSample {
    time: number;
    hostPoolId: string;
    /** Session hosts that would take a new user now: registered, Available, not in drain mode, their VM not being deleted. */
    accepting: number;
    /** What was just answered. */
    after: string;
}

export interface MessageRecord {
    sessionHostName: string;
    sessionId: string;
    userPrincipalName: string;
    title: string;
    body: string;
    time: number;
    /** Whether the user saw it: only an Active session shows a message. */
    seen: boolean;
    /** The session's state when the message arrived. */
    sessionState: SessionState;
}

export interface LogoffRecord {
    sessionHostName: string;
    sessionId: string;
    userPrincipalName: string;
    force: boolean;
    time: number;
    /** The session's state when it was signed out. */
    sessionState: SessionState;
}

export interface DrainRecord {
    sessionHostName: string;
    allowNewSession: boolean;
    time: number;
}

export interface SessionHostSnapshot {
    name: string;
    instanceId: string;
    allowNewSession: boolean;
    status: string;
    sessions: Array<{ id: string; userPrincipalName: string; state: SessionState }>;
}

interface UserSession {
    id: string;
    userPrincipalName: string;
    state: SessionState;
    createTime: number;
    pollsLeft: number | "never";
    signsOutAfterDrainMs?: number;
    becomes?: { state: SessionState; afterPolls: number };
    /** Set once the user signs out (state LogOff): the session disappears at this time. */
    goneAt?: number;
}

interface SessionHost {
    name: string;
    instanceId: string;
    allowNewSession: boolean;
    scenario: Required<SessionHostScenario>;
    sessions: UserSession[];
    statusTimestamp: number;
    /** When the host last went into drain mode through the API. */
    drainedAt?: number;
    /** When its VM was deleted (or Azure started deleting it). */
    removedAt?: number;
    /** A new instance's host: the pool lists it from this time (its agent's first registration). */
    registersAt?: number;
    /** The VMSS VM id and VM id it registered with (kept after the VM is deleted, as AVD does). */
    resourceId: string;
    vmId: string;
}

interface HostPool {
    id: string;
    name: string;
    resourceGroupName: string;
    location: string;
    scaleSetId: string;
    hostNameSuffix: string;
    hosts: Map<string, SessionHost>;
    /** Scenarios the next new instances' session hosts take, in order. */
    nextScenarios: SessionHostScenario[];
    nextSessionId: number;
}

function lower(id: string): string {
    return id.replace(/\/+$/, "").toLowerCase();
}

export interface DesktopVirtualizationOptions {
    compute: ComputeModule;
    /** How often the AVD agent reports (default 30 s). */
    heartbeatSeconds?: number;
    /** How overdue a heartbeat is before AVD reports the host Unavailable (default 90 s). */
    heartbeatTimeoutSeconds?: number;
    /** Sample the hosts accepting new sessions after every request (`acceptingSamples`; costs a pass over the pool per request). */
    sampleAccepting?: boolean;
}

export class DesktopVirtualizationModule implements ResourceProviderModule {
    readonly messages: MessageRecord[] = [];
    readonly logoffs: LogoffRecord[] = [];
    readonly drainChanges: DrainRecord[] = [];
    /** Sessions that were still on a host when Azure upgraded or reimaged it. */
    readonly sessionsLostToReimage: Array<{ sessionHostName: string; userPrincipalName: string; time: number }> = [];
    /** Sessions that were still on a session host when it or its VM was deleted. */
    readonly sessionsLostToDeletion: Array<{ sessionHostName: string; userPrincipalName: string; time: number; by: "vm" | "sessionHost" }> = [];
    /** Every session host removed from a pool (SessionHosts_Delete answered 200). */
    readonly sessionHostDeletions: Array<{ sessionHostName: string; force: boolean; time: number }> = [];
    /** Hosts accepting new sessions, sampled after every request the compute and AVD modules answer (with `sampleAccepting`). */
    readonly acceptingSamples: AcceptingSample[] = [];
    private fake?: FakeAzure;
    private readonly pools = new Map<string, HostPool>();
    private readonly compute: ComputeModule;

    readonly heartbeatMs: number;
    readonly heartbeatTimeoutMs: number;
    private readonly sampling: boolean;

    constructor(options: DesktopVirtualizationOptions) {
        this.compute = options.compute;
        this.heartbeatMs = (options.heartbeatSeconds ?? 30) * 1000;
        this.heartbeatTimeoutMs = (options.heartbeatTimeoutSeconds ?? 90) * 1000;
        this.sampling = options.sampleAccepting ?? false;
        this.compute.onRemove((scaleSetId, instanceId) => {
            // A deleted VM's session host stays registered (AVD does not remove it) and stops heartbeating.
            for (const pool of this.poolsOf(scaleSetId)) {
                const host = [...pool.hosts.values()].find((h) => h.instanceId === instanceId);
                if (host && host.removedAt === undefined) host.removedAt = this.now();
                if (host && host.registersAt !== undefined && this.now() < host.registersAt) pool.hosts.delete(host.name.toLowerCase());
            }
        });
        this.compute.onDeleteBegin((scaleSetId, instanceId, at) => {
            for (const pool of this.poolsOf(scaleSetId)) {
                const host = [...pool.hosts.values()].find((h) => h.instanceId === instanceId);
                if (!host) continue;
                for (const s of this.present(host, at)) this.sessionsLostToDeletion.push({ sessionHostName: host.name, userPrincipalName: s.userPrincipalName, time: at, by: "vm" });
                host.sessions = [];
                host.removedAt = at;
            }
        });
        this.compute.onCreate((scaleSetId, instanceId, runsAt) => {
            for (const pool of this.poolsOf(scaleSetId)) {
                const scenario = { status: "Available", statusAfterUpgrade: "Available", registerSeconds: 120, ...pool.nextScenarios.shift() };
                const name = `${this.compute.computerName(scaleSetId, instanceId)}${pool.hostNameSuffix}`;
                pool.hosts.set(name.toLowerCase(), {
                    name,
                    instanceId,
                    allowNewSession: true,
                    scenario,
                    sessions: [],
                    statusTimestamp: runsAt,
                    registersAt: runsAt + scenario.registerSeconds * 1000,
                    resourceId: this.compute.instanceResourceId(scaleSetId, instanceId),
                    vmId: this.compute.vmId(scaleSetId, instanceId),
                });
            }
        });
        this.compute.afterRequest((what) => this.sample(what));
        this.compute.onReimage((scaleSetId, instanceId, kind, at) => {
            if (kind !== "begin") return;
            for (const pool of this.pools.values()) {
                if (lower(pool.scaleSetId) !== lower(scaleSetId)) continue;
                const host = [...pool.hosts.values()].find((h) => h.instanceId === instanceId);
                if (!host) continue;
                for (const s of host.sessions.filter((x) => x.goneAt === undefined || at < x.goneAt)) this.sessionsLostToReimage.push({ sessionHostName: host.name, userPrincipalName: s.userPrincipalName, time: at });
                host.sessions = [];
                host.statusTimestamp = at;
            }
        });
    }

    install(fake: FakeAzure): void {
        this.fake = fake;
        const pool = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.DesktopVirtualization/hostPools/{hostPoolName}";
        const host = `${pool}/sessionHosts/{sessionHostName}`;
        const v = DESKTOP_VIRTUALIZATION_API_VERSION;
        const crash = this.compute.crash;
        const guard = (h: (req: FakeRequest) => FakeResponse): ((req: FakeRequest) => FakeResponse) => (req) => {
            const refused = crash.refuse();
            if (refused) return refused;
            this.compute.settle(req.now);
            const res = h(req);
            this.sample(`${req.method} ${req.path}`);
            return crash.trips(req) ? (crash.refuse() as FakeResponse) : res;
        };
        fake.route({ method: "GET", pattern: pool, apiVersion: v, handler: guard((r) => this.getPool(r)) });
        fake.route({ method: "GET", pattern: `${pool}/sessionHosts`, apiVersion: v, handler: guard((r) => this.listHosts(r)) });
        fake.route({ method: "GET", pattern: host, apiVersion: v, handler: guard((r) => this.getHost(r)) });
        fake.route({ method: "PATCH", pattern: host, apiVersion: v, handler: guard((r) => this.patchHost(r)) });
        fake.route({ method: "DELETE", pattern: host, apiVersion: v, handler: guard((r) => this.deleteHost(r)) });
        fake.route({ method: "GET", pattern: `${pool}/userSessions`, apiVersion: v, handler: guard((r) => this.listPoolSessions(r)) });
        fake.route({ method: "GET", pattern: `${host}/userSessions`, apiVersion: v, handler: guard((r) => this.listHostSessions(r)) });
        fake.route({ method: "DELETE", pattern: `${host}/userSessions/{userSessionId}`, apiVersion: v, handler: guard((r) => this.logOff(r)) });
        fake.route({ method: "POST", pattern: `${host}/userSessions/{userSessionId}/sendMessage`, apiVersion: v, handler: guard((r) => this.sendMessage(r)) });
    }

    // ---- seeding and inspection ----

    addHostPool(seed: HostPoolSeed): void {
        const id = parseResourceId(seed.id);
        const pool: HostPool = {
            id: seed.id,
            name: id.name,
            resourceGroupName: id.resourceGroupName ?? "",
            location: seed.location ?? "westeurope",
            scaleSetId: seed.scaleSetId,
            hostNameSuffix: seed.hostNameSuffix ?? "",
            hosts: new Map(),
            nextScenarios: [],
            nextSessionId: 1,
        };
        for (const instanceId of this.compute.instanceIds(seed.scaleSetId)) {
            if (seed.unregistered?.includes(instanceId)) continue;
            const name = `${this.compute.computerName(seed.scaleSetId, instanceId)}${seed.hostNameSuffix ?? ""}`;
            pool.hosts.set(name.toLowerCase(), {
                name,
                instanceId,
                allowNewSession: true,
                scenario: { status: "Available", statusAfterUpgrade: "Available", registerSeconds: 120 },
                sessions: [],
                statusTimestamp: Date.UTC(2025, 11, 1),
                resourceId: this.compute.instanceResourceId(seed.scaleSetId, instanceId),
                vmId: this.compute.vmId(seed.scaleSetId, instanceId),
            });
        }
        this.pools.set(lower(seed.id), pool);
    }

    /** Signs users in to the session host of an instance. */
    addUserSessions(hostPoolId: string, instanceId: string, sessions: UserSessionSeed[]): void {
        const pool = this.pool(hostPoolId);
        const host = this.hostOf(pool, instanceId);
        for (const s of sessions) {
            const n = pool.nextSessionId++;
            host.sessions.push({
                id: String(n),
                userPrincipalName: s.userPrincipalName ?? `user${n}@contoso.com`,
                state: s.state ?? "Active",
                createTime: this.now(),
                pollsLeft: s.endsAfterPolls ?? 1,
                ...(s.signsOutAfterDrainSeconds === undefined ? {} : { signsOutAfterDrainMs: s.signsOutAfterDrainSeconds * 1000 }),
                becomes: s.becomes && { ...s.becomes },
            });
        }
    }

    scenario(hostPoolId: string, instanceId: string, scenario: SessionHostScenario): void {
        const host = this.hostOf(this.pool(hostPoolId), instanceId);
        host.scenario = { ...host.scenario, ...scenario };
    }

    /** The session hosts of the next new instances take these scenarios, in order (then the defaults). */
    nextSessionHosts(hostPoolId: string, scenarios: SessionHostScenario[]): void {
        this.pool(hostPoolId).nextScenarios.push(...scenarios);
    }

    /** Hosts that would take a new user now (see AcceptingSample). */
    accepting(hostPoolId: string): number {
        const pool = this.pool(hostPoolId);
        const now = this.now();
        return this.listed(pool, now).filter((h) => h.allowNewSession && h.removedAt === undefined && this.compute.hasInstance(pool.scaleSetId, h.instanceId) && this.status(pool, h, now) === "Available").length;
    }

    /** Whether the pool lists the instance's session host now. */
    isRegistered(hostPoolId: string, instanceId: string): boolean {
        const pool = this.pool(hostPoolId);
        return this.listed(pool, this.now()).some((h) => h.instanceId === instanceId);
    }

    /** Drain mode set from outside the rollout (an admin, or a previous run). */
    setAllowNewSession(hostPoolId: string, instanceId: string, allowNewSession: boolean): void {
        this.hostOf(this.pool(hostPoolId), instanceId).allowNewSession = allowNewSession;
    }

    sessionHost(hostPoolId: string, instanceId: string): SessionHostSnapshot {
        const pool = this.pool(hostPoolId);
        this.compute.settle(this.now());
        return this.snapshot(pool, this.hostOf(pool, instanceId), this.now());
    }

    sessionHosts(hostPoolId: string): SessionHostSnapshot[] {
        const pool = this.pool(hostPoolId);
        this.compute.settle(this.now());
        return this.listed(pool, this.now()).map((h) => this.snapshot(pool, h, this.now()));
    }

    // ---- state ----

    private now(): number {
        if (!this.fake) throw new Error("DesktopVirtualizationModule is not installed");
        return this.fake.clock.now();
    }

    private pool(id: string): HostPool {
        const p = this.pools.get(lower(id));
        if (!p) throw new Error(`no fake host pool ${id}`);
        return p;
    }

    private poolsOf(scaleSetId: string): HostPool[] {
        return [...this.pools.values()].filter((p) => lower(p.scaleSetId) === lower(scaleSetId));
    }

    /** The hosts the pool lists at `now`: a new instance's host only once its agent has registered. */
    private listed(pool: HostPool, now: number): SessionHost[] {
        return [...pool.hosts.values()].filter((h) => h.registersAt === undefined || now >= h.registersAt);
    }

    private sample(after: string): void {
        if (!this.sampling) return;
        for (const [id] of this.pools) this.acceptingSamples.push({ time: this.now(), hostPoolId: id, accepting: this.accepting(id), after });
    }

    private hostOf(pool: HostPool, instanceId: string): SessionHost {
        const host = this.listed(pool, this.now()).find((h) => h.instanceId === instanceId);
        if (!host) throw new Error(`instance ${instanceId} has no session host in ${pool.name}`);
        return host;
    }

    /**
     * The agent's last heartbeat at or before `now` and what it reported then. The agent runs
     * while the VM runs, except from an upgrade's start until it has re-registered afterwards.
     */
    private heartbeat(pool: HostPool, host: SessionHost, now: number): { at: number; status: string } | undefined {
        const origin = Date.UTC(2025, 11, 1);
        const tick = (from: number, until: number) => (until < from ? undefined : from + Math.floor((until - from) / this.heartbeatMs) * this.heartbeatMs);
        if (host.removedAt !== undefined) {
            const at = tick(origin, host.removedAt);
            return at === undefined ? undefined : { at, status: host.scenario.status };
        }
        const { startedAt, endedAt } = this.compute.operationWindow(pool.scaleSetId, host.instanceId);
        const beforeDown = (down: number) => tick(origin, Math.min(now, down - 1));
        if (startedAt !== undefined && endedAt === undefined) {
            const at = beforeDown(startedAt);
            return at === undefined ? undefined : { at, status: host.scenario.status };
        }
        if (endedAt === undefined) {
            const at = tick(origin, now);
            return at === undefined ? undefined : { at, status: host.scenario.status };
        }
        const agentStart = endedAt + host.scenario.registerSeconds * 1000;
        if (now >= agentStart) return { at: tick(agentStart, now) ?? agentStart, status: host.scenario.statusAfterUpgrade };
        const at = startedAt === undefined ? undefined : beforeDown(startedAt);
        return at === undefined ? undefined : { at, status: host.scenario.status };
    }

    private status(pool: HostPool, host: SessionHost, now: number): string {
        const hb = this.heartbeat(pool, host, now);
        if (!hb || now - hb.at > this.heartbeatTimeoutMs) return "Unavailable";
        return hb.status;
    }

    private snapshot(pool: HostPool, host: SessionHost, now: number): SessionHostSnapshot {
        return {
            name: host.name,
            instanceId: host.instanceId,
            allowNewSession: host.allowNewSession,
            status: this.status(pool, host, now),
            sessions: this.present(host, now).map((s) => ({ id: s.id, userPrincipalName: s.userPrincipalName, state: s.state })),
        };
    }

    /**
     * A read that shows the host's sessions: sessions change state as scripted, users on a
     * draining host count down towards signing out (through LogOff), and signed-out sessions
     * disappear with the next heartbeat.
     */
    private observed(host: SessionHost, now: number): void {
        host.sessions = host.sessions.filter((s) => s.goneAt === undefined || now < s.goneAt);
        for (const s of host.sessions) {
            if (s.goneAt !== undefined) continue;
            if (s.becomes) {
                s.becomes.afterPolls -= 1;
                if (s.becomes.afterPolls <= 0) {
                    s.state = s.becomes.state;
                    s.becomes = undefined;
                }
            }
            if (s.signsOutAfterDrainMs !== undefined) {
                const at = host.allowNewSession || host.drainedAt === undefined ? undefined : host.drainedAt + s.signsOutAfterDrainMs;
                // Signed out at that moment, whenever the read comes: gone a heartbeat later.
                if (at !== undefined && now >= at) this.signOut(s, at);
                continue;
            }
            if (host.allowNewSession || s.pollsLeft === "never") continue;
            s.pollsLeft -= 1;
            if (s.pollsLeft <= 0) this.signOut(s, now);
        }
    }

    private present(host: SessionHost, now: number): UserSession[] {
        return host.sessions.filter((s) => s.goneAt === undefined || now < s.goneAt);
    }

    private signOut(s: UserSession, now: number): void {
        s.state = "LogOff";
        s.goneAt = now + this.heartbeatMs;
    }

    // ---- bodies ----

    private hostBody(pool: HostPool, host: SessionHost, now: number): Record<string, unknown> {
        const item = exampleListItem("desktopvirtualization/2024-04-03/SessionHost_List.json", "200", this.fake?.subscriptionId);
        const props = item.properties as Record<string, unknown>;
        item.name = `${pool.name}/${host.name}`;
        item.id = `${pool.id}/sessionHosts/${host.name}`;
        props.sessions = this.present(host, now).length;
        props.allowNewSession = host.allowNewSession;
        props.status = this.status(pool, host, now);
        props.statusTimestamp = new Date(host.statusTimestamp).toISOString();
        const hb = this.heartbeat(pool, host, now);
        if (hb) props.lastHeartBeat = new Date(hb.at).toISOString();
        else delete props.lastHeartBeat;
        props.resourceId = host.resourceId;
        props.virtualMachineId = host.vmId;
        props.osVersion = "10.0.26100";
        delete props.assignedUser;
        return item;
    }

    private sessionBody(pool: HostPool, host: SessionHost, s: UserSession): Record<string, unknown> {
        const item = exampleListItem("desktopvirtualization/2024-04-03/UserSession_List.json", "200", this.fake?.subscriptionId);
        const props = item.properties as Record<string, unknown>;
        item.name = `${pool.name}/${host.name}/${s.id}`;
        item.id = `${pool.id}/sessionHosts/${host.name}/userSessions/${s.id}`;
        props.userPrincipalName = s.userPrincipalName;
        props.activeDirectoryUserName = `CONTOSO\\${s.userPrincipalName.split("@")[0]}`;
        props.sessionState = s.state;
        props.createTime = new Date(s.createTime).toISOString();
        return item;
    }

    // ---- handlers ----

    private findPool(req: FakeRequest): HostPool | undefined {
        return this.pools.get(lower(`/subscriptions/${req.params.subscriptionId}/resourceGroups/${req.params.resourceGroupName}/providers/Microsoft.DesktopVirtualization/hostPools/${req.params.hostPoolName}`));
    }

    private poolNotFound(req: FakeRequest): FakeResponse {
        return (this.fake as FakeAzure).error(404, "ResourceNotFound", `HostPool '${req.params.hostPoolName}' could not be found.`);
    }

    private findHost(req: FakeRequest): { pool: HostPool; host: SessionHost } | FakeResponse {
        const pool = this.findPool(req);
        if (!pool) return this.poolNotFound(req);
        const candidate = pool.hosts.get(req.params.sessionHostName.toLowerCase());
        const host = candidate && (candidate.registersAt === undefined || req.now >= candidate.registersAt) ? candidate : undefined;
        if (!host) return (this.fake as FakeAzure).error(404, "ResourceNotFound", `SessionHost '${req.params.sessionHostName}' could not be found in host pool '${pool.name}'.`);
        return { pool, host };
    }

    private getPool(req: FakeRequest): FakeResponse {
        const pool = this.findPool(req);
        if (!pool) return this.poolNotFound(req);
        const body = exampleBody("desktopvirtualization/2024-04-03/HostPool_Get.json", "200", this.fake?.subscriptionId);
        const props = body.properties as Record<string, unknown>;
        body.id = pool.id;
        body.name = pool.name;
        body.location = pool.location;
        body.type = "Microsoft.DesktopVirtualization/hostPools";
        props.registrationInfo = { expirationTime: null, token: null, registrationTokenOperation: "None" };
        delete props.ssoadfsAuthority;
        delete props.ssoClientId;
        delete props.ssoClientSecretKeyVaultPath;
        return { status: 200, body };
    }

    private listHosts(req: FakeRequest): FakeResponse {
        const pool = this.findPool(req);
        if (!pool) return this.poolNotFound(req);
        const fake = this.fake as FakeAzure;
        const hosts = this.listed(pool, req.now);
        // One list (all its pages) is one look at every host, as one poll is in a real rollout.
        if (fake.isFirstPage(req)) for (const h of hosts) this.observed(h, req.now);
        return fake.page(req, hosts, (h) => this.hostBody(pool, h, req.now));
    }

    private getHost(req: FakeRequest): FakeResponse {
        const found = this.findHost(req);
        if ("status" in found) return found;
        const body = this.hostBody(found.pool, found.host, req.now);
        this.observed(found.host, req.now);
        return { status: 200, body };
    }

    private patchHost(req: FakeRequest): FakeResponse {
        const found = this.findHost(req);
        if ("status" in found) return found;
        const props = typeof req.body === "object" && req.body !== null ? (req.body as Record<string, unknown>).properties : undefined;
        const allow = typeof props === "object" && props !== null ? (props as Record<string, unknown>).allowNewSession : undefined;
        if (typeof allow === "boolean" && allow !== found.host.allowNewSession) {
            found.host.allowNewSession = allow;
            found.host.drainedAt = allow ? undefined : req.now;
            this.drainChanges.push({ sessionHostName: found.host.name, allowNewSession: allow, time: req.now });
        }
        return { status: 200, body: this.hostBody(found.pool, found.host, req.now) };
    }

    /** SessionHosts_Delete: 200 removed, 204 no such host; sessions refuse it unless force=true. */
    private deleteHost(req: FakeRequest): FakeResponse {
        const fake = this.fake as FakeAzure;
        const pool = this.findPool(req);
        if (!pool) return this.poolNotFound(req);
        const host = pool.hosts.get(req.params.sessionHostName.toLowerCase());
        if (!host || (host.registersAt !== undefined && req.now < host.registersAt)) return { status: 204 };
        const force = (req.query.get("force") ?? "").toLowerCase() === "true";
        const sessions = this.present(host, req.now);
        if (sessions.length > 0 && !force) {
            return fake.error(400, "BadRequest", `SessionHost '${host.name}' has ${sessions.length} user session(s); sign them out or pass force=true to remove it anyway.`);
        }
        for (const s of sessions) this.sessionsLostToDeletion.push({ sessionHostName: host.name, userPrincipalName: s.userPrincipalName, time: req.now, by: "sessionHost" });
        pool.hosts.delete(host.name.toLowerCase());
        this.sessionHostDeletions.push({ sessionHostName: host.name, force, time: req.now });
        return { status: 200 };
    }

    private listPoolSessions(req: FakeRequest): FakeResponse {
        const pool = this.findPool(req);
        if (!pool) return this.poolNotFound(req);
        const fake = this.fake as FakeAzure;
        const hosts = this.listed(pool, req.now);
        const sessions = hosts.flatMap((h) => this.present(h, req.now).map((s) => ({ h, s })));
        if (fake.isFirstPage(req)) for (const h of hosts) this.observed(h, req.now);
        return fake.page(req, sessions, ({ h, s }) => this.sessionBody(pool, h, s));
    }

    private listHostSessions(req: FakeRequest): FakeResponse {
        const found = this.findHost(req);
        if ("status" in found) return found;
        const fake = this.fake as FakeAzure;
        if (fake.isFirstPage(req)) this.observed(found.host, req.now);
        return fake.page(req, this.present(found.host, req.now), (s) => this.sessionBody(found.pool, found.host, s));
    }

    private session(req: FakeRequest): { pool: HostPool; host: SessionHost; session: UserSession } | FakeResponse {
        const found = this.findHost(req);
        if ("status" in found) return found;
        const session = found.host.sessions.find((s) => s.id === req.params.userSessionId && (s.goneAt === undefined || req.now < s.goneAt));
        if (!session) return (this.fake as FakeAzure).error(404, "ResourceNotFound", `UserSession '${req.params.userSessionId}' could not be found on session host '${found.host.name}'.`);
        return { ...found, session };
    }

    private logOff(req: FakeRequest): FakeResponse {
        const found = this.session(req);
        if ("status" in found) return found;
        const force = (req.query.get("force") ?? "").toLowerCase() === "true";
        if (found.session.goneAt === undefined) {
            this.logoffs.push({ sessionHostName: found.host.name, sessionId: found.session.id, userPrincipalName: found.session.userPrincipalName, force, time: req.now, sessionState: found.session.state });
            this.signOut(found.session, req.now);
        }
        return { status: 200 };
    }

    private sendMessage(req: FakeRequest): FakeResponse {
        const found = this.session(req);
        if ("status" in found) return found;
        const body = typeof req.body === "object" && req.body !== null ? (req.body as Record<string, unknown>) : {};
        this.messages.push({
            sessionHostName: found.host.name,
            sessionId: found.session.id,
            userPrincipalName: found.session.userPrincipalName,
            title: typeof body.messageTitle === "string" ? body.messageTitle : "",
            body: typeof body.messageBody === "string" ? body.messageBody : "",
            time: req.now,
            seen: found.session.state === "Active",
            sessionState: found.session.state,
        });
        return { status: 200 };
    }
}
