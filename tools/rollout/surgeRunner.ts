// The surge rollout (sessionHosts.rollout.strategy: surge): new hosts join before old ones
// leave, so the ring never takes fewer users than its configured capacity (minus hosts that were
// unhealthy before the rollout). It raises the scale set's capacity (new instances get the
// model, i.e. the new image), and each new host that reports healthy and Available frees one old
// host to drain: its users are warned and waited for as in the reimage rollout, and once it has
// no session its session host object is removed from the host pool and its instance deleted
// (which lowers the capacity again). Paced by host, not batch: at most a step
// (maxBatchInstancePercent of the configured capacity) of hosts are in flight, and a slot frees
// as soon as its old host is gone, so one user who stays signed in holds one slot, not the
// rollout. New hosts not yet healthy are bounded by the growing window (src/rollout/pacing.ts):
// one at first (the canary), doubling with each round of good verdicts; a failed new host sets
// it back to one. Old hosts go longest drain first (most users).
//
// Everything is decided from a fresh look at Azure on every poll, and the hosts being retired
// are the marker's drained list (./marker.ts), so a crashed or stopped run resumes: extra new
// instances are used, old hosts in the list are finished first, and the capacity ends at the
// configured value.
import { describeDuration } from "../../src/rollout/duration";
import { isReady, isServing, notReadyReason, type HostState } from "../../src/rollout/hosts";
import { pacedOrder, SlotWindow } from "../../src/rollout/pacing";
import { batchSize, isDrainedByOthers } from "../../src/rollout/planner";
import { ArmError, type ArmClient } from "../azure/arm";
import { beginDeleteInstances, deleteSessionHost, getScaleSet, listUserSessions, readHosts, setCapacity, setDrainMode, type Host, type ScaleSetModel, type UserSession } from "./azure";
import { imageIdentity, type RolloutInputs } from "./env";
import type { DrainPermit, RolloutHooks } from "./hooks";
import { HostDrains, LOGOFF_GRACE_MS } from "./drain";
import { LOCK_SETTLE_MS, RolloutMarker } from "./marker";
import { list, table } from "./report";
import { HEARTBEAT_MS, refuseUnsuitableModel, type RolloutOptions, type RolloutResult } from "./rolloutRunner";
import { sleepUnlessStopped, StopRequested, stopReason, throwIfStopped } from "./stop";
import { Progress, ToolFailure, type Io } from "../shared/tool";

/** One look at the ring. */
interface View {
    hosts: Host[];
    /** Instances not being deleted: what sku.capacity counts. */
    live: Host[];
    old: Host[];
    fresh: Host[];
    /** In the marker: old hosts (and failed new ones) the rollout drains and deletes. */
    retiring: Host[];
    pending: Host[];
}

/** The view once `gone` have been deleted. */
function without(view: View, gone: readonly Host[]): View {
    if (gone.length === 0) return view;
    const keep = (h: Host) => !gone.includes(h);
    return { hosts: view.hosts, live: view.live.filter(keep), old: view.old.filter(keep), fresh: view.fresh.filter(keep), retiring: view.retiring.filter(keep), pending: view.pending };
}

export class SurgeRollout {
    private readonly progress: Progress;
    private readonly marker: RolloutMarker;
    private readonly stop?: AbortSignal;
    private readonly hooks: RolloutHooks;
    private readonly capacity: number;
    private readonly step: number;
    private lastLogAt: number;
    private startedAt = 0;
    private changed = false;
    /** Hosts not serving before the run that it did not take out: the floor of serving hosts is capacity minus these. */
    private floor = 0;
    private readonly firstSeen = new Map<string, number>();
    private readonly judged = new Map<string, "ready" | "failed">();
    private readonly slots: SlotWindow;
    /** The canary is watched until then (pauseTimeBetweenBatches): new hosts ready meanwhile wait in drain mode. */
    private watchUntil = 0;
    /** New hosts, ready during the canary's watch, kept in drain mode (and in the marker, for a crash) until it ends. */
    private readonly heldForWatch = new Set<string>();
    private readonly drains: HostDrains;
    private replaced = 0;
    private raises = 0;
    private readonly outcomes = new Map<string, string>();
    private readonly deleted = new Map<string, HostState>();
    private lastHosts: Host[] = [];
    started = false;

    constructor(
        private readonly arm: ArmClient,
        private readonly inputs: RolloutInputs,
        io: Io,
        options: RolloutOptions = {},
    ) {
        if (inputs.strategy.kind !== "surge") throw new Error("SurgeRollout needs AVD_ROLLOUT_STRATEGY=surge");
        this.capacity = inputs.strategy.capacity;
        this.step = batchSize(this.capacity, inputs.policy.maxBatchInstancePercent);
        this.slots = new SlotWindow(this.step);
        this.progress = new Progress(io, arm.clock);
        this.lastLogAt = arm.clock.now();
        this.stop = options.stop;
        this.hooks = options.hooks ?? {};
        this.drains = new HostDrains(arm, inputs, (line) => this.log(line));
        this.marker = new RolloutMarker(arm, inputs.vmss, options.owner ?? "unknown", inputs.imageVersion, () => this.sleep(Math.min(LOCK_SETTLE_MS, inputs.pollMs)));
    }

    private now(): number {
        return this.arm.clock.now();
    }

    private log(text: string): void {
        this.lastLogAt = this.now();
        this.progress.line(text);
    }

    private heartbeat(text: () => string): void {
        if (this.now() - this.lastLogAt >= HEARTBEAT_MS) this.log(text());
    }

    private sleep(ms: number): Promise<void> {
        return sleepUnlessStopped(this.arm, ms, this.stop);
    }

    private async checkpoint(): Promise<void> {
        throwIfStopped(this.stop);
        await this.marker.renew();
    }

    async execute(): Promise<RolloutResult> {
        const model = await getScaleSet(this.arm, this.inputs.vmss);
        refuseUnsuitableModel(model, this.inputs);
        try {
            await this.marker.acquire();
            this.started = true;
            const result = await this.roll(model);
            for (const line of this.report()) this.progress.line(line);
            return result;
        } catch (e) {
            if (e instanceof StopRequested) throw await this.stoppedBySignal();
            throw e;
        } finally {
            await this.marker.release().catch((e: unknown) => this.log(`could not remove the rollout's lock tag (it runs out by itself): ${e instanceof Error ? e.message : String(e)}`));
        }
    }

    private async look(): Promise<View> {
        const hosts = await readHosts(this.arm, this.inputs);
        const ids = this.marker.drainedIds;
        for (const h of hosts) h.drainedByRollout = h.draining && ids.has(h.instanceId);
        const live = hosts.filter((h) => !/^deleting$/i.test(h.instance.provisioningState ?? ""));
        const now = this.now();
        for (const h of live) if (h.onTarget && !this.firstSeen.has(h.instanceId)) this.firstSeen.set(h.instanceId, now);
        const fresh = live.filter((h) => h.onTarget);
        this.lastHosts = hosts;
        return {
            hosts,
            live,
            old: live.filter((h) => !h.onTarget),
            fresh,
            retiring: live.filter((h) => ids.has(h.instanceId) && !this.heldForWatch.has(h.instanceId)),
            pending: fresh.filter((h) => !ids.has(h.instanceId) && this.judged.get(h.instanceId) === undefined && !this.readyNow(h) && !this.failedNow(h)),
        };
    }

    private readyNow(h: Host): boolean {
        return !h.busy && isReady(h);
    }

    /** A new host that will not become ready: its creation failed, or the health timeout passed. */
    private failedNow(h: Host): boolean {
        if (/^failed$/i.test(h.instance.provisioningState ?? "")) return true;
        return !this.readyNow(h) && this.now() - (this.firstSeen.get(h.instanceId) ?? this.now()) >= this.inputs.healthTimeoutMs;
    }

    /** New hosts that may be starting at once (the canary, then growing). */
    private window(): number {
        return this.slots.unverified;
    }

    /** The one place that decides whether a host may start draining now (maintenance windows plug in here). */
    private drainPermit(): DrainPermit {
        return this.hooks.mayStartDraining?.(this.now()) ?? { allowed: true };
    }

    /** Once, before the run drains a host or changes the capacity (the preflight plugs in here). */
    private async beforeFirstChange(model: ScaleSetModel, view: View): Promise<void> {
        if (this.changed) return;
        this.changed = true;
        await this.hooks.beforeFirstChange?.({ strategy: "surge", scaleSet: model, hosts: view.hosts, surgeInstances: Math.min(this.step, view.old.length) });
    }

    private async roll(model: ScaleSetModel): Promise<RolloutResult> {
        const t = this.inputs;
        this.startedAt = this.now();
        let view = await this.look();
        // Marker entries for instances that are gone are settled; new hosts an earlier (reimage) run left drained go back into service once ready.
        await this.marker.remove([...this.marker.drainedIds].filter((id) => !view.live.some((h) => h.instanceId === id)));
        for (const h of view.fresh.filter((x) => this.marker.drainedIds.has(x.instanceId) && this.readyNow(x) && x.sessionHostName)) {
            if (await setDrainMode(this.arm, t.hostPool, h.sessionHostName as string, false)) await this.marker.remove([h.instanceId]);
        }
        if (this.marker.drainedIds.size > 0 || view.live.length > this.capacity) view = await this.look();
        const alreadyCurrent = view.fresh.filter((h) => this.readyNow(h)).length;
        for (const h of view.fresh) if (this.readyNow(h)) this.judged.set(h.instanceId, "ready");
        this.floor = this.capacity - view.old.filter((h) => !isServing(h) && !this.marker.drainedIds.has(h.instanceId)).length;
        if (t.forceLogoffIgnored) this.log("AVD_FORCE_LOGOFF is ignored: no AVD_DRAIN_MESSAGE_BODY is set, and users are never signed out without a warning");
        this.log(
            `scale set ${model.name}: surge rollout to ${t.imageVersion}; configured capacity ${this.capacity}, now ${view.live.length} instance(s), ${view.old.length} on an older image; ` +
                `up to ${this.step} new host(s) in flight (${t.policy.maxBatchInstancePercent}%), starting with 1; at least ${this.floor} host(s) keep taking users; drain timeout ${describeDuration(t.drainTimeoutMs)}`,
        );
        if (view.retiring.length > 0) this.log(`resuming: ${list(view.retiring.map((h) => h.name))} ${view.retiring.length === 1 ? "was" : "were"} being retired by an earlier run and ${view.retiring.length === 1 ? "is" : "are"} finished first`);
        if (view.live.length > this.capacity) this.log(`resuming: ${view.live.length - this.capacity} instance(s) above the configured capacity are used for the next old hosts`);

        // One look at Azure per poll; what the run changes in between is accounted for in memory until the next look.
        for (;;) {
            await this.checkpoint();
            const now = this.now();
            await this.judge(view);
            const breach = this.breach(view);
            if (breach) {
                await this.restore(`rollout of ${t.imageVersion} stopped: ${breach}`);
                throw this.stopped(breach);
            }
            if (view.old.length === 0 && view.live.length === this.capacity && view.retiring.length === 0 && view.pending.length === 0) {
                view = await this.waitForDeletions();
                break;
            }
            const gone = await this.retire(view);
            view = without(view, gone);

            const timeBoxed = t.maxRunMs !== undefined && now - this.startedAt >= t.maxRunMs;
            const permit = this.drainPermit();
            const extras = view.live.length - this.capacity;
            // In flight: hosts being retired; the step bounds them, and extras already there are always used.
            const cap = !permit.allowed ? 0 : timeBoxed ? Math.max(0, extras) : Math.max(this.step, extras);
            const started = await this.drainNext(model, view, cap - view.retiring.length);
            const retiringCount = view.retiring.length + started;

            const oldLeft = view.old.length;
            if (oldLeft === 0 && view.pending.length === 0 && view.live.length - retiringCount > this.capacity) {
                // More new hosts than needed (a resumed run after hosts vanished): the surplus leaves like old hosts.
                await this.retireSurplus(view, view.live.length - retiringCount - this.capacity);
            }

            // A failed new host holds its slot until it is deleted. New hosts: at most a step above the capacity, one per old host left, and no more starting at once than the window.
            // Hosts held for the canary's watch still have their verdict open: they count against the window.
            const desired = Math.min(this.capacity + Math.min(this.step, oldLeft), view.live.length - view.pending.length - this.heldForWatch.size + this.window());
            let pending = view.pending.length;
            if (permit.allowed && !timeBoxed && view.live.length < desired) {
                await this.beforeFirstChange(model, view);
                await setCapacity(this.arm, t.vmss, desired);
                this.raises += 1;
                pending += desired - view.live.length;
                this.log(`capacity ${view.live.length} -> ${desired}: ${desired - view.live.length} new host(s) on ${t.imageVersion} (${oldLeft} old host(s) left)`);
            }

            // A time box lets the hosts in flight finish (the extras pair with old hosts); a refused drain leaves them, and the extras go.
            const settled = retiringCount === 0 && pending === 0 && (view.live.length <= this.capacity || !permit.allowed || started === 0);
            if ((timeBoxed || !permit.allowed) && settled) {
                const refusal = permit.allowed ? undefined : permit;
                if (refusal?.retryAt !== undefined && !timeBoxed) {
                    await this.waitForPermit(refusal.reason, refusal.retryAt);
                    view = await this.look();
                    continue;
                }
                await this.restore(refusal?.reason ?? "time box reached");
                throw refusal && !timeBoxed ? this.notPermitted(refusal.reason) : this.timeBoxed();
            }
            const held = view.retiring.filter((h) => this.drains.held(h.instanceId));
            if (held.length > 0 && held.length === retiringCount && pending === 0) {
                // Nothing else can move: only hosts whose users stay past the drain timeout are left in flight.
                const sessions = held.flatMap((h) => this.drains.held(h.instanceId) ?? []);
                await this.restore("users past the drain timeout");
                throw this.drainTimedOut(held, sessions);
            }
            this.heartbeat(() => this.progressText(view));
            await this.sleep(t.pollMs);
            view = await this.look();
        }
        const signedOut = this.drains.signedOutText();
        this.log(`done: ${view.live.length} instance(s) on ${t.imageVersion} (${this.replaced} old host(s) replaced now, ${alreadyCurrent} already current), capacity ${view.live.length}; ${signedOut}`);
        return {
            imageVersion: t.imageVersion,
            ...imageIdentity(t),
            instancesUpgraded: this.replaced,
            instancesAlreadyCurrent: alreadyCurrent,
            batches: this.raises,
            signedOutSessions: { ...this.drains.signedOut },
            hostsLeftDrained: [],
        };
    }

    /**
     * New hosts become ready or fail; a failed one is retired like an old host (so the capacity
     * comes back) and resets the window. The first ready one is the canary: it takes users and is
     * watched for the pause; new hosts ready during the watch wait in drain mode and take users
     * when it ends, so until then only the canary serves users on the new image.
     */
    private async judge(view: View): Promise<void> {
        const t = this.inputs;
        const now = this.now();
        if (this.heldForWatch.size > 0 && now >= this.watchUntil) await this.releaseHeld(view);
        for (const h of view.fresh) {
            if (this.judged.has(h.instanceId) || this.marker.drainedIds.has(h.instanceId)) continue;
            const where = `${h.name} (new, ${h.zone ? `zone ${h.zone}` : "no zone"}) on ${t.imageVersion}, healthy and Available`;
            if (this.readyNow(h)) {
                this.judged.set(h.instanceId, "ready");
                this.outcomes.set(h.instanceId, `new on ${t.imageVersion}, in service`);
                if (now < this.watchUntil && h.sessionHostName) {
                    // The marker lists it before the drain, so a crashed run's successor returns it to service.
                    await this.marker.confirm();
                    await this.marker.add([h.instanceId]);
                    await setDrainMode(this.arm, t.hostPool, h.sessionHostName, true);
                    h.draining = true;
                    this.heldForWatch.add(h.instanceId);
                    this.log(`${where}: kept in drain mode until the canary's watch ends in ${describeDuration(this.watchUntil - now)}`);
                    continue;
                }
                const canary = this.slots.canary;
                this.slots.hostReady();
                if (canary && t.pauseMs > 0) {
                    // The canary takes real users before any other new host does: a failure soon after the first logins stops the rollout at one host.
                    this.watchUntil = now + t.pauseMs;
                    this.log(`${where}: taking users; watching it ${describeDuration(t.pauseMs)} before other new hosts take users`);
                } else this.log(`${where}: taking users; up to ${this.window()} new host(s) starting at once`);
            } else if (this.failedNow(h)) {
                this.judged.set(h.instanceId, "failed");
                this.slots.hostFailed();
                this.outcomes.set(h.instanceId, `new on ${t.imageVersion}, not ready (${this.failureReason(h)}): deleted`);
                this.log(`${h.name} (new) did not become ready within ${describeDuration(t.healthTimeoutMs)} (${this.failureReason(h)}): it is deleted, old hosts stay in service; window back to 1`);
            }
        }
    }

    /** The canary's watch ended without a stop: the new hosts held meanwhile take users. */
    private async releaseHeld(view: View): Promise<void> {
        const back: string[] = [];
        for (const id of this.heldForWatch) {
            const h = view.fresh.find((x) => x.instanceId === id);
            if (h?.sessionHostName && (await setDrainMode(this.arm, this.inputs.hostPool, h.sessionHostName, false))) {
                h.draining = false;
                this.slots.hostReady();
                back.push(h.name);
            }
        }
        await this.marker.remove([...this.heldForWatch]);
        this.heldForWatch.clear();
        if (back.length > 0) this.log(`the canary's watch ended: ${list(back)} take${back.length === 1 ? "s" : ""} users; up to ${this.window()} new host(s) starting at once`);
    }

    private failureReason(h: Host): string {
        return /^failed$/i.test(h.instance.provisioningState ?? "") ? "provisioning failed" : notReadyReason(h);
    }

    /**
     * Azure's two thresholds: new hosts that are not healthy (failed, or ready once and unhealthy
     * since, as a canary that breaks during its watch) over the new hosts judged, and every
     * unhealthy host over the configured capacity.
     */
    private breach(view: View): string | undefined {
        const p = this.inputs.policy;
        const verdicts = [...this.judged.values()];
        const failed = verdicts.filter((v) => v === "failed").length;
        const lapsed = view.fresh.filter((h) => this.judged.get(h.instanceId) === "ready" && !h.busy && !isReady(h) && !view.retiring.includes(h));
        const badNew = failed + lapsed.length;
        const unhealthyOld = view.old.filter((h) => !h.busy && !isReady(h)).length;
        if (badNew > 0 && (badNew * 100) / verdicts.length > p.maxUnhealthyUpgradedInstancePercent) {
            const threshold = `> maxUnhealthyUpgradedInstancePercent ${p.maxUnhealthyUpgradedInstancePercent}%`;
            if (lapsed.length === 0) return `${failed} of ${verdicts.length} new host(s) on ${this.inputs.imageVersion} did not become healthy and Available (${threshold})`;
            const lapsedText = `${list(lapsed.map((h) => `${h.name} (${notReadyReason(h)})`))} turned unhealthy after being ready`;
            return `${badNew} of ${verdicts.length} new host(s) on ${this.inputs.imageVersion} are not healthy and Available: ${failed > 0 ? `${failed} never became ready, ` : ""}${lapsedText} (${threshold})`;
        }
        const unhealthy = badNew + unhealthyOld;
        if (unhealthy > 0 && (unhealthy * 100) / this.capacity > p.maxUnhealthyInstancePercent) {
            return badNew === 0
                ? `${unhealthyOld} of ${this.capacity} host(s) in the scale set are unhealthy (> maxUnhealthyInstancePercent ${p.maxUnhealthyInstancePercent}%)`
                : `${unhealthy} of ${this.capacity} host(s) are unhealthy, new ones included (> maxUnhealthyInstancePercent ${p.maxUnhealthyInstancePercent}%)`;
        }
        return undefined;
    }

    /** Takes up to `slots` more hosts out of service: failed new hosts first, then old ones, never below the serving floor. */
    private async drainNext(model: ScaleSetModel, view: View, slots: number): Promise<number> {
        const t = this.inputs;
        const failed = view.fresh.filter((h) => this.judged.get(h.instanceId) === "failed" && !this.marker.drainedIds.has(h.instanceId));
        const picked: Host[] = [...failed];
        if (slots > 0) {
            let serving = view.live.filter((h) => isServing(h) && !this.marker.drainedIds.has(h.instanceId)).length;
            const candidates = pacedOrder(
                view.old.filter((h) => !h.busy && !this.marker.drainedIds.has(h.instanceId)),
                t.policy.prioritizeUnhealthyInstances,
                false,
            );
            for (const h of candidates) {
                if (picked.length - failed.length >= slots) break;
                if (isServing(h)) {
                    if (serving - 1 < this.floor) continue;
                    serving -= 1;
                }
                if (!this.marker.fits([...picked, h].map((x) => x.instanceId))) break;
                picked.push(h);
            }
        }
        if (picked.length === 0) return 0;
        await this.beforeFirstChange(model, view);
        // The marker is written before the drain, so a crash in between leaves nothing unaccounted for.
        await this.marker.confirm();
        await this.marker.add(picked.map((h) => h.instanceId));
        const now = this.now();
        for (const h of picked) {
            this.drains.begin(h.instanceId, now);
            if (h.sessionHostName && !h.draining) await setDrainMode(this.arm, t.hostPool, h.sessionHostName, true);
        }
        const old = picked.filter((h) => !h.onTarget);
        if (old.length > 0) {
            const users = old.reduce((n, h) => n + h.sessions, 0);
            this.log(`drain mode on for ${list(old.map((h) => (isDrainedByOthers(h) ? `${h.name} (drained before the rollout, replaced now)` : h.name)))}: no new sessions start there; ${users} user session(s) to wait for`);
        }
        return picked.length;
    }

    /**
     * Retiring hosts: users are warned once, waited for up to the drain timeout and signed out
     * only as the reimage rollout would; a host without sessions loses its session host object
     * (never forced: AVD refuses while sessions exist) and then its instance.
     */
    private async retire(view: View): Promise<Host[]> {
        const t = this.inputs;
        if (view.retiring.length === 0) return [];
        const sessions = await listUserSessions(this.arm, t.hostPool);
        const now = this.now();
        const retiring = view.retiring.filter((h) => !h.busy);
        for (const h of retiring) if (h.sessionHostName && !h.draining) await setDrainMode(this.arm, t.hostPool, h.sessionHostName, true);
        const empty = await this.drains.step(retiring, sessions, now);
        if (empty.length === 0) return [];
        const gone: Host[] = [];
        for (const h of empty) {
            try {
                if (h.sessionHostName) await deleteSessionHost(this.arm, t.hostPool, h.sessionHostName);
                gone.push(h);
            } catch (e) {
                // AVD refuses while a session exists (one may have started between the list and now): looked at again next poll.
                if (!(e instanceof ArmError && e.status === 400)) throw e;
                this.log(`AVD refused to remove ${h.name} (${e.armMessage}): waiting for its sessions`);
            }
        }
        if (gone.length === 0) return [];
        try {
            await beginDeleteInstances(this.arm, t.vmss, gone.map((h) => h.instanceId), t.pollMs);
        } catch (e) {
            // A lost answer or a refusal is reconciled from the instance list on the next poll (Deleting, gone, or still there: asked again).
            if (!(e instanceof ArmError) || !(e.outcomeUnknown || e.status === 409 || e.status === 400)) throw e;
            this.log(`deleting ${list(gone.map((h) => h.name))}: ${e.outcomeUnknown ? "the answer was lost" : `Azure answered HTTP ${e.status} ${e.code}`}; looking again`);
            return [];
        }
        for (const h of gone) {
            this.drains.end(h.instanceId);
            this.deleted.set(h.instanceId, h);
            if (!h.onTarget) {
                this.replaced += 1;
                this.outcomes.set(h.instanceId, `replaced by a new host on ${t.imageVersion}: session host removed, instance deleted`);
            }
        }
        await this.marker.remove(gone.map((h) => h.instanceId));
        this.log(`${list(gone.map((h) => h.name))} ${gone.length === 1 ? "has" : "have"} no sessions: removed from the host pool, instance${gone.length === 1 ? "" : "s"} deleted`);
        return gone;
    }

    /** New hosts beyond the configured capacity with no sessions leave (drained first; AVD refuses the removal if a user got on). */
    private async retireSurplus(view: View, count: number): Promise<void> {
        const candidates = view.fresh
            .filter((h) => !this.marker.drainedIds.has(h.instanceId) && h.sessions === 0)
            .sort((a, b) => Number(b.instanceId) - Number(a.instanceId))
            .slice(0, count);
        if (candidates.length === 0) return;
        await this.marker.add(candidates.map((h) => h.instanceId));
        for (const h of candidates) {
            this.drains.begin(h.instanceId, this.now());
            if (h.sessionHostName && !h.draining) await setDrainMode(this.arm, this.inputs.hostPool, h.sessionHostName, true);
            this.outcomes.set(h.instanceId, `new on ${this.inputs.imageVersion}, above the configured capacity: removed`);
        }
        this.log(`${list(candidates.map((h) => h.name))} ${candidates.length === 1 ? "is" : "are"} above the configured capacity of ${this.capacity}: drained and removed`);
        await this.retire(await this.look());
    }

    /**
     * Before a clean stop: old hosts that are still being drained go back into service, and new
     * hosts above the configured capacity with no sessions (failed ones first) are removed, so
     * the scale set ends at the configured capacity with every old host taking users.
     */
    private async restore(why: string): Promise<void> {
        const t = this.inputs;
        // New hosts held for the canary's watch are above the capacity like any extra new host: they leave.
        this.heldForWatch.clear();
        let view = await this.look();
        const back: Host[] = [];
        for (const h of view.retiring.filter((x) => !x.onTarget)) {
            if (h.sessionHostName && (await setDrainMode(this.arm, t.hostPool, h.sessionHostName, false))) back.push(h);
            this.drains.end(h.instanceId);
            this.outcomes.set(h.instanceId, `not replaced (${why}): back in service on ${h.imageVersion ?? "its image"}`);
        }
        await this.marker.remove(back.map((h) => h.instanceId));
        if (back.length > 0) this.log(`${list(back.map((h) => h.name))} back in service on the old image`);
        const deadline = this.now() + LOGOFF_GRACE_MS;
        for (;;) {
            view = await this.look();
            const surplus = view.live.length - this.capacity;
            if (surplus <= 0) {
                await this.waitForDeletions();
                return;
            }
            // Failed new hosts are already being retired; spare healthy ones without users make up the rest.
            const leaving = view.retiring.length;
            const add = view.fresh
                .filter((h) => !this.marker.drainedIds.has(h.instanceId) && h.sessions === 0)
                .sort((a, b) => Number(b.instanceId) - Number(a.instanceId))
                .slice(0, Math.max(0, surplus - leaving));
            if (add.length > 0) {
                await this.marker.add(add.map((h) => h.instanceId));
                for (const h of add) {
                    if (h.sessionHostName && !h.draining) await setDrainMode(this.arm, t.hostPool, h.sessionHostName, true);
                    if (!this.outcomes.has(h.instanceId)) this.outcomes.set(h.instanceId, `new on ${t.imageVersion}, removed to return to the configured capacity`);
                }
            }
            await this.retire(await this.look());
            view = await this.look();
            if (view.live.length <= this.capacity) {
                await this.waitForDeletions();
                return;
            }
            if (this.now() >= deadline) {
                this.log(`the scale set stays at ${view.live.length} instance(s), ${view.live.length - this.capacity} above the configured capacity: the extra new hosts have users; the next run removes them`);
                return;
            }
            await this.sleep(t.pollMs);
        }
    }

    /** Instances Azure is still deleting are waited for (up to the health timeout), so the run ends with the scale set as it stays. */
    private async waitForDeletions(): Promise<View> {
        const deadline = this.now() + this.inputs.healthTimeoutMs;
        let view = await this.look();
        while (view.hosts.length > view.live.length) {
            if (this.now() >= deadline) {
                this.log(`Azure is still deleting ${list(view.hosts.filter((h) => !view.live.includes(h)).map((h) => h.name))} after ${describeDuration(this.inputs.healthTimeoutMs)}; the capacity already counts them out`);
                break;
            }
            this.heartbeat(() => `waiting for Azure to delete ${view.hosts.length - view.live.length} instance(s)`);
            await this.sleep(this.inputs.pollMs);
            view = await this.look();
        }
        return view;
    }

    private async waitForPermit(reason: string, retryAt: number): Promise<void> {
        this.log(`no host may start draining now (${reason}): waiting until ${new Date(retryAt).toISOString()} with every host in service`);
        while (this.now() < retryAt) {
            await this.sleep(Math.min(HEARTBEAT_MS, retryAt - this.now()));
            await this.checkpoint();
            this.heartbeat(() => `waiting to drain again (${reason}); ${describeDuration(Math.max(0, retryAt - this.now()))} left`);
        }
    }

    private progressText(view: View): string {
        return `${view.fresh.length} of ${view.live.length} instance(s) on ${this.inputs.imageVersion}, ${view.old.length} old host(s) left, ${view.retiring.length} draining, ${view.pending.length} new host(s) starting`;
    }

    report(): string[] {
        const t = this.inputs;
        const hosts: HostState[] = [...this.lastHosts, ...[...this.deleted.values()].filter((d) => !this.lastHosts.some((h) => h.instanceId === d.instanceId))];
        const outcome = (h: HostState) => this.outcomes.get(h.instanceId) ?? (h.onTarget ? `on ${t.imageVersion}` : h.draining ? "in drain mode" : `not touched: on ${h.imageVersion ?? "its image"}, taking users`);
        const live = this.lastHosts.filter((h) => !/^deleting$/i.test(h.instance.provisioningState ?? ""));
        return [
            `rollout report (surge): ${live.filter((h) => h.onTarget).length} of ${live.length} instance(s) on ${t.imageVersion}, configured capacity ${this.capacity}; ${this.drains.signedOutText()}`,
            ...table(
                ["host", "instance", "zone", "image", "health", "AVD status", "drain mode", "sessions", "outcome"],
                hosts.map((h) => [h.name, h.instanceId, h.zone ?? "-", h.imageVersion ?? "?", this.deleted.has(h.instanceId) ? "-" : h.health, this.deleted.has(h.instanceId) ? "-" : (h.avdStatus ?? "not registered"), h.draining ? "on" : "off", String(h.sessions), outcome(h)]),
            ),
        ];
    }

    private stopped(reason: string): ToolFailure {
        const t = this.inputs;
        return new ToolFailure(`rollout of ${t.imageVersion} stopped: ${reason}.`, [
            `Old hosts stay in service; new hosts that failed were removed, so the scale set is back at its configured capacity of ${this.capacity}.`,
            `Next: fix the cause and run \`pulumi up\` again (healthy new hosts are kept), or roll back by setting the previous image version and running \`pulumi up\` (docs/rollout.md, "Rollback").`,
        ]);
    }

    private timeBoxed(): ToolFailure {
        const minutes = Math.round((this.inputs.maxRunMs ?? 0) / 60_000);
        return new ToolFailure(`rollout paused after its time box of ${minutes} min (sessionHosts.rollout.maxRunMinutes): ${this.lastProgress()}; run \`pulumi up\` again to continue.`, [
            `The hosts in flight were finished first: the scale set is at its configured capacity of ${this.capacity} and every host takes users.`,
        ]);
    }

    private notPermitted(reason: string): ToolFailure {
        return new ToolFailure(`rollout paused: no host may start draining now (${reason}): ${this.lastProgress()}; run \`pulumi up\` again when it may.`, [
            `The hosts in flight were finished first: the scale set is at its configured capacity of ${this.capacity} and every host takes users.`,
        ]);
    }

    private lastProgress(): string {
        const live = this.lastHosts.filter((h) => !/^deleting$/i.test(h.instance.provisioningState ?? ""));
        return `${live.filter((h) => h.onTarget).length} of ${live.length} hosts on ${this.inputs.imageVersion}`;
    }

    /** On SIGINT/SIGTERM: old hosts still draining go back into service at once (a few PATCHes); extra new hosts stay for the next run. */
    private async stoppedBySignal(): Promise<ToolFailure> {
        const t = this.inputs;
        const back: string[] = [];
        for (const h of this.lastHosts.filter((x) => !x.onTarget && this.marker.drainedIds.has(x.instanceId) && !/^deleting$/i.test(x.instance.provisioningState ?? ""))) {
            try {
                if (h.sessionHostName && (await setDrainMode(this.arm, t.hostPool, h.sessionHostName, false))) back.push(h.instanceId);
            } catch {
                // The next run finishes it: it is still in the marker.
            }
        }
        await this.marker.remove(back).catch(() => undefined);
        const live = this.lastHosts.filter((h) => !/^deleting$/i.test(h.instance.provisioningState ?? "")).length;
        return new ToolFailure(`rollout stopped by ${stopReason(this.stop)}: ${this.lastProgress()}; run \`pulumi up\` again to continue.`, [
            back.length > 0 ? `${back.length} old host(s) that were draining are back in service.` : "No old host is in drain mode on the rollout's account.",
            live > this.capacity
                ? `The scale set has ${live} instance(s), ${live - this.capacity} above the configured ${this.capacity}: the extra new hosts take users, and the next run uses them for the next old hosts and ends at ${this.capacity}.`
                : `The scale set is at its configured capacity of ${this.capacity}.`,
        ]);
    }

    private drainTimedOut(hosts: readonly Host[], sessions: readonly UserSession[]): ToolFailure {
        const t = this.inputs;
        const howToForce = t.message
            ? "set drain.forceLogoffAfterTimeout: true to sign remaining active users out after the timeout (they were warned)"
            : "set drain.messageBody (and drain.forceLogoffAfterTimeout: true) to warn users and sign them out after the timeout";
        for (const h of hosts) this.outcomes.set(h.instanceId, `user sessions open past the drain timeout: not replaced, back in service on ${h.imageVersion ?? "its image"}`);
        return new ToolFailure(
            `rollout of ${t.imageVersion} stopped: ${sessions.length} user session(s) were still open on ${list(hosts.map((h) => h.name))} after the drain timeout of ${describeDuration(t.drainTimeoutMs)}; every other host was replaced.`,
            [
                ...table(["host", "user", "session state"], sessions.map((s) => [hosts.find((h) => h.sessionHostName?.toLowerCase() === s.sessionHostName.toLowerCase())?.name ?? s.sessionHostName, s.userPrincipalName ?? "?", s.state ?? "?"])),
                `Users are never signed out without a warning. Ask them to sign out, raise drain.timeoutMinutes, or ${howToForce}; then run \`pulumi up\` again.`,
                `Those hosts are back in service and the extra new hosts without users were removed (capacity ${this.capacity}).`,
            ],
        );
    }
}
