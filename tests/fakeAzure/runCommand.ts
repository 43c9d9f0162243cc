// Run Command on scale-set instances (Microsoft.Compute 2024-11-01), installed next to the
// ComputeModule whose instances it runs on: the action `POST .../virtualMachines/{id}/runCommand`
// (RunPowerShellScript; 202 + Location, result value[] StdOut/StdErr as in Azure's example)
// and `GET .../virtualMachines/{id}/instanceView`, whose RunCommandWindows extension reports the
// last run (transitioning while it runs, then succeeded/failed with StdOut/StdErr substatuses).
// As in Azure: a run takes tens of seconds to minutes on the fake's clock and finishes whether or
// not anybody polls; one run at a time per VM (a second POST answers 409 "Run command extension
// execution is in progress"); a script can hang (the operation stays InProgress), the extension can
// fail (the operation ends Failed), and the VM can disappear mid-run (404 from then on).
import { createHash } from "node:crypto";
import type { ComputeModule } from "./compute";
import { COMPUTE_API_VERSION } from "./compute";
import { exampleBody, type FakeAzure, type FakeRequest, type FakeResponse, type OperationOutcome, type ResourceProviderModule } from "./server";

export interface RunCommandInput {
    scaleSetId: string;
    instanceId: string;
    computerName: string;
    script: string[];
    parameters: Record<string, string>;
}

/** What one run does. */
export interface RunCommandOutcome {
    stdout?: string;
    stderr?: string;
    /** Run time; default 20 to 140 s, spread by VM. */
    seconds?: number;
    /** The script never finishes (a prompt waiting for input, a hung WMI call). */
    hang?: boolean;
    /** The RunCommandWindows extension fails: the operation ends Failed with this message. */
    extensionError?: string;
    /** The VM is deleted (scaled in, removed by hand) this many seconds into the run. */
    vmDisappearsAfterSeconds?: number;
}

export type RunCommandScript = string | ((input: RunCommandInput) => RunCommandOutcome);

/** A GPU session host's driver, as the guest sees it. */
export type GpuDriverState = "loaded" | "missing" | "failed";

/**
 * The `gpu` facts tools/rollout/scripts/HealthCheck.ps1 prints on a GPU host (Win32_VideoController
 * and nvidia-smi), or null when the probe was not asked for them (no GpuVendor parameter), as on
 * Windows: without its driver the GPU is a "Microsoft Basic Display Adapter" beside the Hyper-V
 * video device and nvidia-smi is not installed; a driver that failed to start leaves the device in
 * Status "Error" with ConfigManagerErrorCode 43, and nvidia-smi exits 9 (driver not loaded).
 */
export function gpuFacts(input: RunCommandInput, state: GpuDriverState): Record<string, unknown> | null {
    const vendor = input.parameters.GpuVendor;
    if (vendor !== "nvidia" && vendor !== "amd") return null;
    const hyperV = { name: "Microsoft Hyper-V Video", status: "OK", errorCode: 0, driverVersion: "10.0.26100.1" };
    const gpuName = vendor === "nvidia" ? "NVIDIA A10-4Q" : "AMD Radeon PRO V710 MxGPU";
    const adapters =
        state === "missing"
            ? [hyperV, { name: "Microsoft Basic Display Adapter", status: "OK", errorCode: 0, driverVersion: "10.0.26100.1" }]
            : [hyperV, { name: gpuName, status: state === "loaded" ? "OK" : "Error", errorCode: state === "loaded" ? 0 : 43, driverVersion: "32.0.15.7424" }];
    const nvidiaSmi = vendor !== "nvidia" ? null : state === "loaded" ? 0 : state === "failed" ? 9 : "NotInstalled";
    return { vendor, adapters, nvidiaSmi };
}

export interface RunCommandRecord extends RunCommandInput {
    time: number;
}

export interface RunCommandModuleOptions {
    /** Output for VMs without their own script. */
    defaultRunCommand?: RunCommandScript;
    /** Run time of every run without its own `seconds` (default: 20 to 140 s by VM). */
    runCommandSeconds?: number;
}

interface Run {
    startedAt: number;
    /** undefined: hangs. */
    endsAt?: number;
    outcome: RunCommandOutcome;
}

const EXTENSION_TYPE = "Microsoft.CPlat.Core.RunCommandWindows";

function key(scaleSetId: string, instanceId: string): string {
    return `${scaleSetId.toLowerCase()}/${instanceId}`;
}

export class RunCommandModule implements ResourceProviderModule {
    /** Every run Azure accepted, in order. */
    readonly runCommands: RunCommandRecord[] = [];
    /** POSTs refused with 409 because a run was in progress. */
    readonly conflicts: RunCommandRecord[] = [];
    defaultRunCommand?: RunCommandScript;
    runCommandSeconds?: number;
    private fake?: FakeAzure;
    private readonly scripts = new Map<string, RunCommandScript>();
    private readonly runs = new Map<string, Run>();
    /** VM key -> when it disappeared. */
    private readonly gone = new Map<string, number>();

    constructor(
        private readonly compute: ComputeModule,
        options: RunCommandModuleOptions = {},
    ) {
        this.defaultRunCommand = options.defaultRunCommand;
        this.runCommandSeconds = options.runCommandSeconds;
    }

    install(fake: FakeAzure): void {
        this.fake = fake;
        const vm = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachineScaleSets/{vmScaleSetName}/virtualMachines/{instanceId}";
        const guard = (h: (req: FakeRequest) => FakeResponse): ((req: FakeRequest) => FakeResponse) => (req) => {
            const refused = this.compute.crash.refuse();
            if (refused) return refused;
            const res = h(req);
            return this.compute.crash.trips(req) ? (this.compute.crash.refuse() as FakeResponse) : res;
        };
        fake.route({ method: "POST", pattern: `${vm}/runCommand`, apiVersion: COMPUTE_API_VERSION, handler: guard((r) => this.runCommand(r)) });
        fake.route({ method: "GET", pattern: `${vm}/instanceView`, apiVersion: COMPUTE_API_VERSION, handler: guard((r) => this.instanceView(r)) });
    }

    /** What RunPowerShellScript does on one VM. */
    script(scaleSetId: string, instanceId: string, script: RunCommandScript): void {
        this.scripts.set(key(scaleSetId, instanceId), script);
    }

    /** Runs on a VM, in order. */
    runsOn(instanceId: string): RunCommandRecord[] {
        return this.runCommands.filter((r) => r.instanceId === instanceId);
    }

    private get azure(): FakeAzure {
        if (!this.fake) throw new Error("RunCommandModule is not installed");
        return this.fake;
    }

    private scaleSetId(req: FakeRequest): string {
        const p = req.params;
        return `/subscriptions/${p.subscriptionId}/resourceGroups/${p.resourceGroupName}/providers/Microsoft.Compute/virtualMachineScaleSets/${p.vmScaleSetName}`;
    }

    /** The VM's computer name, or undefined when it does not exist (now). */
    private vm(req: FakeRequest): { scaleSetId: string; computerName: string } | undefined {
        const scaleSetId = this.scaleSetId(req);
        const instanceId = req.params.instanceId;
        const goneAt = this.gone.get(key(scaleSetId, instanceId));
        if (goneAt !== undefined && goneAt <= req.now) return undefined;
        try {
            if (!this.compute.instanceIds(scaleSetId).includes(instanceId)) return undefined;
            return { scaleSetId, computerName: this.compute.computerName(scaleSetId, instanceId) };
        } catch {
            return undefined;
        }
    }

    private notFound(req: FakeRequest): FakeResponse {
        return this.azure.notFound("Microsoft.Compute/virtualMachineScaleSets/virtualMachines", `${req.params.vmScaleSetName}/${req.params.instanceId}`, req.params.resourceGroupName);
    }

    private running(run: Run | undefined, now: number): boolean {
        return run !== undefined && (run.endsAt === undefined || now < run.endsAt);
    }

    private defaultSeconds(scaleSetId: string, instanceId: string): number {
        if (this.runCommandSeconds !== undefined) return this.runCommandSeconds;
        const h = createHash("sha256").update(key(scaleSetId, instanceId)).digest();
        return 20 + (h[0] % 121);
    }

    private runCommand(req: FakeRequest): FakeResponse {
        const fake = this.azure;
        const vm = this.vm(req);
        if (!vm) return this.notFound(req);
        const instanceId = req.params.instanceId;
        const body = typeof req.body === "object" && req.body !== null ? (req.body as Record<string, unknown>) : {};
        if (body.commandId !== "RunPowerShellScript") {
            return fake.error(400, "InvalidParameter", `The command id '${String(body.commandId)}' is not valid for a Windows VM; use RunPowerShellScript.`);
        }
        const script = Array.isArray(body.script) ? body.script.filter((x): x is string => typeof x === "string") : [];
        const parameters: Record<string, string> = {};
        if (Array.isArray(body.parameters)) {
            for (const p of body.parameters) {
                if (typeof p === "object" && p !== null && typeof (p as Record<string, unknown>).name === "string") {
                    parameters[String((p as Record<string, unknown>).name)] = String((p as Record<string, unknown>).value ?? "");
                }
            }
        }
        const input: RunCommandInput = { scaleSetId: vm.scaleSetId, instanceId, computerName: vm.computerName, script, parameters };
        if (this.compute.isBusy(vm.scaleSetId, instanceId, req.now)) return fake.error(409, "Conflict", "Run command cannot be executed while the VM is being updated.");
        const k = key(vm.scaleSetId, instanceId);
        if (this.running(this.runs.get(k), req.now)) {
            this.conflicts.push({ ...input, time: req.now });
            return fake.error(409, "Conflict", "Run command extension execution is in progress. Please wait for completion before invoking a run command.");
        }
        this.runCommands.push({ ...input, time: req.now });
        const producer = this.scripts.get(k) ?? this.defaultRunCommand ?? "";
        const outcome: RunCommandOutcome = typeof producer === "string" ? { stdout: producer } : producer(input);
        const run: Run = { startedAt: req.now, endsAt: outcome.hang ? undefined : req.now + (outcome.seconds ?? this.defaultSeconds(vm.scaleSetId, instanceId)) * 1000, outcome };
        this.runs.set(k, run);
        if (outcome.vmDisappearsAfterSeconds !== undefined) this.gone.set(k, req.now + outcome.vmDisappearsAfterSeconds * 1000);
        const op = fake.startOperation({
            namespace: "Microsoft.Compute",
            location: "westeurope",
            apiVersion: COMPUTE_API_VERSION,
            advance: () => this.advance(k, run, vm.computerName),
        });
        return fake.accepted(op, { location: true });
    }

    private advance(k: string, run: Run, computerName: string): OperationOutcome | undefined {
        const now = this.azure.clock.now();
        const goneAt = this.gone.get(k);
        if (goneAt !== undefined && goneAt <= now && (run.endsAt === undefined || goneAt < run.endsAt)) {
            return { status: "Failed", error: { code: "OperationPreempted", message: `The virtual machine ${computerName} was deleted while the run command ran.` } };
        }
        if (run.endsAt === undefined || now < run.endsAt) return undefined;
        if (run.outcome.extensionError !== undefined) {
            return { status: "Failed", error: { code: "VMExtensionProvisioningError", message: `VM has reported a failure when processing extension 'RunCommandWindows'. Error message: "${run.outcome.extensionError}".` } };
        }
        return { status: "Succeeded", result: { value: this.outputStatuses(run) } };
    }

    private outputStatuses(run: Run): Array<Record<string, unknown>> {
        const example = exampleBody("compute/2024-11-01/VirtualMachineScaleSetVMRunCommand.json", "200", this.azure.subscriptionId);
        const [stdout, stderr] = (example.value as Array<Record<string, unknown>>).map((x) => ({ ...x }));
        stdout.message = run.outcome.stdout ?? "";
        stderr.message = run.outcome.stderr ?? "";
        return [stdout, stderr];
    }

    private instanceView(req: FakeRequest): FakeResponse {
        const vm = this.vm(req);
        if (!vm) return this.notFound(req);
        const body = exampleBody("compute/2024-11-01/VirtualMachineScaleSetVM_Get_InstanceViewAutoPlacedOnDedicatedHostGroup.json", "200", this.azure.subscriptionId);
        delete body.assignedHost;
        body.computerName = vm.computerName;
        const run = this.runs.get(key(vm.scaleSetId, req.params.instanceId));
        body.extensions = run ? [this.extensionView(run, req.now)] : [];
        return { status: 200, body };
    }

    private extensionView(run: Run, now: number): Record<string, unknown> {
        const running = this.running(run, now);
        const failed = !running && run.outcome.extensionError !== undefined;
        const state = running ? "transitioning" : failed ? "failed" : "succeeded";
        return {
            name: "RunCommandWindows",
            type: EXTENSION_TYPE,
            typeHandlerVersion: "1.1.22",
            statuses: [
                {
                    code: `ProvisioningState/${state}`,
                    level: failed ? "Error" : "Info",
                    displayStatus: running ? "Transitioning" : failed ? "Provisioning failed" : "Provisioning succeeded",
                    message: failed ? run.outcome.extensionError : running ? "Run command is in progress" : "Finished executing command",
                    time: new Date(running ? run.startedAt : (run.endsAt as number)).toISOString(),
                },
            ],
            substatuses: running ? [] : this.outputStatuses(run),
        };
    }
}
