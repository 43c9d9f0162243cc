// The health gate (seed image-management section 6), run for every ring once its hosts are on
// the new version: in Rolling/Automatic rings it first waits for Azure's rolling upgrade; then
// every instance must run the target image with the AVD agent Available, and a sample of
// hosts (always every host of the last batch) must pass the Run Command probe in
// scripts/HealthCheck.ps1: joined, AVD agent services running, FSLogix when checked, CPU and
// free memory within thresholds, and optionally the login time of the latest logon.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describeDuration } from "../../src/rollout/duration";
import { evaluateHostReport, lastBatchSize, parseHostReport, ReportError, selectHostsToCheck, type HostReport } from "../../src/rollout/healthGate";
import { isReady } from "../../src/rollout/hosts";
import { LroFailedError, type ArmClient, type LroPoller } from "../azure/arm";
import { beginRunCommand, getScaleSet, latestRollingUpgrade, modelReferencesTarget, readHosts, runCommandOutput, type Host } from "./azure";
import type { GateInputs } from "./env";
import { Progress, ToolFailure, type Io } from "../shared/tool";
import { list, table } from "./report";

export interface GateResult {
    validatedImageVersion: string;
    imageVersionId: string;
    hostsChecked: number;
    hostsPassed: number;
}

export const HEALTH_CHECK_SCRIPT = path.join(__dirname, "scripts", "HealthCheck.ps1");
/** Run commands in flight at once; Azure runs one per VM, and a ring's sample is small. */
const MAX_IN_FLIGHT = 10;

/** The probe script as Run Command's `script` lines. */
export function healthCheckScript(): string[] {
    return readFileSync(HEALTH_CHECK_SCRIPT, "utf8").replace(/\r\n/g, "\n").split("\n");
}

interface HostCheck {
    host: Host;
    report?: HostReport;
    failed: string[];
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

    private log(text: string): void {
        this.progress.line(text);
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
        this.log(`validating ${t.imageVersion} on scale set ${model.name} (${t.upgradeMode} upgrades); gate timeout ${describeDuration(t.timeoutMs)}`);
        if (t.upgradeMode !== "Manual") await this.waitForAzureUpgrade();
        const hosts = await this.waitForHostsAvailable();

        const sample = selectHostsToCheck(
            hosts.map((h) => ({ ...h, lastOperationTime: h.instance.lastOperationTime })),
            lastBatchSize(hosts.length, model.maxBatchInstancePercent),
        );
        this.log(`probing ${sample.length} of ${hosts.length} host(s) with Run Command: ${list(sample.map((h) => h.name))}`);
        const { checks: results, loginProblem } = await this.probe(sample);
        const failed = results.filter((r) => r.failed.length > 0);
        if (failed.length === 0 && loginProblem) {
            throw new ToolFailure(`health gate for ${t.imageVersion} failed: ${loginProblem}.`, [
                "Sign the probe account in to the host pool while the gate runs (or set healthGate.loginProbe: false) and run `pulumi up` again.",
            ]);
        }
        if (failed.length > 0) {
            throw new ToolFailure(`health gate for ${t.imageVersion} failed: ${failed.length} of ${results.length} probed host(s) failed their checks.`, [
                ...table(
                    ["host", "instance", "failed checks"],
                    failed.map((r) => [r.host.name, r.host.instanceId, r.failed.join("; ")]),
                ),
                `The version is not marked validated, so the next ring cannot promote it. Fix the image (or the hosts) and run \`pulumi up\` again, or roll back (docs/rollout.md, "Rollback").`,
            ]);
        }
        this.log(`all ${results.length} probed host(s) passed: ${t.imageVersion} is validated`);
        return { validatedImageVersion: t.imageVersion, imageVersionId: t.imageVersionId, hostsChecked: results.length, hostsPassed: results.length };
    }

    /** Rolling/Automatic rings: Azure upgrades the instances; wait until it is done with all of them. */
    private async waitForAzureUpgrade(): Promise<void> {
        const t = this.inputs;
        // A Faulted record of an earlier upgrade can stay the latest for a moment after the model changed.
        let staleFault: string | undefined;
        let first = true;
        let lastLine = "";
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
            if (line !== lastLine) this.log(line);
            lastLine = line;
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
            await this.arm.sleep(Math.min(t.pollMs, Math.max(0, this.timeLeft())));
        }
    }

    /** Every instance on the target image, health probe Healthy and AVD agent Available. */
    private async waitForHostsAvailable(): Promise<Host[]> {
        const t = this.inputs;
        let lastLine = "";
        for (;;) {
            const hosts = await readHosts(this.arm, t);
            const bad = hosts.filter((h) => !h.onTarget || !isReady(h) || h.busy);
            if (hosts.length > 0 && bad.length === 0) {
                this.log(`all ${hosts.length} instance(s) run ${t.imageVersion}, healthy and Available`);
                return hosts;
            }
            const line = hosts.length === 0 ? "the scale set has no instances" : `waiting for ${list(bad.map((h) => h.name))}: ${bad.map((h) => `${h.name} ${this.state(h)}`).join(", ")}`;
            if (line !== lastLine) this.log(line);
            lastLine = line;
            if (this.timeLeft() <= 0) {
                throw new ToolFailure(
                    hosts.length === 0
                        ? `health gate for ${t.imageVersion} failed: the scale set has no instances to validate.`
                        : `health gate for ${t.imageVersion} failed: ${bad.length} of ${hosts.length} instance(s) were not on ${t.imageVersion} with the AVD agent Available after ${describeDuration(t.timeoutMs)}.`,
                    this.hostTable(bad),
                );
            }
            await this.arm.sleep(Math.min(t.pollMs, Math.max(0, this.timeLeft())));
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
     * Runs the probe on every sampled host (a bounded number at a time, polled one request at
     * a time so no Retry-After is ever undercut), re-probing failed hosts until they pass or
     * the gate times out: right after an upgrade, CPU and services may still be settling.
     * With the login probe on, at least one probed host must have recorded a logon.
     */
    private async probe(sample: Host[]): Promise<{ checks: HostCheck[]; loginProblem?: string }> {
        const t = this.inputs;
        const script = healthCheckScript();
        const parameters = { CheckFslogix: String(t.checkFslogix), MeasureLogon: String(t.loginProbe) };
        const thresholds = { maxCpuPercent: t.maxCpuPercent, minFreeMemoryPercent: t.minFreeMemoryPercent, checkFslogix: t.checkFslogix, loginProbe: t.loginProbe, maxLoginSeconds: t.maxLoginSeconds };
        const results = new Map<string, HostCheck>();
        let pending = [...sample];
        for (let round = 1; ; round++) {
            for (const r of await this.runAll(pending, script, parameters)) {
                results.set(r.host.instanceId, r.report ? { ...r, failed: evaluateHostReport(r.report, thresholds) } : r);
            }
            const checks = sample.map((h) => results.get(h.instanceId)).filter((r): r is HostCheck => r !== undefined);
            const failing = checks.filter((r) => r.failed.length > 0);
            const loginProblem =
                t.loginProbe && !checks.some((r) => r.report?.lastLogon) ? "no logon was recorded on any probed host since it started, so the login time could not be measured" : undefined;
            if ((failing.length === 0 && !loginProblem) || this.timeLeft() <= t.pollMs) return { checks, loginProblem };
            const waiting = failing.length > 0 ? list(failing.map((r) => `${r.host.name} (${r.failed.join("; ")})`)) : (loginProblem ?? "");
            this.log(`round ${round}: ${waiting}; checking again in ${describeDuration(t.pollMs)}`);
            await this.arm.sleep(t.pollMs);
            pending = failing.length > 0 ? failing.map((r) => r.host) : [...sample];
        }
    }

    private async runAll(hosts: Host[], script: string[], parameters: Record<string, string>): Promise<HostCheck[]> {
        const queue = [...hosts];
        const running: Array<{ host: Host; poller: LroPoller; nextPollAt: number }> = [];
        const done: HostCheck[] = [];
        const clock = this.arm.clock;
        while (queue.length > 0 || running.length > 0) {
            while (running.length < MAX_IN_FLIGHT) {
                const host = queue.shift();
                if (!host) break;
                const poller = await beginRunCommand(this.arm, this.inputs.vmss, host.instanceId, script, parameters);
                if (poller.done) done.push(this.finish(host, poller.result));
                else running.push({ host, poller, nextPollAt: clock.now() + poller.nextPollDelayMs() });
            }
            if (running.length === 0) continue;
            const soonest = Math.min(...running.map((r) => r.nextPollAt));
            if (soonest > clock.now()) await this.arm.sleep(soonest - clock.now());
            for (const r of [...running]) {
                if (r.nextPollAt > clock.now()) continue;
                try {
                    await r.poller.poll();
                } catch (e) {
                    if (!(e instanceof LroFailedError)) throw e;
                    running.splice(running.indexOf(r), 1);
                    done.push({ host: r.host, failed: [`Run Command failed: ${e.armMessage}`] });
                    continue;
                }
                if (r.poller.done) {
                    running.splice(running.indexOf(r), 1);
                    done.push(this.finish(r.host, r.poller.result));
                } else {
                    r.nextPollAt = clock.now() + r.poller.nextPollDelayMs();
                }
            }
        }
        return done;
    }

    private finish(host: Host, result: unknown): HostCheck {
        const { stdout, stderr } = runCommandOutput(result);
        try {
            return { host, report: parseHostReport(stdout), failed: [] };
        } catch (e) {
            if (!(e instanceof ReportError)) throw e;
            return { host, failed: [`${e.message}${stderr.trim() ? `; stderr: ${stderr.trim().split("\n")[0].slice(0, 200)}` : ""}`] };
        }
    }
}
