// The Manual-mode rollout, batch by batch (seed image-management section 7): drain the
// batch's session hosts, warn signed-in users, wait for them to leave, upgrade the
// instances to the scale set's new model, wait until Application Health says healthy AND
// the AVD agent says Available, return the hosts to service, pause, next batch. Every
// decision comes from src/rollout/planner.ts over a fresh snapshot of Azure, and what the
// rollout must remember across runs (its lock, the hosts it drained) lives in tags on the
// scale set (./marker.ts), so a re-run after a failure, crash or stop resumes instead of
// starting over, and never returns to service a host it did not take out of service.
import { sessionHostAllowNewSessionCommand } from "../../src/aib/commands";
import { describeDuration } from "../../src/rollout/duration";
import { isReady, notReadyReason, type HostState } from "../../src/rollout/hosts";
import { batchSize, initialProgress, isDrainedByOthers, nextBatchLimit, planNextBatch } from "../../src/rollout/planner";
import { ArmError, LroFailedError, type ArmClient, type LroPoller } from "../azure/arm";
import { beginManualUpgrade, floatingModelReference, getScaleSet, listUserSessions, logOff, modelReferencesTarget, readHosts, sendMessage, setDrainMode, type Host, type ScaleSetModel, type UserSession } from "./azure";
import { imageIdentity, type ImageIdentity, type RolloutInputs } from "./env";
import { LOCK_SETTLE_MS, RolloutMarker } from "./marker";
import { Progress, ToolFailure, type Io } from "../shared/tool";
import type { RolloutHooks } from "./hooks";
import { list, table } from "./report";
import { sleepUnlessStopped, StopRequested, stopReason, throwIfStopped } from "./stop";

export type RolloutResult = RolloutCounts & ImageIdentity;

interface RolloutCounts {
    imageVersion: string;
    instancesUpgraded: number;
    instancesAlreadyCurrent: number;
    /** Reimage: batches run; surge: capacity increases (each adds the new hosts for the slots that freed). */
    batches: number;
    /** Sessions the rollout signed out: Active ones after their warning, Disconnected ones only when the ring opted in. */
    signedOutSessions: { active: number; disconnected: number };
    /** Hosts that were in drain mode before the rollout (not by it) and stay so. */
    hostsLeftDrained: string[];
}

export interface RolloutOptions {
    /** Raised on SIGINT/SIGTERM: no new work starts, the current batch is left safe, the run ends. */
    stop?: AbortSignal;
    /** Who holds the lock, for a second run's message (user@host). */
    owner?: string;
    /** Checks before the first change and before each drain (./hooks.ts). */
    hooks?: RolloutHooks;
}

/** Users always get at least this long between the warning and a forced sign-out. */
export const MIN_WARNING_MS = 5 * 60_000;
/** How long signed-out sessions may take to disappear before the rollout gives up. */
const LOGOFF_GRACE_MS = 15 * 60_000;
/** A waiting rollout says what it waits for at least this often. */
export const HEARTBEAT_MS = 5 * 60_000;
/** Attempts at starting one batch's upgrade when Azure's answers get lost. */
const UPGRADE_ATTEMPTS = 4;

function describeHost(h: HostState): string {
    const parts = [h.busy ? "upgrading" : `health ${h.health}`, h.avdStatus === undefined ? "not registered" : h.heartbeatStale ? `${h.avdStatus} (no heartbeat since the upgrade)` : h.avdStatus];
    return parts.join(", ");
}

/** The checks both strategies make before they take the lock: a pinned version the model already references, and Manual upgrades. */
export function refuseUnsuitableModel(model: ScaleSetModel, t: RolloutInputs): void {
    const floating = floatingModelReference(model, t);
    if (floating) {
        throw new ToolFailure(
            `the scale set ${model.name} references ${floating.what}, not version ${t.imageVersion}: publishing a version leaves such a model unchanged, so a manual upgrade has nothing to move and the instance view cannot prove which version a host runs. Nothing was drained.`,
            [floating.fix],
        );
    }
    if (!modelReferencesTarget(model, t)) {
        throw new ToolFailure(
            `the scale set ${model.name} does not reference image version ${t.imageVersion}: its model has ${model.imageReferenceText}. The rollout moves instances onto the scale set's model, so it runs after \`pulumi up\` has updated the model; check that the scale set and the rollout get the same imageVersionId.`,
        );
    }
    if (model.upgradeMode !== undefined && model.upgradeMode !== "Manual") {
        throw new ToolFailure(
            `the scale set ${model.name} uses upgrade mode ${model.upgradeMode}: Azure upgrades its instances itself, so the drain-aware rollout must not run beside it. Rings with upgradeMode ${model.upgradeMode} only run the health gate.`,
        );
    }
}

type Phase = { kind: "idle" } | { kind: "draining"; drainedNow: HostState[] } | { kind: "upgrading"; hosts: HostState[] };

export class Rollout {
    private readonly progress: Progress;
    protected readonly run = { attempted: new Set<string>(), nextBatchLimit: initialProgress().nextBatchLimit };
    protected readonly marker: RolloutMarker;
    protected readonly stop?: AbortSignal;
    protected readonly hooks: RolloutHooks;
    protected changed = false;
    protected upgraded = 0;
    protected readonly signedOut = { active: 0, disconnected: 0 };
    private lastLogAt: number;
    private phase: Phase = { kind: "idle" };
    /** Per-host outcome for the report, by instance id. */
    protected readonly outcomes = new Map<string, string>();
    protected readonly gone = new Map<string, HostState>();
    protected lastHosts: HostState[] = [];
    /** Set once the lock is held: from then on a failure prints the per-host report. */
    started = false;

    constructor(
        protected readonly arm: ArmClient,
        protected readonly inputs: RolloutInputs,
        io: Io,
        options: RolloutOptions = {},
    ) {
        this.progress = new Progress(io, arm.clock);
        this.lastLogAt = arm.clock.now();
        this.stop = options.stop;
        this.hooks = options.hooks ?? {};
        this.marker = new RolloutMarker(arm, inputs.vmss, options.owner ?? "unknown", inputs.imageVersion, () => this.sleep(Math.min(LOCK_SETTLE_MS, inputs.pollMs)));
    }

    protected log(text: string): void {
        this.lastLogAt = this.now();
        this.progress.line(text);
    }

    /** Says what the rollout waits for when it has been quiet for HEARTBEAT_MS. */
    protected heartbeat(text: () => string): void {
        if (this.now() - this.lastLogAt >= HEARTBEAT_MS) this.log(text());
    }

    protected now(): number {
        return this.arm.clock.now();
    }

    protected sleep(ms: number): Promise<void> {
        return sleepUnlessStopped(this.arm, ms, this.stop);
    }

    /** A long wait in pieces of at most HEARTBEAT_MS, saying what it waits for after each. */
    protected async waitFor(ms: number, what: (leftMs: number) => string): Promise<void> {
        const until = this.now() + ms;
        while (this.now() < until) {
            await this.sleep(Math.min(HEARTBEAT_MS, until - this.now()));
            await this.checkpoint();
            if (this.now() < until) this.heartbeat(() => what(until - this.now()));
        }
    }

    /** Between steps: stop when asked, keep the lock alive. */
    protected async checkpoint(): Promise<void> {
        throwIfStopped(this.stop);
        await this.marker.renew();
    }

    async execute(): Promise<RolloutResult> {
        const t = this.inputs;
        const model = await getScaleSet(this.arm, t.vmss);
        refuseUnsuitableModel(model, t);
        try {
            await this.marker.acquire();
            this.started = true;
            const result = await this.roll(model);
            for (const line of this.report()) this.progress.line(line);
            return result;
        } catch (e) {
            if (e instanceof StopRequested) throw this.stoppedBySignal();
            throw e;
        } finally {
            await this.marker.release().catch((e: unknown) => this.log(`could not remove the rollout's lock tag (it runs out by itself): ${e instanceof Error ? e.message : String(e)}`));
        }
    }

    /** Instances joined with session hosts, each marked with whether the rollout drained it. */
    protected async snapshot(): Promise<Host[]> {
        const hosts = await readHosts(this.arm, this.inputs);
        for (const h of hosts) h.drainedByRollout = h.draining && this.marker.drainedIds.has(h.instanceId);
        for (const id of [...this.gone.keys()]) if (hosts.some((x) => x.instanceId === id)) this.gone.delete(id);
        this.lastHosts = hosts;
        return hosts;
    }

    protected async roll(model: ScaleSetModel): Promise<RolloutResult> {
        const scaleSetName = model.name;
        const t = this.inputs;
        const startedAt = this.now();
        if (t.forceLogoffIgnored) {
            this.log("AVD_FORCE_LOGOFF is ignored: no AVD_DRAIN_MESSAGE_BODY is set, and users are never signed out without a warning");
        }
        let hosts = await this.snapshot();
        // Marker entries for hosts that are no longer drained (or gone) are settled business.
        await this.marker.remove([...this.marker.drainedIds].filter((id) => !hosts.some((h) => h.instanceId === id && h.draining)));
        const alreadyCurrent = hosts.filter((h) => h.onTarget).length;
        const adminDrained = hosts.filter(isDrainedByOthers);
        for (const h of hosts) if (h.onTarget) this.outcomes.set(h.instanceId, `already on ${t.imageVersion}`);
        const full = batchSize(hosts.length, t.policy.maxBatchInstancePercent);
        this.log(
            `scale set ${scaleSetName}: ${hosts.length} instance(s), ${alreadyCurrent} already on ${t.imageVersion}; batches of up to ${full} host(s) (${t.policy.maxBatchInstancePercent}%), starting with 1; ` +
                `drain timeout ${describeDuration(t.drainTimeoutMs)}, pause ${describeDuration(t.pauseMs)} between batches`,
        );
        if (adminDrained.length > 0) {
            this.log(`${list(adminDrained.map((h) => h.name))} ${adminDrained.length === 1 ? "was" : "were"} in drain mode before the rollout (not by it): upgraded if needed, but left in drain mode`);
        }

        let batches = 0;
        let pauseFirst = false;
        for (;;) {
            await this.checkpoint();
            const plan = planNextBatch(hosts, t.policy, this.run);
            if (plan.kind === "done") break;
            if (plan.kind === "stop") throw this.stopped(plan.reason, hosts, plan.hosts);
            if (plan.kind === "wait") {
                hosts = await this.waitWhileBusy(plan.hosts);
                continue;
            }
            if (!plan.resume && t.maxRunMs !== undefined && this.now() - startedAt >= t.maxRunMs) throw this.timeBoxed(hosts);
            if (pauseFirst && plan.upgrade.length > 0 && t.pauseMs > 0) {
                // Plan again after the pause: hosts that turned unhealthy meanwhile count.
                this.log(`pausing ${describeDuration(t.pauseMs)} before the next batch`);
                await this.waitFor(t.pauseMs, (left) => `pausing between batches: next batch in ${describeDuration(left)}`);
                pauseFirst = false;
                hosts = await this.snapshot();
                continue;
            }
            if (!plan.resume) {
                // The one place that decides whether hosts may start draining now (maintenance windows plug in here).
                const permit = this.hooks.mayStartDraining?.(this.now()) ?? { allowed: true };
                if (!permit.allowed) {
                    if (permit.retryAt === undefined) throw this.notPermitted(permit.reason);
                    this.log(`no host may start draining now (${permit.reason}): waiting until ${new Date(permit.retryAt).toISOString()} with every host in service`);
                    await this.waitFor(Math.max(0, permit.retryAt - this.now()), (left) => `waiting to drain again (${permit.reason}); ${describeDuration(left)} left`);
                    hosts = await this.snapshot();
                    continue;
                }
            }
            if (!this.changed) {
                // Once, before the first drain or upgrade (the preflight plugs in here).
                this.changed = true;
                await this.hooks.beforeFirstChange?.({ strategy: "reimage", scaleSet: model, hosts, surgeInstances: 0 });
            }
            batches += 1;
            hosts = await this.runBatch(batches, plan.resume, plan.upgrade, plan.finish);
            pauseFirst = plan.upgrade.length > 0;
        }
        const leftDrained = hosts.filter((h) => isDrainedByOthers(h));
        const signedOut = this.signedOutText();
        this.log(
            `done: ${hosts.length} instance(s) on ${t.imageVersion} (${this.upgraded} upgraded now, ${alreadyCurrent} already current) in ${batches} batch(es); ${signedOut}` +
                (leftDrained.length > 0 ? `; left in drain mode as found: ${list(leftDrained.map((h) => h.name))}` : ""),
        );
        return this.result(alreadyCurrent, batches, leftDrained);
    }

    /** The result line both reimage pacings print: `batches` counts batches (lockstep) or upgrade requests (paced). */
    protected result(alreadyCurrent: number, batches: number, leftDrained: readonly HostState[]): RolloutResult {
        return {
            imageVersion: this.inputs.imageVersion,
            ...imageIdentity(this.inputs),
            instancesUpgraded: this.upgraded,
            instancesAlreadyCurrent: alreadyCurrent,
            batches,
            signedOutSessions: { ...this.signedOut },
            hostsLeftDrained: leftDrained.map((h) => h.name),
        };
    }

    protected signedOutText(): string {
        const { active, disconnected } = this.signedOut;
        if (active === 0 && disconnected === 0) return "nobody was signed out";
        return `signed out ${active} active session(s) after their warning and ${disconnected} disconnected session(s)`;
    }

    protected markGone(h: HostState): void {
        if (this.gone.has(h.instanceId)) return;
        this.gone.set(h.instanceId, h);
        this.outcomes.set(h.instanceId, "deleted from the scale set during the rollout");
        this.log(`${h.name} (instance ${h.instanceId}) is no longer in the scale set: the rollout carries on without it`);
    }

    private async runBatch(n: number, resume: boolean, upgradeIn: HostState[], finish: HostState[]): Promise<Host[]> {
        const t = this.inputs;
        let upgrade = upgradeIn;
        if (resume) {
            const all = [...upgrade, ...finish];
            this.log(
                `batch ${n}: finishing ${all.length} host(s) an earlier run left in drain mode: ${list(all.map((h) => `${h.name} (${h.onTarget ? `on ${t.imageVersion}` : `on ${h.imageVersion ?? "the old image"}`})`))}`,
            );
        } else {
            const users = upgrade.reduce((sum, h) => sum + h.sessions, 0);
            this.log(`batch ${n}: ${list(upgrade.map((h) => (h.zone ? `${h.name} (zone ${h.zone})` : h.name)))}, ${users} user session(s)`);
        }

        // The marker is written before the drain, so a crash in between leaves nothing unaccounted for.
        let toDrain = [...upgrade, ...finish].filter((h) => !h.draining && h.sessionHostName);
        while (toDrain.length > 0 && !this.marker.fits(toDrain.map((h) => h.instanceId))) {
            const dropped = toDrain.pop() as HostState;
            upgrade = upgrade.filter((h) => h !== dropped);
            this.log(`${dropped.name} waits for a later batch: the list of drained hosts would not fit in one tag value`);
        }
        const all = [...upgrade, ...finish];
        for (const h of all) this.run.attempted.add(h.instanceId);
        await this.marker.confirm();
        await this.marker.add(toDrain.map((h) => h.instanceId));
        const drainedNow: HostState[] = [];
        this.phase = { kind: "draining", drainedNow };
        try {
            for (const h of toDrain) {
                if (await setDrainMode(this.arm, t.hostPool, h.sessionHostName as string, true)) {
                    drainedNow.push(h);
                    h.draining = true;
                    h.drainedByRollout = true;
                } else this.markGone(h);
            }
            if (drainedNow.length > 0) this.log(`drain mode on for ${list(drainedNow.map((h) => h.name))}: no new sessions start there`);
            upgrade = upgrade.filter((h) => !this.gone.has(h.instanceId));

            if (upgrade.length > 0) {
                await this.waitForUsersToLeave(upgrade);
                this.phase = { kind: "upgrading", hosts: all };
                this.log(`upgrading ${list(upgrade.map((h) => h.name))} to ${t.imageVersion} (the instances are reimaged from the scale set's new model)`);
                const deadline = this.now() + t.healthTimeoutMs;
                await this.marker.confirm();
                const poller = await this.startUpgrade(upgrade, 1);
                if (poller) await this.waitForOperation(poller, deadline);
                this.upgraded += upgrade.filter((h) => !this.gone.has(h.instanceId)).length;
            }
            this.phase = { kind: "upgrading", hosts: all };

            const hosts = await this.waitForReady(all.map((h) => h.instanceId));
            for (const h of all) if (!hosts.some((x) => x.instanceId === h.instanceId)) this.markGone(h);
            const mine = hosts.filter((h) => all.some((x) => x.instanceId === h.instanceId));
            const ready = mine.filter((h) => h.onTarget && isReady(h));
            const notReady = mine.filter((h) => !(h.onTarget && isReady(h)));
            const undrained: HostState[] = [];
            for (const h of ready) {
                if (!h.draining || !h.sessionHostName) {
                    this.outcomes.set(h.instanceId, `upgraded to ${t.imageVersion}, in service`);
                } else if (!h.drainedByRollout) {
                    this.outcomes.set(h.instanceId, `upgraded to ${t.imageVersion}; left in drain mode as found (drained before the rollout, not by it)`);
                } else if (await setDrainMode(this.arm, t.hostPool, h.sessionHostName, false)) {
                    h.draining = false;
                    h.drainedByRollout = false;
                    undrained.push(h);
                    this.outcomes.set(h.instanceId, resume && !upgrade.some((u) => u.instanceId === h.instanceId) ? `finished (an earlier run had upgraded it): back in service` : `upgraded to ${t.imageVersion}, back in service`);
                } else this.markGone(h);
            }
            await this.marker.remove([...undrained.map((h) => h.instanceId), ...this.gone.keys()]);
            if (undrained.length > 0) this.log(`${list(undrained.map((h) => h.name))} on ${t.imageVersion}, healthy and Available: back in service`);
            for (const h of notReady) {
                const why = h.onTarget ? notReadyReason(h) : `still on ${h.imageVersion ?? "another image"}`;
                this.outcomes.set(h.instanceId, `${h.onTarget ? `on ${t.imageVersion}, ` : ""}not ready (${why}): left in drain mode`);
            }
            if (notReady.length > 0) {
                this.log(
                    `${list(notReady.map((h) => `${h.name} (${h.onTarget ? notReadyReason(h) : `still on ${h.imageVersion ?? "another image"}`})`))} not ready after ${describeDuration(t.healthTimeoutMs)}: left in drain mode, no users are sent there`,
                );
            }
            if (upgrade.length > 0 && !resume) {
                this.run.nextBatchLimit = nextBatchLimit(this.run.nextBatchLimit, batchSize(hosts.length, t.policy.maxBatchInstancePercent), notReady.length === 0);
            }
            this.phase = { kind: "idle" };
            return hosts;
        } catch (e) {
            if (e instanceof StopRequested) await this.leaveBatchSafe();
            throw e;
        }
    }

    /**
     * On a stop request mid-batch. Before the upgrade was sent nothing has changed on the hosts:
     * they go back into service at once (a few PATCHes; a CI kill leaves little time). Once
     * Azure is upgrading them they stay in drain mode, listed in the marker, and the next run
     * finishes them first.
     */
    private async leaveBatchSafe(): Promise<void> {
        const t = this.inputs;
        const phase = this.phase;
        this.phase = { kind: "idle" };
        if (phase.kind === "draining") {
            const back: HostState[] = [];
            for (const h of phase.drainedNow) {
                if (h.sessionHostName && (await setDrainMode(this.arm, t.hostPool, h.sessionHostName, false))) {
                    back.push(h);
                    h.draining = false;
                }
                this.outcomes.set(h.instanceId, `stopped before its upgrade: back in service on ${h.imageVersion ?? "its image"}`);
            }
            await this.marker.remove(back.map((h) => h.instanceId));
            if (back.length > 0) this.log(`stop requested before the upgrade: ${list(back.map((h) => h.name))} back in service, unchanged`);
        } else if (phase.kind === "upgrading") {
            for (const h of phase.hosts) {
                if (this.gone.has(h.instanceId)) continue;
                this.outcomes.set(h.instanceId, h.drainedByRollout || !h.draining ? "upgrade under way when stopped: left in drain mode, the next run finishes it" : "upgrade under way when stopped: left in drain mode as found");
            }
            this.log(`stop requested while Azure upgrades ${list(phase.hosts.map((h) => h.name))}: they stay in drain mode, and the next run finishes them first`);
        }
    }

    /**
     * Starts the batch's upgrade. A lost answer (or a refusal naming an instance that is gone or
     * busy) is reconciled from the instances themselves: hosts Azure is already upgrading are
     * not asked again, hosts it has not started on are asked once more, vanished hosts drop out.
     * Returns the operation to follow, or undefined when only the instance states tell.
     */
    private async startUpgrade(batch: HostState[], attempt: number): Promise<LroPoller | undefined> {
        const t = this.inputs;
        try {
            return await beginManualUpgrade(this.arm, t.vmss, batch.map((h) => h.instanceId), t.pollMs);
        } catch (e) {
            if (!(e instanceof ArmError) || attempt >= UPGRADE_ATTEMPTS) throw e;
            const lost = e.outcomeUnknown;
            const refused = (e.status === 400 && /instanceId/i.test(e.armMessage)) || e.status === 409;
            if (!lost && !refused) throw e;
            this.log(
                lost
                    ? `the answer to the upgrade request was lost (${e.status === 0 ? "connection dropped" : `HTTP ${e.status}`}); reading the instances to see whether Azure started it`
                    : `Azure refused the upgrade request (HTTP ${e.status} ${e.code}); reading the instances to see why`,
            );
            await this.sleep(t.pollMs);
            const hosts = await this.snapshot();
            const present: HostState[] = [];
            for (const h of batch) {
                if (hosts.some((x) => x.instanceId === h.instanceId)) present.push(h);
                else this.markGone(h);
            }
            const started = present.filter((h) => {
                const now = hosts.find((x) => x.instanceId === h.instanceId) as Host;
                return now.busy || now.onTarget;
            });
            const rest = present.filter((h) => !started.includes(h));
            if (started.length > 0) this.log(`Azure is already upgrading ${list(started.map((h) => h.name))}: not asked again`);
            if (rest.length === 0) return undefined;
            this.log(`Azure has not started on ${list(rest.map((h) => h.name))}: asking once more`);
            return this.startUpgrade(rest, attempt + 1);
        }
    }

    /** Follows the upgrade operation until it ends or the health timeout is reached; a failed operation is judged by the hosts' state. */
    private async waitForOperation(poller: LroPoller, deadline: number): Promise<void> {
        while (!poller.done && this.now() < deadline) {
            const delay = poller.nextPollDelayMs();
            if (this.now() + delay > deadline) {
                // Never poll before a Retry-After, never wait past the health timeout: the instances tell the rest.
                this.log(`Azure asks to wait ${describeDuration(delay)} before the next status check of the upgrade, beyond the health timeout: judging the hosts by their own state instead`);
                return;
            }
            await this.waitFor(delay, (left) => `waiting for Azure's next upgrade status in ${describeDuration(left)}; health timeout in ${describeDuration(Math.max(0, deadline - this.now()))}`);
            this.heartbeat(() => `waiting for Azure to finish the upgrade (operation ${poller.status}); health timeout in ${describeDuration(Math.max(0, deadline - this.now()))}`);
            try {
                await poller.poll();
            } catch (e) {
                if (!(e instanceof LroFailedError)) throw e;
                this.log(`Azure reports the upgrade ${e.operationStatus}: ${e.code}: ${e.armMessage}`);
                return;
            }
        }
    }

    /** Operations Azure is still running (e.g. an upgrade a crashed run started) must finish before anything is decided. */
    private async waitWhileBusy(busy: HostState[]): Promise<Host[]> {
        const t = this.inputs;
        this.log(`waiting for Azure to finish operations already running on ${list(busy.map((h) => h.name))}`);
        const deadline = this.now() + t.healthTimeoutMs;
        for (;;) {
            await this.sleep(Math.min(t.pollMs, Math.max(0, deadline - this.now())));
            await this.checkpoint();
            const hosts = await this.snapshot();
            const still = hosts.filter((h) => h.busy);
            if (still.length === 0) return hosts;
            if (this.now() >= deadline) {
                throw new ToolFailure(
                    `Azure operations on ${list(still.map((h) => h.name))} did not finish within ${describeDuration(t.healthTimeoutMs)}; nothing was drained or upgraded. Check the instances in the portal (scale set > Instances) and run \`pulumi up\` again.`,
                );
            }
            this.heartbeat(() => `still waiting for Azure to finish operations on ${list(still.map((h) => h.name))}; gives up in ${describeDuration(deadline - this.now())}`);
        }
    }

    private messageBody(): string | undefined {
        const m = this.inputs.message;
        if (!m) return undefined;
        if (!this.inputs.forceLogoff) return m.body;
        const minutes = Math.ceil(this.warningMs() / 60_000);
        return `${m.body}\n\nSessions still open in ${minutes} minutes will be signed out automatically.`;
    }

    /** How long a user has between the warning and a forced sign-out. */
    private warningMs(): number {
        return Math.max(this.inputs.drainTimeoutMs, MIN_WARNING_MS);
    }

    /**
     * Waits until the hosts have no user sessions. Each Active session is warned once (when a
     * message is configured): a Disconnected user cannot see a message, so they are warned
     * when they reconnect. At the drain timeout, with forced logoff on, a session is signed
     * out only while Active and only once its own warning is the whole warning period old;
     * Disconnected sessions only when the ring opted in (drain.logOffDisconnectedSessions).
     * Any other session still open stops the rollout: nobody is signed out without a warning.
     */
    private async waitForUsersToLeave(hosts: HostState[]): Promise<void> {
        const t = this.inputs;
        const onBatch = new Set(hosts.map((h) => h.sessionHostName?.toLowerCase()).filter((x): x is string => x !== undefined));
        const deadline = this.now() + t.drainTimeoutMs;
        const warnedActive = new Map<string, number>();
        const loggedOff = new Set<string>();
        const body = this.messageBody();
        let lastSummary = "";
        for (;;) {
            await this.checkpoint();
            const sessions = (await listUserSessions(this.arm, t.hostPool)).filter((s) => onBatch.has(s.sessionHostName.toLowerCase()));
            const key = (s: UserSession) => `${s.sessionHostName.toLowerCase()}/${s.id}`;
            if (t.message && body) {
                let sent = 0;
                for (const s of sessions.filter((x) => x.state === "Active" && !warnedActive.has(key(x)))) {
                    try {
                        if (await sendMessage(this.arm, t.hostPool, s, t.message.title, body)) {
                            sent += 1;
                            warnedActive.set(key(s), this.now());
                        }
                    } catch (e) {
                        // Unknown whether the user saw it: not counted as warned; the next look sends it again if the session is still there.
                        if (!(e instanceof ArmError && e.outcomeUnknown)) throw e;
                    }
                }
                if (sent > 0) this.log(`sent "${t.message.title}" to ${sent} signed-in user(s)`);
            }
            if (sessions.length === 0) {
                if (lastSummary) this.log(`all users have left ${list(hosts.map((h) => h.name))}`);
                return;
            }
            const perHost = hosts
                .map((h) => ({ h, n: sessions.filter((s) => s.sessionHostName.toLowerCase() === h.sessionHostName?.toLowerCase()).length }))
                .filter((x) => x.n > 0)
                .map((x) => `${x.h.name} ${x.n}`);
            const summary = `waiting for ${sessions.length} user session(s) to end (${perHost.join(", ")}); drain timeout in ${describeDuration(Math.max(0, deadline - this.now()))}`;
            if (summary.split(";")[0] !== lastSummary.split(";")[0]) this.log(summary);
            else this.heartbeat(() => summary);
            lastSummary = summary;

            const now = this.now();
            if (now >= deadline) {
                const open = sessions.filter((s) => !loggedOff.has(key(s)) && s.state !== "LogOff");
                const dueActive = t.forceLogoff ? open.filter((s) => s.state === "Active" && now - (warnedActive.get(key(s)) ?? Infinity) >= this.warningMs()) : [];
                const dueDisconnected = t.logOffDisconnectedSessions ? open.filter((s) => s.state === "Disconnected") : [];
                for (const s of [...dueActive, ...dueDisconnected]) {
                    await logOff(this.arm, t.hostPool, s);
                    loggedOff.add(key(s));
                }
                this.signedOut.active += dueActive.length;
                this.signedOut.disconnected += dueDisconnected.length;
                if (dueActive.length > 0) this.log(`drain timeout: signed out ${dueActive.length} active user(s) warned ${describeDuration(this.warningMs())} or more ago`);
                if (dueDisconnected.length > 0) this.log(`drain timeout: signed out ${dueDisconnected.length} disconnected session(s) (drain.logOffDisconnectedSessions)`);
                // What may still end in time: sessions signing out, and (with forced logoff) Active or connecting users whose warning is running.
                const remaining = open.filter((s) => !loggedOff.has(key(s)));
                const hopeless = remaining.filter((s) => !(t.forceLogoff && body && (s.state === "Active" || s.state === "Pending")));
                if (hopeless.length > 0) throw this.drainTimedOut(hosts, hopeless);
                if (now >= deadline + this.warningMs() + LOGOFF_GRACE_MS) {
                    throw new ToolFailure(
                        `${sessions.length} user session(s) on ${list(hosts.map((h) => h.name))} did not end within ${describeDuration(this.warningMs() + LOGOFF_GRACE_MS)} after the drain timeout; nothing in this batch was upgraded.`,
                        table(["host", "user", "session state"], this.sessionRows(hosts, sessions)),
                    );
                }
            }
            await this.sleep(t.pollMs);
        }
    }

    /** Waits until the batch's hosts run the target image and report healthy and Available, or the health timeout passes. */
    private async waitForReady(instanceIds: string[]): Promise<Host[]> {
        const t = this.inputs;
        const deadline = this.now() + t.healthTimeoutMs;
        const seen = new Map<string, string>();
        for (;;) {
            const hosts = await this.snapshot();
            const batch = hosts.filter((h) => instanceIds.includes(h.instanceId));
            const changed = batch.filter((h) => seen.get(h.instanceId) !== describeHost(h));
            for (const h of changed) seen.set(h.instanceId, describeHost(h));
            if (changed.length > 0) this.log(changed.map((h) => `${h.name}: ${describeHost(h)}`).join("; "));
            else this.heartbeat(() => `waiting for ${list(batch.filter((h) => !(h.onTarget && isReady(h))).map((h) => h.name))} to report healthy and Available; health timeout in ${describeDuration(Math.max(0, deadline - this.now()))}`);
            if (batch.every((h) => !h.busy && h.onTarget && isReady(h))) return hosts;
            if (this.now() >= deadline) return hosts;
            await this.sleep(Math.min(t.pollMs, Math.max(0, deadline - this.now())));
            await this.marker.renew();
        }
    }

    /** The per-host outcome table, every host of the scale set (and any that vanished) once. */
    report(): string[] {
        const t = this.inputs;
        const hosts = [...this.lastHosts, ...[...this.gone.values()].filter((g) => !this.lastHosts.some((h) => h.instanceId === g.instanceId))];
        const outcome = (h: HostState) =>
            this.outcomes.get(h.instanceId) ??
            (h.onTarget
                ? `on ${t.imageVersion}`
                : isDrainedByOthers(h)
                  ? `not touched: on ${h.imageVersion ?? "its image"}, in drain mode as found`
                  : h.draining
                    ? "in drain mode on the rollout's account: the next run finishes it"
                    : `not touched: on ${h.imageVersion ?? "its image"}, taking users`);
        const onTarget = this.lastHosts.filter((h) => h.onTarget).length;
        return [
            `rollout report: ${onTarget} of ${this.lastHosts.length} host(s) on ${t.imageVersion}; ${this.signedOutText()}`,
            ...table(
                ["host", "instance", "zone", "image", "health", "AVD status", "drain mode", "sessions", "outcome"],
                hosts.map((h) => [
                    h.name,
                    h.instanceId,
                    h.zone ?? "-",
                    h.imageVersion ?? "?",
                    this.gone.has(h.instanceId) ? "-" : h.busy ? "upgrading" : h.health,
                    this.gone.has(h.instanceId) ? "-" : (h.avdStatus ?? "not registered"),
                    h.draining ? "on" : "off",
                    String(h.sessions),
                    outcome(h),
                ]),
            ),
        ];
    }

    protected untouchedSummary(hosts: readonly HostState[]): string[] {
        const untouched = hosts.filter((h) => !this.run.attempted.has(h.instanceId) && !h.onTarget);
        if (untouched.length === 0) return [];
        const versions = [...new Set(untouched.map((h) => h.imageVersion ?? "their current image"))];
        return [`${untouched.length} host(s) were not touched and stay on ${list(versions)}, taking users as before${untouched.length <= 20 ? `: ${list(untouched.map((h) => h.name))}` : ""}.`];
    }

    protected stopped(reason: string, hosts: readonly HostState[], offending: readonly HostState[]): ToolFailure {
        const t = this.inputs;
        for (const h of offending) if (!this.outcomes.has(h.instanceId) || h.onTarget) this.outcomes.set(h.instanceId, `${h.onTarget ? `on ${t.imageVersion}, ` : ""}not ready (${notReadyReason(h)})${h.draining ? ": left in drain mode" : ""}`);
        return new ToolFailure(`rollout of ${t.imageVersion} stopped: ${reason}.`, [
            ...this.untouchedSummary(hosts),
            `Hosts on ${t.imageVersion} that are not healthy stay in drain mode, so no new users reach them.`,
            `Next: fix the cause and run \`pulumi up\` again (the rollout resumes: hosts already on ${t.imageVersion} and healthy are kept, hosts it left in drain mode are finished first), or roll back by setting avd-image-rings:imageVersion to the previous version and running \`pulumi up\` (docs/rollout.md, "Rollback").`,
        ]);
    }

    protected progressText(): string {
        const onTarget = this.lastHosts.filter((h) => h.onTarget).length;
        return `${onTarget} of ${this.lastHosts.length} hosts on ${this.inputs.imageVersion}`;
    }

    protected timeBoxed(hosts: readonly HostState[]): ToolFailure {
        const minutes = Math.round((this.inputs.maxRunMs ?? 0) / 60_000);
        return new ToolFailure(`rollout paused after its time box of ${minutes} min (sessionHosts.rollout.maxRunMinutes): ${this.progressText()}; run \`pulumi up\` again to continue.`, [
            ...this.untouchedSummary(hosts),
            "Every host is in service or left as it was found; nothing is in drain mode on the rollout's account.",
        ]);
    }

    protected notPermitted(reason: string): ToolFailure {
        return new ToolFailure(`rollout paused: no host may start draining now (${reason}): ${this.progressText()}; run \`pulumi up\` again when it may.`, [
            "Every host is in service or left as it was found; nothing is in drain mode on the rollout's account.",
        ]);
    }

    private stoppedBySignal(): ToolFailure {
        const left = this.lastHosts.filter((h) => h.draining && this.marker.drainedIds.has(h.instanceId));
        return new ToolFailure(`rollout stopped by ${stopReason(this.stop)}: ${this.progressText()}; run \`pulumi up\` again to continue.`, [
            left.length > 0
                ? `${list(left.map((h) => h.name))} ${left.length === 1 ? "is" : "are"} being upgraded by Azure and stay${left.length === 1 ? "s" : ""} in drain mode; the scale set's tag avd-image-rings-rollout-drained lists them, and the next run finishes them first.`
                : "No host is in drain mode on the rollout's account.",
        ]);
    }

    protected sessionRows(hosts: readonly HostState[], sessions: readonly UserSession[]): string[][] {
        return sessions.map((s) => [hosts.find((h) => h.sessionHostName?.toLowerCase() === s.sessionHostName.toLowerCase())?.name ?? s.sessionHostName, s.userPrincipalName ?? "?", s.state ?? "?"]);
    }

    private drainTimedOut(hosts: readonly HostState[], sessions: readonly UserSession[]): ToolFailure {
        const t = this.inputs;
        const occupied = hosts.filter((h) => sessions.some((s) => s.sessionHostName.toLowerCase() === h.sessionHostName?.toLowerCase()));
        const disconnected = sessions.filter((s) => s.state === "Disconnected").length;
        for (const h of hosts) {
            const open = sessions.filter((s) => s.sessionHostName.toLowerCase() === h.sessionHostName?.toLowerCase()).length;
            this.outcomes.set(h.instanceId, open > 0 ? `${open} session(s) still open at the drain timeout: not upgraded, left in drain mode` : "not upgraded (its batch stopped at the drain timeout): left in drain mode");
        }
        const howToForce = t.message
            ? "set drain.forceLogoffAfterTimeout: true to sign remaining active users out after the timeout (they were warned)"
            : "set drain.messageBody (and drain.forceLogoffAfterTimeout: true) to warn users and sign them out after the timeout";
        const signedOut = this.signedOut.active + this.signedOut.disconnected;
        return new ToolFailure(
            `rollout of ${t.imageVersion} stopped: ${sessions.length} user session(s) were still open on ${list(occupied.map((h) => h.name))} after the drain timeout of ${describeDuration(t.drainTimeoutMs)}; ${signedOut === 0 ? "nobody was signed out" : `${signedOut} other session(s) were signed out`} and nothing in this batch was upgraded.`,
            [
                ...table(["host", "user", "session state"], this.sessionRows(hosts, sessions)),
                `Users are never signed out without a warning. Ask them to sign out, raise drain.timeoutMinutes, or ${howToForce}.`,
                ...(disconnected > 0 && !t.logOffDisconnectedSessions
                    ? [`${disconnected} of them ${disconnected === 1 ? "is" : "are"} Disconnected: those users cannot see a warning and may have unsaved work; set drain.logOffDisconnectedSessions: true only if signing them out at the timeout is acceptable.`]
                    : []),
                `The batch's hosts stay in drain mode so no new users arrive; run \`pulumi up\` again to resume (it finishes them first).`,
                `To give up instead and put them back in service: ${sessionHostAllowNewSessionCommand(t.hostPool.resourceGroupName, t.hostPool.name)}`,
            ],
        );
    }
}
