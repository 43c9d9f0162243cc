// The reimage rollout paced by host (sessionHosts.rollout.strategy: reimage, pacing: host, the
// default): each host leaves service when a slot frees, not when a whole batch is done. A host
// is drained, its users are warned and waited for on its own drain timeout (./drain.ts), it is
// upgraded to the scale set's new model as soon as its last user is gone, and it returns to
// service once Application Health says healthy and the AVD agent says Available. The canary goes
// first, alone; once it is back it is watched for the pause (pauseTimeBetweenBatches). From its
// verdict on, up to a step (maxBatchInstancePercent) of hosts may be out of service, draining
// while the watch runs; upgrades whose verdict is open are bounded by the growing window
// (src/rollout/pacing.ts: one more per host back healthy) and none starts during the watch, so
// hosts whose users have left wait, empty and in drain mode, for an upgrade slot.
//
// What keeps the lockstep rollout safe is kept (./rolloutRunner.ts, whose report and messages
// this shares): one look at Azure per poll decides everything; both unhealthy thresholds are
// checked on every look over the hosts that are not in flight; draining never goes below the
// serving floor; the hosts the rollout drained are the marker's list on the scale set, so a
// re-run after a crash or a stop finishes them first; a host someone else drained is upgraded
// but never returned to service.
import { describeDuration } from "../../src/rollout/duration";
import { isReady, isServing, notReadyReason, type HostState } from "../../src/rollout/hosts";
import { pacedOrder, SlotWindow } from "../../src/rollout/pacing";
import { batchSize, checkThresholds, isDrainedByOthers, minimumServingHosts } from "../../src/rollout/planner";
import { sessionHostAllowNewSessionCommand } from "../../src/aib/commands";
import { ArmError } from "../azure/arm";
import { beginManualUpgrade, listUserSessions, setDrainMode, type Host, type ScaleSetModel, type UserSession } from "./azure";
import { HostDrains } from "./drain";
import { list, table } from "./report";
import { Rollout, type RolloutResult } from "./rolloutRunner";
import { StopRequested } from "./stop";
import { ToolFailure } from "../shared/tool";

/** Requests to upgrade one host before it counts as failed when Azure never starts (answers lost, refusals). */
const UPGRADE_ATTEMPTS = 4;

/** A host the rollout has taken out of service and not yet finished. */
interface Flight {
    instanceId: string;
    /** draining: waiting for its users; upgrading: the upgrade was asked for (or an earlier run left it upgraded). */
    phase: "draining" | "upgrading";
    /** When the upgrade was last asked for (or the host was found upgraded): its health timeout runs from here. */
    since: number;
    /** Upgrade requests sent for it. */
    attempts: number;
    /** Azure has been seen working on it since the last request. */
    started: boolean;
    /** An earlier run drained it: this run finishes it. */
    resumed: boolean;
    /** The host as last seen, for the report should it vanish from the scale set. */
    host: HostState;
    /** Azure answered the last upgrade request (202): it is never sent again, the instance view tells the rest. */
    accepted: boolean;
    /** When its last user was first seen gone: hosts wait for an upgrade slot in this order. */
    emptySince?: number;
}

export class PacedReimageRollout extends Rollout {
    private readonly flights = new Map<string, Flight>();
    private readonly drains = new HostDrains(this.arm, this.inputs, (line) => this.log(line), this.signedOut);
    private slots = new SlotWindow(1);
    /** No new host leaves service before this time: the canary is watched (the pause). */
    private watchUntil = 0;
    /** Busy instances the rollout did not start work on, and since when: waited for up to the health timeout. */
    private readonly busySince = new Map<string, number>();
    private upgradeRequests = 0;

    protected override async roll(model: ScaleSetModel): Promise<RolloutResult> {
        try {
            return await this.pace(model);
        } catch (e) {
            if (e instanceof StopRequested) await this.returnDrainingToService("stop requested before its upgrade");
            throw e;
        }
    }

    private async pace(model: ScaleSetModel): Promise<RolloutResult> {
        const t = this.inputs;
        const startedAt = this.now();
        if (t.forceLogoffIgnored) this.log("AVD_FORCE_LOGOFF is ignored: no AVD_DRAIN_MESSAGE_BODY is set, and users are never signed out without a warning");
        let hosts = await this.snapshot();
        // Marker entries for hosts that are no longer drained (or gone) are settled business.
        await this.marker.remove([...this.marker.drainedIds].filter((id) => !hosts.some((h) => h.instanceId === id && h.draining)));
        const alreadyCurrent = hosts.filter((h) => h.onTarget).length;
        for (const h of hosts) if (h.onTarget) this.outcomes.set(h.instanceId, `already on ${t.imageVersion}`);
        const total = hosts.length;
        this.slots = new SlotWindow(batchSize(total, t.policy.maxBatchInstancePercent));
        const floor = minimumServingHosts(total, t.policy);
        this.log(
            `scale set ${model.name}: ${total} instance(s), ${alreadyCurrent} already on ${t.imageVersion}; paced by host: up to ${this.slots.step} host(s) at once (${t.policy.maxBatchInstancePercent}%), starting with 1 (the canary, watched ${describeDuration(t.pauseMs)} once healthy); ` +
                `drain timeout ${describeDuration(t.drainTimeoutMs)} per host`,
        );
        const adminDrained = hosts.filter(isDrainedByOthers);
        if (adminDrained.length > 0) {
            this.log(`${list(adminDrained.map((h) => h.name))} ${adminDrained.length === 1 ? "was" : "were"} in drain mode before the rollout (not by it): upgraded if needed, but left in drain mode`);
        }
        const leftovers = hosts.filter((h) => h.draining && h.drainedByRollout);
        for (const h of leftovers) {
            const upgraded = h.busy || h.onTarget;
            this.flights.set(h.instanceId, { instanceId: h.instanceId, phase: upgraded ? "upgrading" : "draining", since: this.now(), attempts: 0, started: upgraded, resumed: true, host: h, accepted: upgraded });
            this.run.attempted.add(h.instanceId);
        }
        if (leftovers.length > 0) {
            this.log(`resuming: finishing ${leftovers.length} host(s) an earlier run left in drain mode first: ${list(leftovers.map((h) => `${h.name} (${h.onTarget ? `on ${t.imageVersion}` : h.busy ? "being upgraded" : `on ${h.imageVersion ?? "the old image"}`})`))}`);
        }

        for (;;) {
            await this.checkpoint();
            const now = this.now();
            await this.judge(hosts);

            const breach = checkThresholds(hosts, t.policy, this.run, new Set(this.flights.keys()));
            if (breach) {
                await this.returnDrainingToService(`the rollout stopped: ${breach.message}`);
                throw this.stopped(breach.message, hosts, breach.hosts);
            }

            await this.upgradeEmptyHosts(hosts);

            const candidates = hosts.filter((h) => !h.onTarget && !h.busy && (!h.draining || isDrainedByOthers(h)) && !this.run.attempted.has(h.instanceId));
            const othersBusy = await this.waitingOnOthers(hosts);
            if (this.flights.size === 0 && candidates.length === 0 && othersBusy.length === 0) break;

            const timeBoxed = t.maxRunMs !== undefined && now - startedAt >= t.maxRunMs;
            const permit = this.hooks.mayStartDraining?.(now) ?? { allowed: true };
            // What an earlier run left in drain mode is finished before any other host leaves service.
            const resuming = [...this.flights.values()].some((f) => f.resumed);
            let floorBlocked = false;
            if (!timeBoxed && permit.allowed && !resuming && candidates.length > 0) {
                floorBlocked = !(await this.drainNext(model, hosts, candidates, floor));
            }

            const held = [...this.flights.values()].filter((f) => f.phase === "draining" && this.drains.held(f.instanceId));
            const blocked = candidates.length === 0 || resuming || floorBlocked || this.flights.size >= this.outOfServiceLimit() || timeBoxed || !permit.allowed;
            if (held.length > 0 && held.length === this.flights.size && blocked && othersBusy.length === 0) throw this.heldPastTimeout(hosts, held);
            if (this.flights.size === 0 && othersBusy.length === 0 && (timeBoxed || !permit.allowed)) {
                if (timeBoxed) throw this.timeBoxed(hosts);
                if (!permit.allowed && permit.retryAt === undefined) throw this.notPermitted(permit.reason);
                if (!permit.allowed && permit.retryAt !== undefined) {
                    this.log(`no host may start draining now (${permit.reason}): waiting until ${new Date(permit.retryAt).toISOString()} with every host in service`);
                    await this.waitFor(Math.max(0, permit.retryAt - this.now()), (left) => `waiting to drain again (${permit.reason}); ${describeDuration(left)} left`);
                    hosts = await this.snapshot();
                    continue;
                }
            }
            this.heartbeat(() => this.inFlightText(hosts));
            await this.sleep(t.pollMs);
            hosts = await this.snapshot();
        }

        const leftDrained = hosts.filter((h) => isDrainedByOthers(h));
        this.log(
            `done: ${hosts.filter((h) => h.onTarget).length} of ${hosts.length} instance(s) on ${t.imageVersion} (${this.upgraded} upgraded now, ${alreadyCurrent} already current), paced by host in ${this.upgradeRequests} upgrade request(s); ${this.signedOutText()}` +
                (leftDrained.length > 0 ? `; left in drain mode as found: ${list(leftDrained.map((h) => h.name))}` : ""),
        );
        return this.result(alreadyCurrent, this.upgradeRequests, leftDrained);
    }

    /** Hosts in flight that are done: back in service when healthy and Available, left in drain mode when their health timeout passed. */
    private async judge(hosts: readonly Host[]): Promise<void> {
        const t = this.inputs;
        const now = this.now();
        for (const f of [...this.flights.values()]) {
            const h = hosts.find((x) => x.instanceId === f.instanceId);
            if (!h) {
                // this.lastHosts is already the snapshot without it: the flight remembers how it looked.
                this.markGone(this.gone.get(f.instanceId) ?? f.host);
                this.flights.delete(f.instanceId);
                this.drains.end(f.instanceId);
                await this.marker.remove([f.instanceId]);
                continue;
            }
            f.host = h;
            if (f.phase !== "upgrading") continue;
            if (h.busy) {
                f.started = true;
                // An upgrade still running at the health timeout is a host that is not ready (as in lockstep batches): judged below.
                if (now - f.since < t.healthTimeoutMs) continue;
            }
            if (!h.busy && h.onTarget && isReady(h)) {
                await this.finish(f, h);
                continue;
            }
            if (!h.onTarget && !f.started && !f.accepted && now - f.since >= t.pollMs) {
                // The answer was lost or refused and Azure never showed work on it: ask again, a few times.
                if (f.attempts < UPGRADE_ATTEMPTS) {
                    this.log(`Azure has not started upgrading ${h.name}: asking again`);
                    await this.requestUpgrade([h]);
                    continue;
                }
            }
            if (now - f.since >= t.healthTimeoutMs || (!h.busy && !h.onTarget && (f.started || f.attempts >= UPGRADE_ATTEMPTS))) {
                const why = h.busy ? "its upgrade is still running" : h.onTarget ? notReadyReason(h) : `still on ${h.imageVersion ?? "another image"}`;
                this.outcomes.set(h.instanceId, `${h.onTarget ? `on ${t.imageVersion}, ` : ""}not ready (${why}): left in drain mode`);
                this.log(`${h.name} (${why}) not ready ${h.onTarget || h.busy ? `after ${describeDuration(t.healthTimeoutMs)}` : "after its upgrade"}: left in drain mode, no users are sent there; window back to 1`);
                this.flights.delete(f.instanceId);
                this.drains.end(f.instanceId);
                if (h.onTarget && f.attempts > 0) this.upgraded += 1;
                this.slots.hostFailed();
            }
        }
    }

    /** A host on the new image, healthy and Available: back in service (unless someone else had drained it). */
    private async finish(f: Flight, h: Host): Promise<void> {
        const t = this.inputs;
        const canary = this.slots.canary;
        this.flights.delete(f.instanceId);
        this.drains.end(f.instanceId);
        if (f.attempts > 0) this.upgraded += 1;
        if (h.draining && h.drainedByRollout && h.sessionHostName) {
            if (!(await setDrainMode(this.arm, t.hostPool, h.sessionHostName, false))) {
                this.markGone(h);
                await this.marker.remove([h.instanceId]);
                return;
            }
            h.draining = false;
            h.drainedByRollout = false;
            this.outcomes.set(h.instanceId, f.resumed && f.attempts === 0 ? "finished (an earlier run had upgraded it): back in service" : `upgraded to ${t.imageVersion}, back in service`);
        } else if (h.draining) {
            this.outcomes.set(h.instanceId, `upgraded to ${t.imageVersion}; left in drain mode as found (drained before the rollout, not by it)`);
        } else {
            this.outcomes.set(h.instanceId, `upgraded to ${t.imageVersion}, in service`);
        }
        await this.marker.remove([h.instanceId]);
        this.slots.hostReady();
        if (canary && t.pauseMs > 0) {
            this.watchUntil = this.now() + t.pauseMs;
            this.log(`${h.name} on ${t.imageVersion}, healthy and Available: back in service; watching it ${describeDuration(t.pauseMs)} before more hosts are upgraded (others may drain meanwhile)`);
        } else {
            this.log(`${h.name} on ${t.imageVersion}, healthy and Available: back in service; up to ${this.slots.unverified} host(s) at once`);
        }
    }

    /** Draining hosts whose users have all left are upgraded, together in one request per look. */
    private async upgradeEmptyHosts(hosts: readonly Host[]): Promise<void> {
        const draining = [...this.flights.values()].filter((f) => f.phase === "draining").map((f) => hosts.find((h) => h.instanceId === f.instanceId) as Host);
        if (draining.length === 0) return;
        const sessions = await listUserSessions(this.arm, this.inputs.hostPool);
        const now = this.now();
        const empty = await this.drains.step(draining, sessions, now);
        if (empty.length === 0) return;
        const onTarget = empty.filter((h) => h.onTarget);
        for (const h of onTarget) this.startedUpgrade(h.instanceId);
        // Upgraded hosts with an open verdict are bounded by the window, and none start while the canary is watched:
        // the others wait, empty and in drain mode, first emptied first.
        for (const h of empty) (this.flights.get(h.instanceId) as Flight).emptySince ??= now;
        if (now < this.watchUntil) return;
        const open = [...this.flights.values()].filter((f) => f.phase === "upgrading").length;
        const emptiedAt = (h: Host) => (this.flights.get(h.instanceId) as Flight).emptySince ?? now;
        const toUpgrade = empty
            .filter((h) => !h.onTarget)
            .sort((a, b) => emptiedAt(a) - emptiedAt(b))
            .slice(0, Math.max(0, this.slots.unverified - open));
        if (toUpgrade.length === 0) return;
        this.log(`${list(toUpgrade.map((h) => h.name))}: no sessions left; upgrading to ${this.inputs.imageVersion} (reimaged from the scale set's new model)`);
        await this.requestUpgrade(toUpgrade);
    }

    private startedUpgrade(instanceId: string): void {
        const f = this.flights.get(instanceId);
        if (!f) return;
        f.phase = "upgrading";
        f.since = this.now();
    }

    /** Asks Azure to upgrade the hosts; a lost answer or a refusal is settled by the next looks at the instances. */
    private async requestUpgrade(hosts: readonly Host[]): Promise<void> {
        await this.marker.confirm();
        for (const h of hosts) {
            const f = this.flights.get(h.instanceId) as Flight;
            f.phase = "upgrading";
            f.since = this.now();
            f.attempts += 1;
            f.started = false;
            f.accepted = false;
        }
        this.upgradeRequests += 1;
        try {
            await beginManualUpgrade(this.arm, this.inputs.vmss, hosts.map((h) => h.instanceId), this.inputs.pollMs);
            for (const h of hosts) (this.flights.get(h.instanceId) as Flight).accepted = true;
        } catch (e) {
            if (!(e instanceof ArmError)) throw e;
            const lost = e.outcomeUnknown;
            const refused = (e.status === 400 && /instanceId/i.test(e.armMessage)) || e.status === 409;
            if (!lost && !refused) throw e;
            this.log(
                lost
                    ? `the answer to the upgrade request for ${list(hosts.map((h) => h.name))} was lost (${e.status === 0 ? "connection dropped" : `HTTP ${e.status}`}); the next look at the instances tells whether Azure started it`
                    : `Azure refused the upgrade request for ${list(hosts.map((h) => h.name))} (HTTP ${e.status} ${e.code}); the next look at the instances tells why`,
            );
        }
    }

    /** Busy instances not in flight (operations the rollout did not start, or upgrades it gave up on at their health timeout): waited for, up to the health timeout. */
    private async waitingOnOthers(hosts: readonly Host[]): Promise<Host[]> {
        const now = this.now();
        const busy = hosts.filter((h) => h.busy && !this.flights.has(h.instanceId) && !h.onTarget);
        for (const id of [...this.busySince.keys()]) if (!busy.some((h) => h.instanceId === id)) this.busySince.delete(id);
        for (const h of busy) if (!this.busySince.has(h.instanceId)) this.busySince.set(h.instanceId, now);
        const stuck = busy.filter((h) => now - (this.busySince.get(h.instanceId) as number) >= this.inputs.healthTimeoutMs);
        if (stuck.length > 0) {
            const why = `Azure operations on ${list(stuck.map((h) => h.name))} did not finish within ${describeDuration(this.inputs.healthTimeoutMs)}`;
            await this.returnDrainingToService(`the rollout stopped: ${why}`);
            const started = stuck.every((h) => this.run.attempted.has(h.instanceId));
            throw new ToolFailure(
                `${why}; ${started ? "the rollout had left them in drain mode at their health timeout and waited once more" : "the rollout did not start them and waited"}. Check the instances in the portal (scale set > Instances) and run \`pulumi up\` again.`,
            );
        }
        return busy;
    }

    /** Takes the next hosts out of service while the window has room, never below the serving floor. */
    /** Hosts out of service at once: the canary alone until its verdict, then a step (upgrades wait for the window). */
    private outOfServiceLimit(): number {
        return this.slots.canary ? 1 : this.slots.step;
    }

    /** Returns false when the window has room but the serving floor lets no host go. */
    private async drainNext(model: ScaleSetModel, hosts: readonly Host[], candidates: readonly Host[], floor: number): Promise<boolean> {
        const t = this.inputs;
        const room = this.outOfServiceLimit() - this.flights.size;
        if (room <= 0) return true;
        let serving = hosts.filter(isServing).length;
        const picked: Host[] = [];
        for (const h of pacedOrder(candidates, t.policy.prioritizeUnhealthyInstances, this.slots.canary)) {
            if (picked.length >= room) break;
            if (isServing(h)) {
                if (serving - 1 < floor) continue;
                serving -= 1;
            }
            const drainIds = [...picked, h].filter((x) => !x.draining).map((x) => x.instanceId);
            if (!this.marker.fits(drainIds)) break;
            picked.push(h);
        }
        if (picked.length === 0) {
            if (this.flights.size === 0) {
                const notServing = hosts.filter((h) => !isServing(h));
                throw this.stopped(
                    `draining another host would leave fewer than ${floor} of ${hosts.length} host(s) taking new users (${notServing.length} already do not: ${notServing.map((h) => `${h.name} (${h.draining ? "drain mode" : notReadyReason(h)})`).join(", ")})`,
                    hosts,
                    notServing,
                );
            }
            return false;
        }
        if (!this.changed) {
            // Once, before the first drain (the preflight plugs in here).
            this.changed = true;
            await this.hooks.beforeFirstChange?.({ strategy: "reimage", scaleSet: model, hosts: [...hosts], surgeInstances: 0 });
        }
        // The marker is written before the drain, so a crash in between leaves nothing unaccounted for.
        const toDrain = picked.filter((h) => !h.draining && h.sessionHostName);
        await this.marker.confirm();
        await this.marker.add(toDrain.map((h) => h.instanceId));
        const now = this.now();
        for (const h of picked) {
            this.run.attempted.add(h.instanceId);
            if (toDrain.includes(h) && !(await setDrainMode(this.arm, t.hostPool, h.sessionHostName as string, true))) {
                this.markGone(h);
                await this.marker.remove([h.instanceId]);
                continue;
            }
            if (toDrain.includes(h)) {
                h.draining = true;
                h.drainedByRollout = true;
            }
            this.flights.set(h.instanceId, { instanceId: h.instanceId, phase: "draining", since: now, attempts: 0, started: false, resumed: false, host: h, accepted: false });
            this.drains.begin(h.instanceId, now);
        }
        const users = picked.reduce((n, h) => n + h.sessions, 0);
        const label = this.slots.canary ? "canary: " : "";
        this.log(`${label}drain mode on for ${list(picked.map((h) => (isDrainedByOthers(h) ? `${h.name} (drained before the rollout)` : h.zone ? `${h.name} (zone ${h.zone})` : h.name)))}: no new sessions start there; ${users} user session(s) to wait for`);
        return true;
    }

    /**
     * Hosts still waiting for their users go back into service (nothing changed on them yet);
     * hosts Azure is upgrading stay in drain mode, listed in the marker, for the next run.
     */
    private async returnDrainingToService(why: string): Promise<void> {
        const t = this.inputs;
        const back: HostState[] = [];
        for (const f of [...this.flights.values()].filter((x) => x.phase === "draining")) {
            const h = this.lastHosts.find((x) => x.instanceId === f.instanceId);
            if (!h) continue;
            this.flights.delete(f.instanceId);
            if (!h.drainedByRollout || !h.sessionHostName) continue;
            if (await setDrainMode(this.arm, t.hostPool, h.sessionHostName, false)) {
                h.draining = false;
                h.drainedByRollout = false;
                back.push(h);
            }
            this.outcomes.set(h.instanceId, `not upgraded (${why}): back in service on ${h.imageVersion ?? "its image"}`);
        }
        await this.marker.remove(back.map((h) => h.instanceId));
        if (back.length > 0) this.log(`${list(back.map((h) => h.name))} back in service, unchanged`);
        for (const f of this.flights.values()) {
            const h = this.lastHosts.find((x) => x.instanceId === f.instanceId);
            if (h) this.outcomes.set(h.instanceId, "upgrade under way when the rollout stopped: left in drain mode, the next run finishes it");
        }
    }

    private inFlightText(hosts: readonly Host[]): string {
        const flights = [...this.flights.values()];
        const draining = flights.filter((f) => f.phase === "draining").length;
        const onTarget = hosts.filter((h) => h.onTarget).length;
        const watching = this.now() < this.watchUntil ? `; watching the canary for ${describeDuration(this.watchUntil - this.now())}` : "";
        return `${onTarget} of ${hosts.length} hosts on ${this.inputs.imageVersion}; in flight: ${draining} waiting for users, ${flights.length - draining} upgrading or starting${watching}`;
    }

    /** Every host in flight keeps users who may not be signed out: they stay in drain mode for the next run. */
    private heldPastTimeout(hosts: readonly Host[], held: readonly Flight[]): ToolFailure {
        const t = this.inputs;
        const heldHosts = held.map((f) => hosts.find((h) => h.instanceId === f.instanceId) as Host);
        const sessions: UserSession[] = held.flatMap((f) => this.drains.held(f.instanceId) ?? []);
        for (const h of heldHosts) this.outcomes.set(h.instanceId, "session(s) still open at the drain timeout: not upgraded, left in drain mode");
        const howToForce = t.message
            ? "set drain.forceLogoffAfterTimeout: true to sign remaining active users out after the timeout (they were warned)"
            : "set drain.messageBody (and drain.forceLogoffAfterTimeout: true) to warn users and sign them out after the timeout";
        const disconnected = sessions.filter((s) => s.state === "Disconnected").length;
        return new ToolFailure(
            `rollout of ${t.imageVersion} stopped: ${sessions.length} user session(s) were still open on ${list(heldHosts.map((h) => h.name))} after the drain timeout of ${describeDuration(t.drainTimeoutMs)}, and no other host can move; ${this.progressText()}.`,
            [
                ...table(["host", "user", "session state"], this.sessionRows(heldHosts, sessions)),
                `Users are never signed out without a warning. Ask them to sign out, raise drain.timeoutMinutes, or ${howToForce}.`,
                ...(disconnected > 0 && !t.logOffDisconnectedSessions
                    ? [`${disconnected} of them ${disconnected === 1 ? "is" : "are"} Disconnected: those users cannot see a warning and may have unsaved work; set drain.logOffDisconnectedSessions: true only if signing them out at the timeout is acceptable.`]
                    : []),
                ...this.untouchedSummary(hosts),
                `Those hosts stay in drain mode so no new users arrive; run \`pulumi up\` again to resume (it finishes them first).`,
                `To give up instead and put them back in service: ${sessionHostAllowNewSessionCommand(t.hostPool.resourceGroupName, t.hostPool.name)}`,
            ],
        );
    }
}
