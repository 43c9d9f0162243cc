// Run Command on scale-set instances, as the health gate uses it: the action API
// `POST .../virtualMachines/{instanceId}/runCommand` (RunPowerShellScript), the one the
// compute spec at azure-native's api-version 2024-11-01 describes (runCommand.json: 200 with
// value[] StdOut/StdErr, or 202 + Location). Azure runs one such script per VM at a time (a
// second POST answers 409 "Run command extension execution is in progress") and stops it
// after 90 minutes, so the gate bounds each probe itself and reconciles a POST whose answer
// was lost by reading the VM's instance view, where the RunCommandWindows extension reports
// the last run's state and output, instead of posting again into that 409.
import type { ArmClient, LroPoller } from "../azure/arm";
import type { ResourceId } from "../azure/ids";
import { isRecord, optionalArray, optionalString } from "../azure/json";
import { COMPUTE_API_VERSION } from "./azure";

function instancePath(vmss: ResourceId, instanceId: string): string {
    return `${vmss.id}/virtualMachines/${encodeURIComponent(instanceId)}`;
}

/** Starts RunPowerShellScript on one instance; poll the returned operation for its output. */
export async function beginRunCommand(arm: ArmClient, vmss: ResourceId, instanceId: string, script: string[], parameters: Record<string, string>): Promise<LroPoller> {
    return arm.begin("POST", `${instancePath(vmss, instanceId)}/runCommand`, {
        apiVersion: COMPUTE_API_VERSION,
        body: { commandId: "RunPowerShellScript", script, parameters: Object.entries(parameters).map(([name, v]) => ({ name, value: v })) },
    });
}

function pickOutput(statuses: unknown[], kind: string): string {
    return statuses
        .filter(isRecord)
        .filter((v) => new RegExp(`/${kind}/`, "i").test(optionalString(v, "code") ?? ""))
        .map((v) => optionalString(v, "message") ?? "")
        .join("\n");
}

/** stdout and stderr of a finished run command (value[] with ComponentStatus/StdOut and StdErr). */
export function runCommandOutput(result: unknown): { stdout: string; stderr: string } {
    const value = optionalArray(result, "value") ?? [];
    return { stdout: pickOutput(value, "StdOut"), stderr: pickOutput(value, "StdErr") };
}

/** The last run command on a VM as its instance view reports it (extension RunCommandWindows). */
export interface RunCommandView {
    /** running = the extension is transitioning; none = no run command reported on the VM. */
    state: "running" | "succeeded" | "failed" | "none";
    /** When the extension last changed state, ms since the epoch. */
    time?: number;
    stdout: string;
    stderr: string;
    /** The extension's status message (Azure's words when the run failed). */
    message?: string;
}

const RUN_COMMAND_EXTENSION = /(^|\.)RunCommandWindows$/i;

/** The VM's run-command state, or undefined when the VM no longer exists (404). */
export async function readRunCommandView(arm: ArmClient, vmss: ResourceId, instanceId: string): Promise<RunCommandView | undefined> {
    const res = await arm.request("GET", `${instancePath(vmss, instanceId)}/instanceView`, { apiVersion: COMPUTE_API_VERSION, acceptStatuses: [404] });
    if (res.status === 404) return undefined;
    const extension = (optionalArray(res.body, "extensions") ?? [])
        .filter(isRecord)
        .find((e) => RUN_COMMAND_EXTENSION.test(optionalString(e, "type") ?? "") || RUN_COMMAND_EXTENSION.test(optionalString(e, "name") ?? ""));
    if (!extension) return { state: "none", stdout: "", stderr: "" };
    const status = (optionalArray(extension, "statuses") ?? []).filter(isRecord)[0];
    const code = (optionalString(status, "code") ?? "").toLowerCase();
    const time = Date.parse(optionalString(status, "time") ?? "");
    const substatuses = optionalArray(extension, "substatuses") ?? [];
    return {
        state: code.endsWith("/transitioning") ? "running" : code.endsWith("/succeeded") ? "succeeded" : code.endsWith("/failed") ? "failed" : "none",
        time: Number.isNaN(time) ? undefined : time,
        stdout: pickOutput(substatuses, "StdOut"),
        stderr: pickOutput(substatuses, "StdErr"),
        message: optionalString(status, "message"),
    };
}
