// The health gate's decisions (seed image-management section 6): which hosts to probe with
// Run Command, what the probe's JSON report must show, and how long a ring's gate may wait.
import type { SessionHostsConfig } from "../config/types";
import { parseIsoDuration } from "./duration";
import { compareInstanceIds, zoneBalanced } from "./hosts";
import { batchSize } from "./planner";
import { gateTimeoutMinutesFor } from "../tools/environment";

/** Hosts probed in a large ring: 10 plus 5% of the ring (every host in smaller rings). */
export function sampleSize(total: number): number {
    return Math.min(total, 10 + Math.ceil(total * 0.05));
}

export interface GateCandidate {
    instanceId: string;
    zone?: string;
    /** When Azure last finished an operation on the instance (its upgrade), ms since the epoch. */
    lastOperationTime?: number;
}

/**
 * The hosts the gate probes: every host of the last batch (the most recently upgraded
 * `lastBatchSize` instances), then a zone-balanced spread of the rest up to the sample size.
 */
export function selectHostsToCheck<T extends GateCandidate>(hosts: readonly T[], lastBatchSize: number): T[] {
    const byRecency = [...hosts].sort((a, b) => (b.lastOperationTime ?? 0) - (a.lastOperationTime ?? 0) || compareInstanceIds(a.instanceId, b.instanceId));
    const lastBatch = byRecency.slice(0, Math.max(0, lastBatchSize));
    const chosen = new Set(lastBatch.map((h) => h.instanceId));
    const rest = zoneBalanced(
        hosts.filter((h) => !chosen.has(h.instanceId)),
        (a, b) => compareInstanceIds(a.instanceId, b.instanceId),
    );
    const room = Math.max(0, sampleSize(hosts.length) - lastBatch.length);
    return [...lastBatch, ...rest.slice(0, room)].sort((a, b) => compareInstanceIds(a.instanceId, b.instanceId));
}

/** Hosts Azure's rolling upgrade (or the rollout) upgrades per batch: the last batch the gate always probes. */
export function lastBatchSize(total: number, maxBatchInstancePercent: number | undefined): number {
    return total === 0 ? 0 : batchSize(total, maxBatchInstancePercent ?? 20);
}

/** What tools/rollout/scripts/HealthCheck.ps1 reports, as JSON on its last line of output. */
export interface HostReport {
    computerName?: string;
    domainJoined: boolean;
    entraJoined: boolean;
    /** Service name -> state: Running, Stopped, StartPending, ..., or NotInstalled. */
    services: Record<string, string>;
    cpuPercent?: number;
    freeMemoryPercent?: number;
    /** The most recent logon since the host started, when the login probe is on. */
    lastLogon?: { user?: string; seconds: number; time?: string };
}

export interface GateThresholds {
    maxCpuPercent: number;
    minFreeMemoryPercent: number;
    checkFslogix: boolean;
    loginProbe: boolean;
    maxLoginSeconds: number;
}

export class ReportError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ReportError";
    }
}

function isRecord(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

function num(v: unknown): number | undefined {
    return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/** The report from the probe's stdout: the last line that is a JSON object. */
export function parseHostReport(stdout: string): HostReport {
    const lines = stdout.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.startsWith("{"));
    for (const line of lines.reverse()) {
        let value: unknown;
        try {
            value = JSON.parse(line);
        } catch {
            continue;
        }
        if (!isRecord(value)) continue;
        const services: Record<string, string> = {};
        if (isRecord(value.services)) {
            for (const [k, v] of Object.entries(value.services)) if (typeof v === "string") services[k] = v;
        }
        const logon = isRecord(value.lastLogon) ? value.lastLogon : undefined;
        const seconds = logon ? num(logon.seconds) : undefined;
        return {
            computerName: typeof value.computerName === "string" ? value.computerName : undefined,
            domainJoined: value.domainJoined === true,
            entraJoined: value.entraJoined === true,
            services,
            cpuPercent: num(value.cpuPercent),
            freeMemoryPercent: num(value.freeMemoryPercent),
            lastLogon:
                logon && seconds !== undefined
                    ? { seconds, user: typeof logon.user === "string" ? logon.user : undefined, time: typeof logon.time === "string" ? logon.time : undefined }
                    : undefined,
        };
    }
    const shown = stdout.trim().split(/\r?\n/).slice(-3).join(" | ").slice(0, 300);
    throw new ReportError(`the health check printed no JSON report${shown ? ` (last output: ${shown})` : " (no output)"}`);
}

function serviceRunning(report: HostReport, name: string): string | undefined {
    const state = report.services[name] ?? "NotInstalled";
    return state === "Running" ? undefined : `${name} ${state === "NotInstalled" ? "not installed" : state}`;
}

/** The checks a host failed, in words; empty when it passed. */
export function evaluateHostReport(report: HostReport, t: GateThresholds): string[] {
    const failed: string[] = [];
    if (!report.domainJoined && !report.entraJoined) failed.push("not joined to Active Directory or Microsoft Entra ID");
    for (const service of ["RDAgent", "RDAgentBootLoader", ...(t.checkFslogix ? ["frxsvc"] : [])]) {
        const problem = serviceRunning(report, service);
        if (problem) failed.push(problem);
    }
    if (report.cpuPercent === undefined) failed.push("CPU not measured");
    else if (report.cpuPercent > t.maxCpuPercent) failed.push(`CPU ${report.cpuPercent.toFixed(0)}% > ${t.maxCpuPercent}%`);
    if (report.freeMemoryPercent === undefined) failed.push("free memory not measured");
    else if (report.freeMemoryPercent < t.minFreeMemoryPercent) failed.push(`free memory ${report.freeMemoryPercent.toFixed(0)}% < ${t.minFreeMemoryPercent}%`);
    if (t.loginProbe && report.lastLogon && report.lastLogon.seconds > t.maxLoginSeconds) {
        failed.push(`login took ${report.lastLogon.seconds.toFixed(0)} s > ${t.maxLoginSeconds} s${report.lastLogon.user ? ` (${report.lastLogon.user})` : ""}`);
    }
    return failed;
}

/**
 * How long a ring's gate may wait, in minutes. Manual rings run the gate after the rollout
 * finished. Rolling and Automatic rings start it when the model changes, so it must outlast
 * Azure's whole rolling upgrade. The formula is the tool contract's (src/tools/environment.ts).
 */
export function gateTimeoutMinutes(sh: SessionHostsConfig): number {
    return gateTimeoutMinutesFor({
        upgradeMode: sh.upgradeMode,
        capacity: sh.capacity,
        maxBatchInstancePercent: sh.rollingUpgrade.maxBatchInstancePercent,
        pauseMs: parseIsoDuration(sh.rollingUpgrade.pauseTimeBetweenBatches),
        probeTimeoutMinutes: sh.healthGate.probeTimeoutMinutes,
    });
}
