// The health gate (seed image-management section 6), run for every ring once its hosts are on
// the new version: in Rolling/Automatic rings it first waits for Azure's rolling upgrade; then
// every instance must run the target image with the AVD agent Available, and a sample of
// hosts (always every host of the last batch) must pass the Run Command probe in
// scripts/HealthCheck.ps1: joined, AVD agent services running, FSLogix when checked, CPU and
// free memory within thresholds, on GPU pools the vendor's GPU driver loaded (AVD_GPU_VENDOR),
// and optionally the login time of the latest logon. Every
// wait ends by the gate's deadline; each probe also by its own (AVD_PROBE_TIMEOUT_MINUTES), and
// any fault of one host (probe hung or failed, VM gone) is that host's verdict, not the gate's.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describeDuration } from "../../src/rollout/duration";
import { evaluateHostReport, lastBatchSize, parseHostReport, ReportError, selectHostsToCheck, type HostReport } from "../../src/rollout/healthGate";
import { isReady } from "../../src/rollout/hosts";
import { VENDOR_NAMES } from "../../src/sessionHosts/gpu";
import { ArmError, LroFailedError, type ArmClient, type LroPoller } from "../azure/arm";
import { getScaleSet, latestRollingUpgrade, modelReferencesTarget, readHosts, type Host } from "./azure";
import type { MarketplaceImageRef } from "../../src/tools/environment";
import type { GateInputs } from "./env";
import { Progress, ToolFailure, type Io } from "../shared/tool";
import { list, table } from "./report";
import { beginRunCommand, readRunCommandView, runCommandOutput, type RunCommandView } from "./runCommand";

/** A probed host's verdict. */
export type HostOutcome = "healthy" | "unhealthy" | "probe failed" | "probe timed out" | "host disappeared";

export interface HostVerdict {
    host: string;
    instanceId: string;
    outcome: HostOutcome;
    /** The failed checks, or what went wrong with the probe. */
    details: string[];
}

export type GateResult = GateCounts & (
    | { imageVersionId: string }
    | {
          /** The pool runs this marketplace image (validatedImageVersion is its version), not a gallery version. */
          marketplaceImage: MarketplaceImageRef & {
              /** The versions the hosts run, as Azure reports them (exactVersion): what `latest` resolved to. */
              exactVersions: string[];
          };
      }
);

interface GateCounts {
    validatedImageVersion: string;
    /** When the gate passed (ISO 8601, UTC): the start of the version's soak before the next ring may promote it (src/promotion/soak.ts). */
    validatedAt: string;
    hostsChecked: number;
    hostsPassed: number;
    hosts: HostVerdict[];
}

export const HEALTH_CHECK_SCRIPT = path.join(__dirname, "scripts", "HealthCheck.ps1");
/** Run commands in flight at once; Azure runs one per VM, and a ring's sample is small. */
const MAX_IN_FLIGHT = 10;
/** A wait says what it waits for at least this often. */
export const HEARTBEAT_MS = 5 * 60_000;
/** Outcomes worth another probe in the next round (a timed-out script still runs on its VM). */
const RETRYABLE = new Set<HostOutcome>(["unhealthy", "probe failed"]);

/** The probe script as Run Command's `script` lines. */
export function healthCheckScript(): string[] {
    return readFileSync(HEALTH_CHECK_SCRIPT, "utf8").replace(/\r\n/g, "\n").split("\n");
}

interface HostCheck {
    host: Host;
    outcome: HostOutcome;
    report?: HostReport;
    failed: string[];
    /** A re-probe the gate's own deadline cut short: the host's earlier verdict stands. */
    cutShort?: boolean;
}

/** One host's probe in flight: posting, polling Azure's operation, or reading the VM's state after a lost answer or a 409. */
interface Probe {
    host: Host;
    phase: { kind: "start" } | { kind: "poll"; poller: LroPoller; postedAt: number } | { kind: "reconcile"; postedAt: number };
    nextAt: number;
    deadline: number;
    limitMs: number;
}

export class HealthGate {
    private readonly progress: Progress;
    private readonly deadline: number;

    constructor(
        private readonly arm: ArmClient,
        private readonly inputs: GateInputs,
        io: Io,
    ) {
        this.progress = new Progress(io, arm.clock);
        this.deadline = arm.clock.now() + inputs.timeoutMs;
    }

    private lastLogAt = 0;
    private lastStatus = "";

    private log(text: string): void {
        this.lastLogAt = this.arm.clock.now();
        this.progress.line(text);
    }

    /** A waiting loop's state: printed when it changes, and at least every HEARTBEAT_MS while it does not. */
    private status(line: string): void {
        const now = this.arm.clock.now();
        if (line !== this.lastStatus) this.log(line);
        else if (now - this.lastLogAt >= HEARTBEAT_MS) this.log(`still ${line} (${describeDuration(Math.max(0, this.timeLeft()))} of the gate left)`);
        this.lastStatus = line;
    }

    /** Sleeps, never past the gate's deadline and never longer than a heartbeat; the name says it for tools/shared at merge. */
    private async sleepWithinDeadline(ms: number): Promise<void> {
        await this.arm.sleep(Math.max(0, Math.min(ms, this.timeLeft(), HEARTBEAT_MS)));
    }

    private timeLeft(): number {
        return this.deadline - this.arm.clock.now();
    }

    async execute(): Promise<GateResult> {
        const t = this.inputs;
        const model = await getScaleSet(this.arm, t.vmss);
        if (!modelReferencesTarget(model, t)) {
            throw new ToolFailure(`the scale set ${model.name} does not reference image version ${t.imageVersion} (its model has ${model.imageReferenceText}); the gate validates the version the ring's model runs.`);
        }
        const gpu = t.gpuVendor ? `, ${VENDOR_NAMES[t.gpuVendor]} GPU driver checked` : "";
        this.log(`validating ${t.imageVersion} on scale set ${model.name} (${t.upgradeMode} upgrades${gpu}); gate timeout ${describeDuration(t.timeoutMs)}`);
        if (t.upgradeMode !== "Manual") await this.waitForAzureUpgrade();
        const hosts = await this.waitForHostsAvailable();

        const sample = selectHostsToCheck(
            hosts.map((h) => ({ ...h, lastOperationTime: h.instance.lastOperationTime })),
            lastBatchSize(hosts.length, model.maxBatchInstancePercent),
        );
        this.log(`probing ${sample.length} of ${hosts.length} host(s) with Run Command: ${list(sample.map((h) => h.name))}`);
        const { checks: results, loginProblem } = await this.probe(sample);
        const verdicts = results.map((r): HostVerdict => ({ host: r.host.name, instanceId: r.host.instanceId, outcome: r.outcome, details: r.failed }));
        const report = table(
            ["host", "instance", "outcome", "details"],
            verdicts.map((v) => [v.host, v.instanceId, v.outcome, v.details.join("; ")]),
        );
        const failed = results.filter((r) => r.outcome !== "healthy");
        if (failed.length === 0 && loginProblem) {
            throw new ToolFailure(`health gate for ${t.imageVersion} failed: ${loginProblem}.`, [
                ...report,
                "Sign the probe account in to the host pool while the gate runs (or set healthGate.loginProbe: false) and run `pulumi up` again.",
            ]);
        }
        if (failed.length > 0) {
            throw new ToolFailure(`health gate for ${t.imageVersion} failed: ${failed.length} of ${results.length} probed host(s) are not healthy (${outcomeCounts(failed)}).`, [
                ...report,
                `The version is not marked validated, so the next ring cannot promote it. Fix the image (or the hosts) and run \`pulumi up\` again, or roll back (docs/rollout.md, "Rollback").`,
            ]);
        }
        for (const line of report) this.progress.line(line);
        this.log(`all ${results.length} probed host(s) passed: ${t.imageVersion} is validated`);
        const counts = { validatedImageVersion: t.imageVersion, validatedAt: new Date(this.arm.clock.now()).toISOString(), hostsChecked: results.length, hostsPassed: results.length, hosts: verdicts };
        if (t.source === "gallery") return { ...counts, imageVersionId: t.imageVersionId };
        const exactVersions = [...new Set(hosts.map((h) => h.imageVersion).filter((v): v is string => v !== undefined))].sort();
        return { ...counts, marketplaceImage: { ...t.marketplaceImage, exactVersions } };
    }

    /** Rolling/Automatic rings: Azure upgrades the instances; wait until it is done with all of them. */
    private async waitForAzureUpgrade(): Promise<void> {
        const t = this.inputs;
        // A Faulted record of an earlier upgrade can stay the latest for a moment after the model changed.
        let staleFault: string | undefined;
        let first = true;
        const staleUntil = this.arm.clock.now() + Math.min(5 * 60_000, t.timeoutMs / 4);
        for (;;) {
            const upgrade = await latestRollingUpgrade(this.arm, t.vmss);
            const hosts = await readHosts(this.arm, t);
            const current = hosts.filter((h) => h.onTarget).length;
            const code = upgrade?.code;
            if (first && (code === "Faulted" || code === "Cancelled")) staleFault = upgrade?.startTime;
            first = false;
            const line = upgrade
                ? `rolling upgrade ${code ?? "?"}: ${upgrade.progress.successful} upgraded, ${upgrade.progress.inProgress} in progress, ${upgrade.progress.pending} pending, ${upgrade.progress.failed} failed; ${current} of ${hosts.length} instance(s) on ${t.imageVersion}`
                : `no rolling upgrade reported yet; ${current} of ${hosts.length} instance(s) on ${t.imageVersion}`;
            this.status(line);
            if ((code === "Faulted" || code === "Cancelled") && current < hosts.length) {
                const stale = staleFault !== undefined && upgrade?.startTime === staleFault && this.arm.clock.now() < staleUntil;
                if (!stale) {
                    throw new ToolFailure(`health gate for ${t.imageVersion} failed: Azure's rolling upgrade ended ${code}${upgrade?.error ? ` (${upgrade.error})` : ""}.`, [
                        ...this.hostTable(hosts),
                        "Azure stops a rolling upgrade when too many upgraded instances report unhealthy (rollingUpgrade.maxUnhealthyUpgradedInstancePercent). Hosts not yet upgraded keep the previous version.",
                        `Fix the image and publish a new version, or roll back (docs/rollout.md, "Rollback").`,
                    ]);
                }
            }
            const settled = code === undefined || code === "Completed" || code === "Faulted" || code === "Cancelled";
            if (current === hosts.length && settled) return;
            if (this.timeLeft() <= 0) {
                throw new ToolFailure(`health gate for ${t.imageVersion} failed: ${hosts.length - current} instance(s) were still not on ${t.imageVersion} after ${describeDuration(t.timeoutMs)}.`, this.hostTable(hosts));
            }
            await this.sleepWithinDeadline(t.pollMs);
        }
    }

    /** Every instance on the target image, health probe Healthy and AVD agent Available. */
    private async waitForHostsAvailable(): Promise<Host[]> {
        const t = this.inputs;
        for (;;) {
            const hosts = await readHosts(this.arm, t);
            const bad = hosts.filter((h) => !h.onTarget || !isReady(h) || h.busy);
            if (hosts.length > 0 && bad.length === 0) {
                this.log(`all ${hosts.length} instance(s) run ${t.imageVersion}, healthy and Available`);
                return hosts;
            }
            const line = hosts.length === 0 ? "the scale set has no instances" : `waiting for ${list(bad.map((h) => h.name))}: ${bad.map((h) => `${h.name} ${this.state(h)}`).join(", ")}`;
            this.status(line);
            if (this.timeLeft() <= 0) {
                throw new ToolFailure(
                    hosts.length === 0
                        ? `health gate for ${t.imageVersion} failed: the scale set has no instances to validate.`
                        : `health gate for ${t.imageVersion} failed: ${bad.length} of ${hosts.length} instance(s) were not on ${t.imageVersion} with the AVD agent Available after ${describeDuration(t.timeoutMs)}.`,
                    this.hostTable(bad),
                );
            }
            await this.sleepWithinDeadline(t.pollMs);
        }
    }

    private state(h: Host): string {
        if (!h.onTarget) return `on ${h.imageVersion ?? "another image"}`;
        if (h.busy) return "upgrading";
        return `health ${h.health}, ${h.avdStatus ?? "not registered"}`;
    }

    private hostTable(hosts: readonly Host[]): string[] {
        return table(
            ["host", "instance", "image", "health", "AVD status"],
            hosts.map((h) => [h.name, h.instanceId, h.imageVersion ?? "?", h.busy ? "upgrading" : h.health, h.avdStatus ?? "not registered"]),
        );
    }

    /**
     * Runs the probe on every sampled host, re-probing hosts that failed their checks (or whose
     * probe failed) until they pass or the gate's time is up: right after an upgrade, CPU and
     * services may still be settling. A host whose probe timed out is not probed again (Azure
     * still runs that script, and refuses a second one until it ends), nor is one that vanished.
     * With the login probe on, at least one probed host must have recorded a logon.
     */
    private async probe(sample: Host[]): Promise<{ checks: HostCheck[]; loginProblem?: string }> {
        const t = this.inputs;
        const script = healthCheckScript();
        const parameters = { CheckFslogix: String(t.checkFslogix), MeasureLogon: String(t.loginProbe), ...(t.gpuVendor ? { GpuVendor: t.gpuVendor } : {}) };
        const thresholds = {
            maxCpuPercent: t.maxCpuPercent,
            minFreeMemoryPercent: t.minFreeMemoryPercent,
            checkFslogix: t.checkFslogix,
            loginProbe: t.loginProbe,
            maxLoginSeconds: t.maxLoginSeconds,
            ...(t.gpuVendor ? { gpuVendor: t.gpuVendor } : {}),
        };
        const results = new Map<string, HostCheck>();
        let pending = [...sample];
        for (let round = 1; ; round++) {
            for (const r of await this.runAll(pending, script, parameters)) {
                if (r.report) {
                    const failed = evaluateHostReport(r.report, thresholds);
                    results.set(r.host.instanceId, { ...r, outcome: failed.length > 0 ? "unhealthy" : "healthy", failed });
                } else if (!(r.cutShort && results.has(r.host.instanceId))) {
                    results.set(r.host.instanceId, r);
                }
            }
            const checks = sample.map((h) => results.get(h.instanceId)).filter((r): r is HostCheck => r !== undefined);
            const retryable = checks.filter((r) => RETRYABLE.has(r.outcome));
            const loginProblem =
                t.loginProbe && !checks.some((r) => r.report?.lastLogon) ? "no logon was recorded on any probed host since it started, so the login time could not be measured" : undefined;
            const again = retryable.length > 0 ? retryable : loginProblem ? checks.filter((r) => r.outcome === "healthy") : [];
            if (again.length === 0 || this.timeLeft() <= t.pollMs) return { checks, loginProblem };
            const waiting = retryable.length > 0 ? list(retryable.map((r) => `${r.host.name} (${r.failed.join("; ")})`)) : (loginProblem ?? "");
            this.log(`round ${round}: ${waiting}; checking again in ${describeDuration(t.pollMs)}`);
            await this.sleepWithinDeadline(t.pollMs);
            pending = again.map((r) => r.host);
        }
    }

    /**
     * One probe round: Run Command on each host (a bounded number at a time), each polled on
     * its own schedule (Retry-After honoured, never past the host's probe deadline), and every
     * fault contained to its host's verdict.
     */
    private async runAll(hosts: Host[], script: string[], parameters: Record<string, string>): Promise<HostCheck[]> {
        const t = this.inputs;
        const clock = this.arm.clock;
        const queue = [...hosts];
        const running: Probe[] = [];
        const done: HostCheck[] = [];
        let lastHeartbeat = clock.now();
        while (queue.length > 0 || running.length > 0) {
            while (running.length < MAX_IN_FLIGHT && queue.length > 0) {
                const host = queue.shift() as Host;
                const now = clock.now();
                const limit = Math.min(t.probeTimeoutMs, Math.max(0, this.timeLeft()));
                running.push({ host, phase: { kind: "start" }, nextAt: now, deadline: now + limit, limitMs: limit });
            }
            const now = clock.now();
            for (const p of [...running]) {
                if (p.nextAt > now && p.deadline > now) continue;
                const verdict = p.deadline <= now ? this.timedOut(p) : await this.step(p, script, parameters);
                if (verdict) {
                    running.splice(running.indexOf(p), 1);
                    done.push(verdict);
                }
            }
            if (running.length === 0) continue;
            if (clock.now() - lastHeartbeat >= HEARTBEAT_MS) {
                lastHeartbeat = clock.now();
                this.log(`waiting for Run Command on ${list(running.map((p) => `${p.host.name} (${describeDuration(Math.max(0, p.deadline - clock.now()))} left)`))}; ${done.length} of ${hosts.length} probe(s) done`);
            }
            const wake = Math.min(...running.map((p) => Math.min(p.nextAt, p.deadline)), lastHeartbeat + HEARTBEAT_MS);
            if (wake > clock.now()) await this.sleepWithinDeadline(wake - clock.now());
        }
        return done;
    }

    /** Advances one host's probe; returns its verdict once there is one. */
    private async step(p: Probe, script: string[], parameters: Record<string, string>): Promise<HostCheck | undefined> {
        const t = this.inputs;
        const clock = this.arm.clock;
        const host = p.host;
        if (p.phase.kind === "start") {
            const postedAt = clock.now();
            try {
                const poller = await beginRunCommand(this.arm, t.vmss, host.instanceId, script, parameters);
                if (poller.done) return this.finish(host, runCommandOutput(poller.result));
                p.phase = { kind: "poll", poller, postedAt };
                p.nextAt = clock.now() + poller.nextPollDelayMs();
                return undefined;
            } catch (e) {
                if (!(e instanceof ArmError)) throw e;
                if (e.status === 404) return this.disappeared(host);
                if (e.status === 409 || e.outcomeUnknown) {
                    // Our POST may have started a run (lost answer), or an earlier run still holds the
                    // VM: read what the VM reports instead of posting again.
                    this.log(`${host.name}: ${e.status === 409 ? `Azure refused a new run (${e.armMessage})` : "the Run Command request got no answer"}; reading the VM's run-command state`);
                    p.phase = { kind: "reconcile", postedAt };
                    p.nextAt = clock.now() + t.pollMs;
                    return undefined;
                }
                return { host, outcome: "probe failed", failed: [`Run Command refused: ${e.code}: ${e.armMessage}`] };
            }
        }
        if (p.phase.kind === "poll") {
            const { poller, postedAt } = p.phase;
            try {
                await poller.poll();
            } catch (e) {
                if (!(e instanceof ArmError)) throw e;
                const view = await this.tryView(host);
                if (view === "gone") return this.disappeared(host);
                // A Location poll reports a failed operation as its error answer (a 4xx), an async poll as status Failed.
                if (e instanceof LroFailedError || (e.status >= 400 && e.status < 500 && e.status !== 404 && e.status !== 408)) {
                    return { host, outcome: "probe failed", failed: [`Run Command failed: ${e.armMessage}`] };
                }
                // The status request failed; the run goes on on the VM, whose state tells the outcome.
                p.phase = { kind: "reconcile", postedAt };
                p.nextAt = clock.now() + t.pollMs;
                return undefined;
            }
            if (poller.done) return this.finish(host, runCommandOutput(poller.result));
            p.nextAt = clock.now() + poller.nextPollDelayMs();
            return undefined;
        }
        const view = await this.tryView(host);
        if (view === "gone") return this.disappeared(host);
        const ranSincePost = view !== undefined && view.time !== undefined && view.time >= p.phase.postedAt;
        if (view?.state === "running" || view === undefined) {
            p.nextAt = clock.now() + t.pollMs;
            return undefined;
        }
        if (ranSincePost && view.state === "failed") return { host, outcome: "probe failed", failed: [`Run Command failed: ${view.message ?? "the RunCommandWindows extension reported a failure"}`] };
        if (ranSincePost) return this.finish(host, view);
        // No run since our request: it was never applied (or an older run just ended), so posting is safe.
        p.phase = { kind: "start" };
        p.nextAt = clock.now();
        return undefined;
    }

    /** The VM's run-command state; "gone" when the VM no longer exists, undefined when Azure did not answer. */
    private async tryView(host: Host): Promise<RunCommandView | "gone" | undefined> {
        try {
            return (await readRunCommandView(this.arm, this.inputs.vmss, host.instanceId)) ?? "gone";
        } catch (e) {
            if (!(e instanceof ArmError)) throw e;
            return undefined;
        }
    }

    private timedOut(p: Probe): HostCheck {
        const byGate = p.limitMs < this.inputs.probeTimeoutMs;
        return {
            host: p.host,
            outcome: "probe timed out",
            failed: [`probe did not finish within ${describeDuration(p.limitMs)}${byGate ? " (the gate's time left)" : ""}; Azure stops a hung script after 90 min`],
            cutShort: byGate,
        };
    }

    private disappeared(host: Host): HostCheck {
        return { host, outcome: "host disappeared", failed: ["the VM no longer exists (deleted or scaled in during the probe)"] };
    }

    private finish(host: Host, output: { stdout: string; stderr: string }): HostCheck {
        const { stdout, stderr } = output;
        try {
            return { host, outcome: "healthy", report: parseHostReport(stdout), failed: [] };
        } catch (e) {
            if (!(e instanceof ReportError)) throw e;
            return { host, outcome: "probe failed", failed: [`${e.message}${stderr.trim() ? `; stderr: ${stderr.trim().split("\n")[0].slice(0, 200)}` : ""}`] };
        }
    }
}

/** "2 unhealthy, 1 probe timed out" */
function outcomeCounts(checks: readonly HostCheck[]): string {
    const counts = new Map<HostOutcome, number>();
    for (const c of checks) counts.set(c.outcome, (counts.get(c.outcome) ?? 0) + 1);
    return [...counts].map(([outcome, n]) => `${n} ${outcome}`).join(", ");
}
