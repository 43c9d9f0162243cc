// The Manual-mode rollout, batch by batch (seed image-management section 7): drain the
// batch's session hosts, warn signed-in users, wait for them to leave, upgrade the
// instances to the scale set's new model, wait until Application Health says healthy AND
// the AVD agent says Available, return the hosts to service, pause, next batch. Every
// decision comes from src/rollout/planner.ts over a fresh snapshot of Azure, so a re-run
// after a failure or crash resumes instead of starting over.
import { describeDuration } from "../../src/rollout/duration";
import { isReady, notReadyReason, type HostState } from "../../src/rollout/hosts";
import { batchSize, initialProgress, nextBatchLimit, planNextBatch } from "../../src/rollout/planner";
import type { ArmClient } from "../azure/arm";
import { getScaleSet, listUserSessions, logOff, manualUpgrade, modelReferencesTarget, readHosts, sendMessage, setDrainMode, type Host, type UserSession } from "./azure";
import type { RolloutInputs } from "./env";
import { Progress, ToolFailure, type Io } from "../shared/tool";
import { list, table } from "./report";

export interface RolloutResult {
    imageVersion: string;
    imageVersionId: string;
    instancesUpgraded: number;
    instancesAlreadyCurrent: number;
    batches: number;
}

/** Users always get at least this long between the warning and a forced sign-out. */
export const MIN_WARNING_MS = 5 * 60_000;
/** How long signed-out sessions may take to disappear before the rollout gives up. */
const LOGOFF_GRACE_MS = 15 * 60_000;

function describeHost(h: HostState): string {
    const parts = [h.busy ? "upgrading" : `health ${h.health}`, h.avdStatus ?? "not registered"];
    return parts.join(", ");
}

export class Rollout {
    private readonly progress: Progress;
    private readonly run = { attempted: new Set<string>(), nextBatchLimit: initialProgress().nextBatchLimit };
    private upgraded = 0;

    constructor(
        private readonly arm: ArmClient,
        private readonly inputs: RolloutInputs,
        io: Io,
    ) {
        this.progress = new Progress(io, arm.clock);
    }

    private log(text: string): void {
        this.progress.line(text);
    }

    private now(): number {
        return this.arm.clock.now();
    }

    async execute(): Promise<RolloutResult> {
        const t = this.inputs;
        const model = await getScaleSet(this.arm, t.vmss);
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
        if (t.forceLogoffIgnored) {
            this.log("AVD_FORCE_LOGOFF is ignored: no AVD_DRAIN_MESSAGE_BODY is set, and users are never signed out without a warning");
        }

        let hosts = await readHosts(this.arm, t);
        const alreadyCurrent = hosts.filter((h) => h.onTarget).length;
        const full = batchSize(hosts.length, t.policy.maxBatchInstancePercent);
        this.log(
            `scale set ${model.name}: ${hosts.length} instance(s), ${alreadyCurrent} already on ${t.imageVersion}; batches of up to ${full} host(s) (${t.policy.maxBatchInstancePercent}%), starting with 1; ` +
                `drain timeout ${describeDuration(t.drainTimeoutMs)}, pause ${describeDuration(t.pauseMs)} between batches`,
        );

        let batches = 0;
        let pauseFirst = false;
        for (;;) {
            const plan = planNextBatch(hosts, t.policy, this.run);
            if (plan.kind === "done") break;
            if (plan.kind === "stop") throw this.stopped(plan.reason, hosts, plan.hosts);
            if (plan.kind === "wait") {
                hosts = await this.waitWhileBusy(plan.hosts);
                continue;
            }
            if (pauseFirst && plan.upgrade.length > 0 && t.pauseMs > 0) {
                // Plan again after the pause: hosts that turned unhealthy meanwhile count.
                this.log(`pausing ${describeDuration(t.pauseMs)} before the next batch`);
                await this.arm.sleep(t.pauseMs);
                pauseFirst = false;
                hosts = await readHosts(this.arm, t);
                continue;
            }
            batches += 1;
            hosts = await this.runBatch(batches, plan.resume, plan.upgrade, plan.finish);
            pauseFirst = plan.upgrade.length > 0;
        }
        this.log(`done: ${hosts.length} instance(s) on ${t.imageVersion} (${this.upgraded} upgraded now, ${alreadyCurrent} already current) in ${batches} batch(es)`);
        return { imageVersion: t.imageVersion, imageVersionId: t.imageVersionId, instancesUpgraded: this.upgraded, instancesAlreadyCurrent: alreadyCurrent, batches };
    }

    private async runBatch(n: number, resume: boolean, upgrade: HostState[], finish: HostState[]): Promise<Host[]> {
        const t = this.inputs;
        const all = [...upgrade, ...finish];
        if (resume) {
            this.log(
                `batch ${n}: finishing ${all.length} host(s) an earlier run left in drain mode: ${list(all.map((h) => `${h.name} (${h.onTarget ? `on ${t.imageVersion}` : `on ${h.imageVersion ?? "the old image"}`})`))}`,
            );
        } else {
            const users = upgrade.reduce((sum, h) => sum + h.sessions, 0);
            this.log(`batch ${n}: ${list(upgrade.map((h) => (h.zone ? `${h.name} (zone ${h.zone})` : h.name)))}, ${users} user session(s)`);
        }

        const toDrain: HostState[] = [];
        for (const h of all) {
            if (h.draining || !h.sessionHostName) continue;
            await setDrainMode(this.arm, t.hostPool, h.sessionHostName, true);
            toDrain.push(h);
        }
        if (toDrain.length > 0) this.log(`drain mode on for ${list(toDrain.map((h) => h.name))}: no new sessions start there`);
        for (const h of all) this.run.attempted.add(h.instanceId);

        if (upgrade.length > 0) {
            await this.waitForUsersToLeave(upgrade);
            this.log(`upgrading ${list(upgrade.map((h) => h.name))} to ${t.imageVersion} (the instances are reimaged from the scale set's new model)`);
            await manualUpgrade(
                this.arm,
                t.vmss,
                upgrade.map((h) => h.instanceId),
                t.pollMs,
                t.healthTimeoutMs,
            );
            this.upgraded += upgrade.length;
        }

        const hosts = await this.waitForReady(all.map((h) => h.instanceId));
        const mine = hosts.filter((h) => all.some((x) => x.instanceId === h.instanceId));
        const ready = mine.filter((h) => h.onTarget && isReady(h));
        const notReady = mine.filter((h) => !(h.onTarget && isReady(h)));
        for (const h of ready) {
            if (!h.draining || !h.sessionHostName) continue;
            await setDrainMode(this.arm, t.hostPool, h.sessionHostName, false);
            h.draining = false;
        }
        if (ready.length > 0) this.log(`${list(ready.map((h) => h.name))} on ${t.imageVersion}, healthy and Available: back in service`);
        if (notReady.length > 0) {
            this.log(
                `${list(notReady.map((h) => `${h.name} (${h.onTarget ? notReadyReason(h) : `still on ${h.imageVersion ?? "another image"}`})`))} not ready after ${describeDuration(t.healthTimeoutMs)}: left in drain mode, no users are sent there`,
            );
        }
        if (upgrade.length > 0 && !resume) {
            this.run.nextBatchLimit = nextBatchLimit(this.run.nextBatchLimit, batchSize(hosts.length, t.policy.maxBatchInstancePercent), notReady.length === 0);
        }
        return hosts;
    }

    /** Operations Azure is still running (e.g. an upgrade a crashed run started) must finish before anything is decided. */
    private async waitWhileBusy(busy: HostState[]): Promise<Host[]> {
        const t = this.inputs;
        this.log(`waiting for Azure to finish operations already running on ${list(busy.map((h) => h.name))}`);
        const deadline = this.now() + t.healthTimeoutMs;
        for (;;) {
            await this.arm.sleep(t.pollMs);
            const hosts = await readHosts(this.arm, t);
            const still = hosts.filter((h) => h.busy);
            if (still.length === 0) return hosts;
            if (this.now() >= deadline) {
                throw new ToolFailure(
                    `Azure operations on ${list(still.map((h) => h.name))} did not finish within ${describeDuration(t.healthTimeoutMs)}; nothing was drained or upgraded. Check the instances in the portal (scale set > Instances) and run \`pulumi up\` again.`,
                );
            }
        }
    }

    private messageBody(): string | undefined {
        const m = this.inputs.message;
        if (!m) return undefined;
        if (!this.inputs.forceLogoff) return m.body;
        const minutes = Math.ceil(Math.max(this.inputs.drainTimeoutMs, MIN_WARNING_MS) / 60_000);
        return `${m.body}\n\nSessions still open in ${minutes} minutes will be signed out automatically.`;
    }

    /**
     * Waits until the hosts have no user sessions. Every session is warned once when first
     * seen (when a message is configured). At the drain timeout the remaining users are
     * signed out only when forced logoff is on, and only once their own warning is at
     * least the drain timeout (and never less than MIN_WARNING_MS) old; otherwise the
     * rollout stops: nobody is ever signed out without a warning.
     */
    private async waitForUsersToLeave(hosts: HostState[]): Promise<void> {
        const t = this.inputs;
        const onBatch = new Set(hosts.map((h) => h.sessionHostName?.toLowerCase()).filter((x): x is string => x !== undefined));
        const start = this.now();
        const deadline = start + t.drainTimeoutMs;
        const warned = new Map<string, number>();
        const loggedOff = new Set<string>();
        const body = this.messageBody();
        let lastSummary = "";
        for (;;) {
            const sessions = (await listUserSessions(this.arm, t.hostPool)).filter((s) => onBatch.has(s.sessionHostName.toLowerCase()));
            const key = (s: UserSession) => `${s.sessionHostName.toLowerCase()}/${s.id}`;
            if (t.message && body) {
                let sent = 0;
                for (const s of sessions.filter((x) => !warned.has(key(x)))) {
                    if (await sendMessage(this.arm, t.hostPool, s, t.message.title, body)) sent += 1;
                    warned.set(key(s), this.now());
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
            lastSummary = summary;

            const now = this.now();
            if (now >= deadline) {
                if (!t.forceLogoff) throw this.drainTimedOut(hosts, sessions);
                const due = sessions.filter((s) => {
                    const at = warned.get(key(s));
                    return at !== undefined && now - at >= Math.max(t.drainTimeoutMs, MIN_WARNING_MS) && !loggedOff.has(key(s));
                });
                for (const s of due) {
                    await logOff(this.arm, t.hostPool, s);
                    loggedOff.add(key(s));
                }
                if (due.length > 0) this.log(`drain timeout: signed out ${due.length} user(s) warned ${describeDuration(Math.max(t.drainTimeoutMs, MIN_WARNING_MS))} or more ago`);
                const lastWarning = Math.max(...sessions.map((s) => warned.get(key(s)) ?? now));
                if (now >= lastWarning + Math.max(t.drainTimeoutMs, MIN_WARNING_MS) + LOGOFF_GRACE_MS) {
                    throw new ToolFailure(`${sessions.length} user session(s) on ${list(hosts.map((h) => h.name))} were signed out but did not end within ${describeDuration(LOGOFF_GRACE_MS)}.`, this.hostTable(hosts));
                }
            }
            await this.arm.sleep(t.pollMs);
        }
    }

    /** Waits until the batch's hosts run the target image and report healthy and Available, or the health timeout passes. */
    private async waitForReady(instanceIds: string[]): Promise<Host[]> {
        const t = this.inputs;
        const deadline = this.now() + t.healthTimeoutMs;
        const seen = new Map<string, string>();
        for (;;) {
            const hosts = await readHosts(this.arm, t);
            const batch = hosts.filter((h) => instanceIds.includes(h.instanceId));
            const changed = batch.filter((h) => seen.get(h.instanceId) !== describeHost(h));
            for (const h of changed) seen.set(h.instanceId, describeHost(h));
            if (changed.length > 0) this.log(changed.map((h) => `${h.name}: ${describeHost(h)}`).join("; "));
            if (batch.every((h) => !h.busy && h.onTarget && isReady(h))) return hosts;
            if (this.now() >= deadline) return hosts;
            await this.arm.sleep(t.pollMs);
        }
    }

    private hostTable(hosts: readonly HostState[]): string[] {
        return table(
            ["host", "instance", "zone", "image", "health", "AVD status", "drain mode", "sessions"],
            hosts.map((h) => [h.name, h.instanceId, h.zone ?? "-", h.imageVersion ?? "?", h.busy ? "upgrading" : h.health, h.avdStatus ?? "not registered", h.draining ? "on" : "off", String(h.sessions)]),
        );
    }

    private untouchedSummary(hosts: readonly HostState[]): string[] {
        const untouched = hosts.filter((h) => !this.run.attempted.has(h.instanceId) && !h.onTarget);
        if (untouched.length === 0) return [];
        const versions = [...new Set(untouched.map((h) => h.imageVersion ?? "their current image"))];
        return [`${untouched.length} host(s) were not touched and stay on ${list(versions)}, taking users as before${untouched.length <= 20 ? `: ${list(untouched.map((h) => h.name))}` : ""}.`];
    }

    private stopped(reason: string, hosts: readonly HostState[], offending: readonly HostState[]): ToolFailure {
        const t = this.inputs;
        const involved = hosts.filter((h) => offending.some((o) => o.instanceId === h.instanceId) || this.run.attempted.has(h.instanceId));
        return new ToolFailure(`rollout of ${t.imageVersion} stopped: ${reason}.`, [
            ...this.hostTable(involved),
            ...this.untouchedSummary(hosts),
            `Hosts on ${t.imageVersion} that are not healthy stay in drain mode, so no new users reach them.`,
            `Next: fix the cause and run \`pulumi up\` again (the rollout resumes: hosts already on ${t.imageVersion} and healthy are kept, hosts left in drain mode are finished first), or roll back by setting avd-image-rings:imageVersion to the previous version and running \`pulumi up\` (docs/rollout.md, "Rollback").`,
        ]);
    }

    private drainTimedOut(hosts: readonly HostState[], sessions: readonly UserSession[]): ToolFailure {
        const t = this.inputs;
        const occupied = hosts.filter((h) => sessions.some((s) => s.sessionHostName.toLowerCase() === h.sessionHostName?.toLowerCase()));
        const rows = sessions.map((s) => [hosts.find((h) => h.sessionHostName?.toLowerCase() === s.sessionHostName.toLowerCase())?.name ?? s.sessionHostName, s.userPrincipalName ?? "?", s.state ?? "?"]);
        const howToForce = t.message
            ? "set drain.forceLogoffAfterTimeout: true to sign remaining users out after the timeout (they were warned)"
            : "set drain.messageBody (and drain.forceLogoffAfterTimeout: true) to warn users and sign them out after the timeout";
        return new ToolFailure(
            `rollout of ${t.imageVersion} stopped: ${sessions.length} user session(s) were still open on ${list(occupied.map((h) => h.name))} after the drain timeout of ${describeDuration(t.drainTimeoutMs)}; nobody was signed out and nothing in this batch was upgraded.`,
            [
                ...table(["host", "user", "session state"], rows),
                `Users are never signed out without a warning. Ask them to sign out, raise drain.timeoutMinutes, or ${howToForce}.`,
                `The batch's hosts stay in drain mode so no new users arrive; run \`pulumi up\` again to resume (it finishes them first).`,
                `To give up instead and put them back in service: az desktopvirtualization sessionhost update --resource-group ${t.hostPool.resourceGroupName ?? "<rg>"} --host-pool-name ${t.hostPool.name} --name <session host> --allow-new-session true`,
            ],
        );
    }
}
