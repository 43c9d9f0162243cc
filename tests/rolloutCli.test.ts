import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as path from "node:path";
import type { GateResult } from "../tools/healthGate";
import type { RolloutResult } from "../tools/rollout";
import { ComputeModule } from "./fakeAzure/compute";
import { RunCommandModule } from "./fakeAzure/runCommand";
import { DesktopVirtualizationModule } from "./fakeAzure/desktopVirtualization";
import { FAKE_SUBSCRIPTION_ID, startFakeAzure, type FakeAzure } from "./fakeAzure/server";

const RG = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-prod`;
const VMSS = `${RG}/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-avd-prod`;
const HOST_POOL = `${RG}/providers/Microsoft.DesktopVirtualization/hostPools/vdpool-avd-prod`;
const DEFINITION = `/subscriptions/${FAKE_SUBSCRIPTION_ID}/resourceGroups/rg-avd-images/providers/Microsoft.Compute/galleries/avd_golden_images/images/avd-win11-m365`;
const NEW = `${DEFINITION}/versions/1.2.0`;
const TOKEN = "cli-test-token";

const cwd = path.resolve(__dirname, "..");
const tsx = path.join(cwd, "node_modules", ".bin", "tsx");

/** Runs a tool exactly as the command resource does: `node_modules/.bin/tsx tools/<tool>.ts` from the project directory. */
function spawnTool(tool: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn(tsx, [`tools/${tool}.ts`], { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
}

function lastLine(stdout: string): unknown {
    const lines = stdout.trim().split("\n");
    return JSON.parse(lines[lines.length - 1]);
}

describe("rollout and health gate CLIs, as the command resources run them", function () {
    this.timeout(60_000);
    let fake: FakeAzure | undefined;
    afterEach(async () => {
        await fake?.stop();
    });

    it("roll a Manual ring forward and validate it against the fake in real time", async () => {
        const compute = new ComputeModule({ upgradeSeconds: 0.05, healthAfterSeconds: 0 });
        const runCommands = new RunCommandModule(compute, {
            runCommandSeconds: 0,
            defaultRunCommand: (input) => ({
                stdout: JSON.stringify({ computerName: input.computerName, domainJoined: true, entraJoined: false, services: { RDAgent: "Running", RDAgentBootLoader: "Running", frxsvc: "Running" }, cpuPercent: 10, freeMemoryPercent: 55 }),
            }),
        });
        const dv = new DesktopVirtualizationModule({ compute, heartbeatSeconds: 0.01, heartbeatTimeoutSeconds: 0.05 });
        fake = await startFakeAzure({ acceptToken: TOKEN, operationRetryAfterSeconds: 0 }, [compute, runCommands, dv]);
        compute.addScaleSet({ id: VMSS, capacity: 3, imageReferenceId: `${DEFINITION}/versions/1.1.0`, computerNamePrefix: "avdprd" });
        dv.addHostPool({ id: HOST_POOL, scaleSetId: VMSS });
        for (const id of ["0", "1", "2"]) dv.scenario(HOST_POOL, id, { registerSeconds: 0 });
        dv.addUserSessions(HOST_POOL, "1", [{ endsAfterPolls: 2 }]);
        compute.setModelImage(VMSS, NEW);
        const common = { AZURE_RESOURCE_MANAGER_ENDPOINT: fake.url, AVD_ARM_ACCESS_TOKEN: TOKEN, AVD_VMSS_ID: VMSS, AVD_HOST_POOL_ID: HOST_POOL, AVD_IMAGE_VERSION_ID: NEW, AVD_POLL_SECONDS: "0.02" };

        const rollout = await spawnTool("rollout", {
            ...common,
            AVD_MAX_BATCH_PERCENT: "50",
            AVD_MAX_UNHEALTHY_PERCENT: "50",
            AVD_MAX_UNHEALTHY_UPGRADED_PERCENT: "0",
            AVD_PAUSE_BETWEEN_BATCHES: "PT0S",
            AVD_PRIORITIZE_UNHEALTHY: "true",
            AVD_DRAIN_TIMEOUT_MINUTES: "5",
            AVD_DRAIN_MESSAGE_BODY: "Please sign out.",
            AVD_FORCE_LOGOFF: "false",
        });
        assert.equal(rollout.code, 0, rollout.stderr);
        assert.deepEqual(lastLine(rollout.stdout) as RolloutResult, { imageVersion: "1.2.0", imageVersionId: NEW, instancesUpgraded: 3, instancesAlreadyCurrent: 0, batches: 3, signedOutSessions: { active: 0, disconnected: 0 }, hostsLeftDrained: [] });
        assert.match(rollout.stderr, /canary: drain mode on for avdprd000000: no new sessions start there; 0 user session\(s\) to wait for/, "paced by host: the canary is the host with the fewest users");

        const gate = await spawnTool("healthGate", { ...common, AVD_UPGRADE_MODE: "Manual", AVD_GATE_TIMEOUT_MINUTES: "5" });
        assert.equal(gate.code, 0, gate.stderr);
        const gateResult = lastLine(gate.stdout) as GateResult;
        assert.deepEqual(gateResult, { validatedImageVersion: "1.2.0", imageVersionId: NEW, validatedAt: gateResult.validatedAt, hostsChecked: 3, hostsPassed: 3, hosts: gateResult.hosts });
        assert.ok(Math.abs(Date.now() - Date.parse(gateResult.validatedAt)) < 60_000, `validatedAt ${gateResult.validatedAt} is the time the gate passed`);
        assert.deepEqual((lastLine(gate.stdout) as GateResult).hosts.map((h) => h.outcome), ["healthy", "healthy", "healthy"]);
        assert.ok(![rollout.stdout, rollout.stderr, gate.stdout, gate.stderr].some((s) => s.includes(TOKEN)), "the token is never printed");
        assert.deepEqual(fake.violations, []);
    });

    it("on SIGTERM puts the draining batch back in service, says where it stopped and exits 1", async () => {
        const compute = new ComputeModule({ upgradeSeconds: 0.05, healthAfterSeconds: 0 });
        const dv = new DesktopVirtualizationModule({ compute, heartbeatSeconds: 0.01, heartbeatTimeoutSeconds: 0.05 });
        fake = await startFakeAzure({ acceptToken: TOKEN, operationRetryAfterSeconds: 0 }, [compute, dv]);
        compute.addScaleSet({ id: VMSS, capacity: 3, imageReferenceId: `${DEFINITION}/versions/1.1.0`, computerNamePrefix: "avdprd" });
        dv.addHostPool({ id: HOST_POOL, scaleSetId: VMSS });
        for (const id of ["0", "1", "2"]) dv.addUserSessions(HOST_POOL, id, [{ endsAfterPolls: "never" }]);
        compute.setModelImage(VMSS, NEW);
        const child = spawn(tsx, ["tools/rollout.ts"], {
            cwd,
            env: {
                PATH: process.env.PATH,
                HOME: process.env.HOME,
                AZURE_RESOURCE_MANAGER_ENDPOINT: fake.url,
                AVD_ARM_ACCESS_TOKEN: TOKEN,
                AVD_VMSS_ID: VMSS,
                AVD_HOST_POOL_ID: HOST_POOL,
                AVD_IMAGE_VERSION_ID: NEW,
                AVD_POLL_SECONDS: "0.05",
                AVD_MAX_BATCH_PERCENT: "50",
                AVD_MAX_UNHEALTHY_PERCENT: "50",
                AVD_MAX_UNHEALTHY_UPGRADED_PERCENT: "0",
                AVD_PAUSE_BETWEEN_BATCHES: "PT0S",
                AVD_DRAIN_TIMEOUT_MINUTES: "60",
                AVD_DRAIN_MESSAGE_BODY: "Please sign out.",
            },
        });
        let stderr = "";
        const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
        child.stderr.on("data", (d: Buffer) => {
            stderr += d.toString();
            if (/drain mode on for/.test(stderr) && child.exitCode === null && !child.killed) child.kill("SIGTERM");
        });
        const code = await exited;
        assert.equal(code, 1, stderr);
        assert.match(stderr, /Error: rollout stopped by SIGTERM: 0 of 3 hosts on 1\.2\.0; run `pulumi up` again to continue\./);
        assert.match(stderr, /rollout report: /);
        assert.ok(dv.sessionHosts(HOST_POOL).every((h) => h.allowNewSession), "no host left drained");
        assert.deepEqual(compute.manualUpgrades, []);
        assert.deepEqual(Object.keys(compute.tags(VMSS)), [], "lock and marker removed");
    });

    it("exit 2 with one line and no stack trace for a missing input", async () => {
        const out = await spawnTool("healthGate", { AVD_VMSS_ID: VMSS, AVD_HOST_POOL_ID: HOST_POOL });
        assert.equal(out.code, 2);
        assert.equal(out.stdout, "");
        assert.equal(out.stderr.trim(), "Error: AVD_IMAGE_VERSION_ID is not set: it must be the ARM id of the target gallery image version (.../galleries/<g>/images/<def>/versions/<X.Y.Z>), or set AVD_MARKETPLACE_IMAGE (publisher:offer:sku:version) for a marketplace pool.");
    });
});
