// Health gate for every ring, after its hosts are on the new version. Run by the ImageRollout
// component's command resource as `node_modules/.bin/tsx tools/healthGate.ts`, or by hand
// (docs/rollout.md).
//
// Inputs (environment): AVD_VMSS_ID, AVD_HOST_POOL_ID, AVD_IMAGE_VERSION_ID, AVD_UPGRADE_MODE
// (Manual, Rolling or Automatic; the last two first wait for Azure's rolling upgrade), optional
// AVD_MAX_LOGIN_SECONDS (30), AVD_LOGIN_PROBE (false), AVD_MAX_CPU_PERCENT (80),
// AVD_MIN_FREE_MEMORY_PERCENT (20), AVD_CHECK_FSLOGIX (true), AVD_GATE_TIMEOUT_MINUTES (60, bounds
// every wait, probes included), AVD_PROBE_TIMEOUT_MINUTES (10, one host's Run Command probe),
// AVD_POLL_SECONDS (30); ARM endpoint and credentials as in tools/azure/credentials.ts.
// Progress goes to stderr; on success the last stdout line is one JSON object (GateResult, with
// each probed host's verdict). Exit 0 = validated, 1 = failed (per-host table on stderr: healthy,
// unhealthy, probe failed, probe timed out, host disappeared), 2 = invalid input.
import { ArmClient } from "./azure/arm";
import { systemClock } from "./azure/clock";
import { Progress, runAsScript, type Io, type ToolOptions } from "./shared/tool";
import { InputError, readGateInputs } from "./rollout/env";
import { describeFailure } from "./rollout/failure";
import { HealthGate } from "./rollout/healthGateRunner";
import { Notifier, type NotifyOptions } from "./shared/notify";

export type { GateResult } from "./rollout/healthGateRunner";

export interface MainOptions extends ToolOptions {
    notify?: NotifyOptions;
}

/** Runs the gate; returns the exit code. Never throws. */
export async function main(env: NodeJS.ProcessEnv, io: Io, options: MainOptions = {}): Promise<number> {
    const notifier = Notifier.fromEnvironment(env, "health gate", io, options.clock ?? systemClock, options.notify);
    try {
        const inputs = readGateInputs(env);
        await notifier.started();
        const heartbeat = new Progress(io, options.clock ?? systemClock);
        const arm = ArmClient.fromEnvironment(env, { clock: options.clock, tokenProvider: options.tokenProvider, fetch: options.fetch, retry: options.retry, defaultPollIntervalMs: inputs.pollMs,
            signal: options.signal,
            heartbeat: (line) => heartbeat.line(line),
            // No single Retry-After may outlast the gate's own deadline.
            maxRetryWaitMs: inputs.timeoutMs,
        });
        const result = await new HealthGate(arm, inputs, io).execute();
        io.stdout(JSON.stringify(result));
        await notifier.finished(`${result.hostsPassed} of ${result.hostsChecked} host(s) healthy on ${result.validatedImageVersion}`);
        return 0;
    } catch (e) {
        const report = describeFailure(e, "health gate");
        for (const line of report) io.stderr(line);
        await notifier.failed(report);
        return e instanceof InputError ? 2 : 1;
    }
}

if (require.main === module) runAsScript(main);
