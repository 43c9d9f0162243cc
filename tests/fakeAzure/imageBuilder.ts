// Microsoft.VirtualMachineImages image templates (api-version 2024-02-01): GET/PUT/DELETE,
// POST run/cancel (202 + Azure-AsyncOperation), GET runOutputs. A run follows a script:
// every GET of the template moves it on (Queued -> Building -> Customizing -> Optimizing ->
// Validating -> Distributing), distribution publishes the gallery version (tags = the
// SharedImage distributor's artifactTags), and a failed run names its customization.log,
// which lives where AIB writes it: the staging resource group's storage account, container
// `packerlogs`, blob `<runId>/customization.log`. That account is faked too: Microsoft.Storage
// list-by-resource-group and listAccountSas (ARM), and the blob data plane (list + ranged GET).
import { createHash, createHmac, randomBytes, randomUUID } from "node:crypto";
import { parseResourceId } from "../../tools/azure/ids";
import type { GalleryModule } from "./gallery";
import type { MarketplaceModule } from "./marketplace";
import { exampleBody, type FakeAzure, type FakeRequest, type FakeResponse, type ResourceProviderModule } from "./server";

export const IMAGE_BUILDER_API_VERSION = "2024-02-01";
export const STORAGE_API_VERSION = "2023-05-01";

export type RunState = "Running" | "Canceling" | "Succeeded" | "PartiallySucceeded" | "Failed" | "Canceled";
export type RunSubState = "Queued" | "Building" | "Customizing" | "Optimizing" | "Validating" | "Distributing";

export const SUB_STATES: RunSubState[] = ["Queued", "Building", "Customizing", "Optimizing", "Validating", "Distributing"];

export interface BuildScript {
    /** Template GETs each sub-state lasts (default 1). */
    pollsPerSubState?: number;
    /** Template GETs replication takes during Distributing (default 3). */
    replicationPolls?: number;
    /** Sub-state in which the run fails (after its polls), or hangs when `hang` is set. */
    failAt?: RunSubState;
    /** Never leaves `failAt` (or Customizing): for timeouts. */
    hang?: boolean;
    /** Distribution finishes PartiallySucceeded: the version ends Failed in its last region. */
    partial?: boolean;
    /** lastRunStatus.message on failure (AIB appends the log location). */
    message?: string;
    /** Sets properties.provisioningError when the run fails. */
    provisioningError?: { provisioningErrorCode: string; message: string };
    /** Lines the failing step wrote to customization.log. */
    logLines?: string[];
    /** The staging storage account refuses shared-key (SAS) access. */
    disallowSharedKeyAccess?: boolean;
    /**
     * A recorded customization.log (e.g. tests/fixtures/releaseNotes/customization.log): its lines
     * are written to the run's log when the customizations finish, as the build VM's steps would.
     */
    customizationLog?: string;
}

/** What "latest" resolves to when no marketplace module knows the SKU. */
export const DEFAULT_PLATFORM_IMAGE_VERSION = "26100.2314.241107";

export interface TemplateSeed {
    /** Image template id. */
    id: string;
    location?: string;
    /** Gallery image version the SharedImage distributor publishes. */
    galleryImageVersionId: string;
    artifactTags?: Record<string, string>;
    targetRegions?: string[];
    excludeFromLatest?: boolean;
    buildTimeoutInMinutes?: number;
    /** Explicit staging resource group id; otherwise AIB's generated IT_... group. */
    stagingResourceGroup?: string;
    runOutputName?: string;
}

interface RunProgress {
    runId: string;
    script: BuildScript;
    index: number;
    pollsInState: number;
    replicationPoll: number;
    runState: RunState;
    startTime: string;
    endTime?: string;
    message: string;
    operationId: string;
    cancelOperationId?: string;
    log: string[];
}

interface TemplateState {
    id: string;
    resourceGroupName: string;
    name: string;
    location: string;
    body: Record<string, unknown>;
    provisioningState: "Creating" | "Succeeded" | "Failed" | "Deleting" | "Canceled" | "Updating";
    run?: RunProgress;
    runs: number;
    nextScript?: BuildScript;
}

interface StorageAccount {
    id: string;
    name: string;
    resourceGroupId: string;
    location: string;
    allowSharedKeyAccess: boolean;
    key: Buffer;
    blobs: Map<string, { content: string; lastModified: number }>;
    /** Signatures issued by listAccountSas, with what they allow. */
    sas: Map<string, { permissions: string; expiry: number }>;
}

const SUB_STATE_MESSAGES: Record<RunSubState, string> = {
    Queued: "Run queued",
    Building: "Creating the build VM",
    Customizing: "Running customizations",
    Optimizing: "Optimizing the image",
    Validating: "Running validations",
    Distributing: "Distributing the image",
};

export class ImageBuilderModule implements ResourceProviderModule {
    private fake?: FakeAzure;
    private readonly gallery: GalleryModule;
    private readonly marketplace?: MarketplaceModule;
    private readonly templates = new Map<string, TemplateState>();
    private readonly accounts = new Map<string, StorageAccount>();
    /** Template GETs a cancel takes to reach Canceled. */
    cancelPolls = 1;

    constructor(options: { gallery: GalleryModule; marketplace?: MarketplaceModule }) {
        this.gallery = options.gallery;
        this.marketplace = options.marketplace;
    }

    install(fake: FakeAzure): void {
        this.fake = fake;
        const template = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.VirtualMachineImages/imageTemplates/{imageTemplateName}";
        const v = IMAGE_BUILDER_API_VERSION;
        fake.route({ method: "GET", pattern: template, apiVersion: v, handler: (req) => this.get(req) });
        fake.route({ method: "PUT", pattern: template, apiVersion: v, handler: (req) => this.put(req) });
        fake.route({ method: "DELETE", pattern: template, apiVersion: v, handler: (req) => this.delete(req) });
        fake.route({ method: "POST", pattern: `${template}/run`, apiVersion: v, handler: (req) => this.run(req) });
        fake.route({ method: "POST", pattern: `${template}/cancel`, apiVersion: v, handler: (req) => this.cancel(req) });
        fake.route({ method: "GET", pattern: `${template}/runOutputs`, apiVersion: v, handler: (req) => this.runOutputs(req) });
        fake.route({ method: "GET", pattern: `${template}/runOutputs/{runOutputName}`, apiVersion: v, handler: (req) => this.runOutput(req) });

        const accounts = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Storage/storageAccounts";
        fake.route({ method: "GET", pattern: accounts, apiVersion: STORAGE_API_VERSION, handler: (req) => this.listAccounts(req) });
        fake.route({ method: "POST", pattern: `${accounts}/{accountName}/ListAccountSas`, apiVersion: STORAGE_API_VERSION, handler: (req) => this.listAccountSas(req) });
        fake.route({ method: "GET", pattern: "/blob/{accountName}/{container}", raw: true, handler: (req) => this.listBlobs(req) });
        fake.route({ method: "GET", pattern: "/blob/{accountName}/{container}/{*blob}", raw: true, handler: (req) => this.getBlob(req) });
    }

    /** Seeds an existing template (provisioningState Succeeded, never run). */
    addTemplate(seed: TemplateSeed): void {
        const p = parseResourceId(seed.id);
        const location = seed.location ?? "westeurope";
        const body = exampleBody("imagebuilder/2024-02-01/GetImageTemplate.json", "200", p.subscriptionId);
        const props = body.properties as Record<string, unknown>;
        props.source = { type: "PlatformImage", publisher: "MicrosoftWindowsDesktop", offer: "office-365", sku: "win11-24h2-avd-m365", version: "latest" };
        props.customize = [{ type: "PowerShell", name: "InstallApps", runElevated: true, runAsSystem: true, inline: ["Write-Host 'installing'"] }];
        props.distribute = [
            {
                type: "SharedImage",
                galleryImageId: seed.galleryImageVersionId,
                runOutputName: seed.runOutputName ?? `${p.name}-output`,
                artifactTags: { ...seed.artifactTags },
                excludeFromLatest: seed.excludeFromLatest ?? false,
                targetRegions: (seed.targetRegions ?? [location]).map((name) => ({ name, replicaCount: 1, storageAccountType: "Standard_LRS" })),
            },
        ];
        props.vmProfile = { vmSize: "Standard_D4s_v5", osDiskSizeGB: 127 };
        props.buildTimeoutInMinutes = seed.buildTimeoutInMinutes ?? 120;
        props.exactStagingResourceGroup = seed.stagingResourceGroup ?? `/subscriptions/${p.subscriptionId}/resourceGroups/IT_${p.resourceGroupName}_${p.name}_${randomUUID()}`;
        if (seed.stagingResourceGroup) props.stagingResourceGroup = seed.stagingResourceGroup;
        props.provisioningState = "Succeeded";
        const id = canonicalTemplateId(seed.id);
        this.templates.set(id.toLowerCase(), {
            id,
            resourceGroupName: p.resourceGroupName ?? "",
            name: p.name,
            location,
            body: { ...body, id, name: p.name, location, tags: {} },
            provisioningState: "Succeeded",
            runs: 0,
        });
    }

    /** What the next run of `templateId` does (default: succeed, one GET per sub-state). */
    scriptNextRun(templateId: string, script: BuildScript): void {
        this.state(templateId).nextScript = script;
    }

    /** The template as the fake holds it (for assertions). */
    template(templateId: string): { runs: number; runState?: RunState; runSubState?: RunSubState; runId?: string; log: string[] } {
        const t = this.state(templateId);
        return { runs: t.runs, runState: t.run?.runState, runSubState: t.run ? SUB_STATES[t.run.index] : undefined, runId: t.run?.runId, log: t.run?.log ?? [] };
    }

    private get fakeAzure(): FakeAzure {
        if (!this.fake) throw new Error("ImageBuilderModule is not installed");
        return this.fake;
    }

    private state(templateId: string): TemplateState {
        const t = this.templates.get(canonicalTemplateId(templateId).toLowerCase());
        if (!t) throw new Error(`no image template ${templateId}`);
        return t;
    }

    private find(req: FakeRequest): TemplateState | undefined {
        const base = req.path.split("/").slice(0, 9).join("/");
        return this.templates.get(base.toLowerCase());
    }

    private notFound(req: FakeRequest): FakeResponse {
        return this.fakeAzure.notFound("Microsoft.VirtualMachineImages/imageTemplates", req.params.imageTemplateName, req.params.resourceGroupName);
    }

    private distributor(t: TemplateState): Record<string, unknown> | undefined {
        const distribute = (t.body.properties as Record<string, unknown>).distribute;
        return Array.isArray(distribute) ? (distribute as Array<Record<string, unknown>>).find((d) => d.type === "SharedImage") : undefined;
    }

    private render(t: TemplateState): Record<string, unknown> {
        const props: Record<string, unknown> = { ...(t.body.properties as Record<string, unknown>), provisioningState: t.provisioningState };
        if (t.run) {
            const status: Record<string, unknown> = { startTime: t.run.startTime, runState: t.run.runState, runSubState: SUB_STATES[t.run.index], message: t.run.message };
            if (t.run.endTime) status.endTime = t.run.endTime;
            props.lastRunStatus = status;
        }
        return { ...t.body, properties: props };
    }

    private get(req: FakeRequest): FakeResponse {
        const t = this.find(req);
        if (!t) return this.notFound(req);
        if (t.run) this.advance(t);
        return { status: 200, body: this.render(t) };
    }

    private put(req: FakeRequest): FakeResponse {
        const fake = this.fakeAzure;
        const body = req.body;
        if (typeof body !== "object" || body === null) return fake.error(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized.");
        const b = body as Record<string, unknown>;
        const props = b.properties as Record<string, unknown> | undefined;
        if (!props || !props.source || !Array.isArray(props.distribute) || props.distribute.length === 0) {
            return fake.error(400, "InvalidParameter", "The image template must have a 'source' and at least one 'distribute' target.");
        }
        if (typeof b.location !== "string") return fake.error(400, "LocationRequired", "The location property is required for this definition.");
        const existing = this.find(req);
        if (existing) {
            // Read-only fields Azure fills in (source.exactVersion) are not part of what was submitted.
            const submitted = (k: string, from: Record<string, unknown>) => JSON.stringify(k === "source" && typeof from[k] === "object" ? { ...(from[k] as Record<string, unknown>), exactVersion: undefined } : from[k]);
            const same = ["source", "customize", "distribute", "vmProfile", "validate"].every((k) => submitted(k, existing.body.properties as Record<string, unknown>) === submitted(k, props));
            if (!same) return fake.error(409, "Conflict", "Update/Upgrade of image templates is currently not supported. Please change the name of the template you are submitting.");
            return { status: 200, body: this.render(existing) };
        }
        const id = canonicalTemplateId(req.path);
        const p = parseResourceId(id);
        const example = exampleBody("imagebuilder/2024-02-01/CreateImageTemplateLinux.json", "201", p.subscriptionId);
        const staging = typeof props.stagingResourceGroup === "string" ? props.stagingResourceGroup : `/subscriptions/${p.subscriptionId}/resourceGroups/IT_${p.resourceGroupName}_${p.name}_${randomUUID()}`;
        const t: TemplateState = {
            id,
            resourceGroupName: p.resourceGroupName ?? "",
            name: p.name,
            location: b.location,
            body: { ...example, ...b, id, name: p.name, type: example.type, properties: { ...props, exactStagingResourceGroup: staging } },
            provisioningState: "Creating",
            runs: 0,
        };
        this.templates.set(id.toLowerCase(), t);
        const op = fake.startOperation({
            namespace: "Microsoft.VirtualMachineImages",
            location: t.location,
            apiVersion: IMAGE_BUILDER_API_VERSION,
            onSucceeded: () => {
                t.provisioningState = "Succeeded";
                return undefined;
            },
        });
        return fake.accepted(op, { asyncOperation: true }, 201, this.render(t));
    }

    private delete(req: FakeRequest): FakeResponse {
        const t = this.find(req);
        if (!t) return { status: 204 };
        const fake = this.fakeAzure;
        t.provisioningState = "Deleting";
        const op = fake.startOperation({
            namespace: "Microsoft.VirtualMachineImages",
            location: t.location,
            apiVersion: IMAGE_BUILDER_API_VERSION,
            onSucceeded: () => {
                this.templates.delete(t.id.toLowerCase());
                return undefined;
            },
        });
        return fake.accepted(op, { location: true });
    }

    private run(req: FakeRequest): FakeResponse {
        const t = this.find(req);
        if (!t) return this.notFound(req);
        const fake = this.fakeAzure;
        if (t.provisioningState !== "Succeeded") {
            return fake.error(409, "Conflict", `The image template is in provisioning state '${t.provisioningState}' and cannot be run.`);
        }
        if (t.run && (t.run.runState === "Running" || t.run.runState === "Canceling")) {
            return fake.error(409, "Conflict", "The image template already has a build in progress. Wait for it to finish or cancel it.");
        }
        const script = t.nextScript ?? {};
        t.nextScript = undefined;
        t.runs += 1;
        const runId = randomUUID();
        const op = fake.startOperation({
            namespace: "Microsoft.VirtualMachineImages",
            location: t.location,
            apiVersion: IMAGE_BUILDER_API_VERSION,
            // The run operation mirrors the build, which moves on template GETs.
            advance: () => {
                const run = t.run?.runId === runId ? t.run : undefined;
                if (!run || run.runState === "Running" || run.runState === "Canceling") return undefined;
                if (run.runState === "Succeeded") return { status: "Succeeded" };
                if (run.runState === "Canceled") return { status: "Canceled", error: { code: "Canceled", message: "The build was canceled." } };
                return { status: "Failed", error: { code: run.runState === "PartiallySucceeded" ? "PartiallySucceeded" : "BuildFailed", message: run.message } };
            },
        });
        t.run = {
            runId,
            script,
            index: 0,
            pollsInState: 0,
            replicationPoll: 0,
            runState: "Running",
            startTime: fake.isoNow(),
            message: SUB_STATE_MESSAGES.Queued,
            operationId: op.id,
            log: [],
        };
        this.resolveSource(t);
        this.ensureStagingAccount(t, script.disallowSharedKeyAccess === true);
        this.appendLog(t, [`PACKER OUT ==> azure-arm: Run ${runId} queued for image template ${t.name}`]);
        return fake.accepted(op, { asyncOperation: true });
    }

    /**
     * `source.exactVersion` (read-only, 2024-02-01): the marketplace version the build uses; "differs
     * from 'version' only if the value specified in 'version' field is 'latest'", which "is evaluated
     * when the image build takes place". So each run resolves it anew.
     */
    private resolveSource(t: TemplateState): void {
        const source = (t.body.properties as Record<string, unknown>).source as Record<string, unknown> | undefined;
        if (!source || source.type !== "PlatformImage") return;
        const version = String(source.version ?? "latest");
        const latest = () => this.marketplace?.latest(t.location, String(source.publisher), String(source.offer), String(source.sku)) ?? DEFAULT_PLATFORM_IMAGE_VERSION;
        source.exactVersion = /^latest$/i.test(version) ? latest() : version;
    }

    private cancel(req: FakeRequest): FakeResponse {
        const t = this.find(req);
        if (!t) return this.notFound(req);
        const fake = this.fakeAzure;
        if (!t.run || t.run.runState !== "Running") {
            return fake.error(409, "Conflict", "There is no running build of this image template to cancel.");
        }
        const run = t.run;
        run.runState = "Canceling";
        run.pollsInState = 0;
        run.message = "Canceling the build";
        const op = fake.startOperation({
            namespace: "Microsoft.VirtualMachineImages",
            location: t.location,
            apiVersion: IMAGE_BUILDER_API_VERSION,
            // Cancellation completes whether the client watches the template or this operation.
            advance: () => {
                if (run.runState === "Canceling") this.finishCancel(t, run);
                return { status: "Succeeded" };
            },
        });
        run.cancelOperationId = op.id;
        return fake.accepted(op, { asyncOperation: true });
    }

    private runOutputs(req: FakeRequest): FakeResponse {
        const t = this.find(req);
        if (!t) return this.notFound(req);
        return this.fakeAzure.page(req, this.outputs(t));
    }

    private runOutput(req: FakeRequest): FakeResponse {
        const t = this.find(req);
        if (!t) return this.notFound(req);
        const out = this.outputs(t).find((o) => String(o.name).toLowerCase() === req.params.runOutputName.toLowerCase());
        if (!out) return this.fakeAzure.notFound("Microsoft.VirtualMachineImages/imageTemplates/runOutputs", `${t.name}/${req.params.runOutputName}`, t.resourceGroupName);
        return { status: 200, body: out };
    }

    private outputs(t: TemplateState): Array<Record<string, unknown>> {
        if (!t.run || t.run.runState !== "Succeeded") return [];
        const d = this.distributor(t);
        if (!d) return [];
        const listing = exampleBody("imagebuilder/2024-02-01/ListRunOutputs.json", "200", parseResourceId(t.id).subscriptionId);
        const sample = (listing.value as Array<Record<string, unknown>>)[1];
        const name = String(d.runOutputName);
        return [{ ...sample, id: `${t.id}/runOutputs/${name}`, name, properties: { artifactId: String(d.galleryImageId), provisioningState: "Succeeded" } }];
    }

    /** One step of the scripted build, on each GET of the template. */
    private advance(t: TemplateState): void {
        const run = t.run;
        if (!run) return;
        if (run.runState === "Canceling") {
            run.pollsInState += 1;
            if (run.pollsInState >= this.cancelPolls) this.finishCancel(t, run);
            return;
        }
        if (run.runState !== "Running") return;
        const script = run.script;
        const current = SUB_STATES[run.index];
        const stopAt = script.hang ? (script.failAt ?? "Customizing") : script.failAt;
        run.pollsInState += 1;
        if (current === "Distributing" && !script.failAt) {
            this.replicate(t, run);
            return;
        }
        if (run.pollsInState < (script.pollsPerSubState ?? 1)) return;
        if (stopAt === current) {
            if (script.hang) return;
            this.fail(t, run);
            return;
        }
        run.index += 1;
        run.pollsInState = 0;
        const next = SUB_STATES[run.index];
        run.message = SUB_STATE_MESSAGES[next];
        if (next === "Optimizing" && script.customizationLog) this.appendLog(t, script.customizationLog.replace(/\r\n/g, "\n").replace(/\n$/, "").split("\n"));
        this.appendLog(t, [`PACKER OUT ==> azure-arm: ${SUB_STATE_MESSAGES[next]}...`]);
        if (next === "Distributing" && !script.failAt) this.startDistribution(t);
    }

    private finishCancel(t: TemplateState, run: RunProgress): void {
        run.runState = "Canceled";
        run.endTime = this.fakeAzure.isoNow();
        run.message = "The build was canceled by the user.";
        const versionId = this.versionId(t);
        if (versionId && this.gallery.version(versionId)?.provisioningState === "Creating") this.gallery.remove(versionId);
        this.appendLog(t, ["PACKER ERR ==> azure-arm: Build was cancelled."]);
    }

    private versionId(t: TemplateState): string | undefined {
        const id = this.distributor(t)?.galleryImageId;
        return typeof id === "string" && /\/versions\/[^/]+$/i.test(id) ? id : undefined;
    }

    private startDistribution(t: TemplateState): void {
        const d = this.distributor(t);
        const versionId = this.versionId(t);
        if (!d || !versionId) return;
        const regions = Array.isArray(d.targetRegions) ? (d.targetRegions as Array<Record<string, unknown>>).map((r) => String(r.name)) : [t.location];
        this.gallery.addVersion({
            id: versionId,
            location: t.location,
            provisioningState: "Creating",
            regions,
            excludeFromLatest: d.excludeFromLatest === true,
            replication: regions.map((region) => ({ region, state: "Replicating", progress: 0 })),
            sourceId: `${t.body.properties && (t.body.properties as Record<string, unknown>).exactStagingResourceGroup}/providers/Microsoft.Compute/images/IntermediateImage`,
        });
    }

    private replicate(t: TemplateState, run: RunProgress): void {
        const versionId = this.versionId(t);
        const fake = this.fakeAzure;
        const total = run.script.replicationPolls ?? 3;
        run.replicationPoll += 1;
        const v = versionId ? this.gallery.version(versionId) : undefined;
        if (versionId && v) {
            const progress = Math.min(100, Math.round((run.replicationPoll / total) * 100));
            this.gallery.update(versionId, { replication: v.replication.map((r) => ({ ...r, state: progress >= 100 ? "Completed" : "Replicating", progress })) });
        }
        if (run.replicationPoll < total) return;
        run.endTime = fake.isoNow();
        if (run.script.partial) {
            run.runState = "PartiallySucceeded";
            run.message = run.script.message ?? "Distribution to one or more targets failed. Check the distribution details of the image version.";
            if (versionId && v) {
                const replication = v.replication.map((r, i) => (i === v.replication.length - 1 ? { ...r, state: "Failed" as const, progress: 0, details: "Replication failed: the storage operation timed out" } : { ...r, state: "Completed" as const, progress: 100 }));
                this.gallery.update(versionId, { provisioningState: "Failed", replication });
            }
            this.appendLog(t, ["PACKER ERR ==> azure-arm: distribution to one or more regions failed"]);
            return;
        }
        run.runState = "Succeeded";
        run.message = "";
        const d = this.distributor(t);
        const tags = d && typeof d.artifactTags === "object" && d.artifactTags !== null ? (d.artifactTags as Record<string, string>) : {};
        if (versionId) this.gallery.update(versionId, { provisioningState: "Succeeded", tags: { ...tags } });
        this.appendLog(t, ["PACKER OUT Build 'azure-arm' finished."]);
    }

    private fail(t: TemplateState, run: RunProgress): void {
        const fake = this.fakeAzure;
        const script = run.script;
        run.runState = "Failed";
        run.endTime = fake.isoNow();
        const account = this.accountFor(t);
        const logUrl = account ? `${this.blobEndpoint(account)}packerlogs/${run.runId}/customization.log` : "";
        run.message = `${script.message ?? "Failed while waiting for packerizer: Microservice has failed: Failed while processing request: Error when executing packerizer: Packer build command has failed: exit status 1. During the image build, a failure has occurred. Please review the build log to identify which build/customization step failed. For more troubleshooting steps go to https://aka.ms/azvmimagebuilderts."}${logUrl ? ` Image Build log location: ${logUrl}.` : ""} OperationId: ${run.operationId}.`;
        if (script.provisioningError) (t.body.properties as Record<string, unknown>).provisioningError = script.provisioningError;
        this.appendLog(t, script.logLines ?? ["PACKER ERR ==> azure-arm: Script exited with non-zero exit status: 1"]);
    }

    // ---- staging storage (Microsoft.Storage + blob data plane) ----

    private stagingGroup(t: TemplateState): string {
        return String((t.body.properties as Record<string, unknown>).exactStagingResourceGroup);
    }

    private accountFor(t: TemplateState): StorageAccount | undefined {
        const rg = this.stagingGroup(t).toLowerCase();
        return [...this.accounts.values()].find((a) => a.resourceGroupId.toLowerCase() === rg);
    }

    private ensureStagingAccount(t: TemplateState, disallowSharedKey: boolean): void {
        const existing = this.accountFor(t);
        if (existing) {
            existing.allowSharedKeyAccess = !disallowSharedKey;
            return;
        }
        const name = randomBytes(10).toString("hex").replace(/^[0-9]/, "a");
        const rg = this.stagingGroup(t);
        this.accounts.set(name, {
            id: `${rg}/providers/Microsoft.Storage/storageAccounts/${name}`,
            name,
            resourceGroupId: rg,
            location: t.location,
            allowSharedKeyAccess: !disallowSharedKey,
            key: randomBytes(32),
            blobs: new Map(),
            sas: new Map(),
        });
    }

    private appendLog(t: TemplateState, lines: string[]): void {
        const run = t.run;
        const account = this.accountFor(t);
        if (!run || !account) return;
        const stamp = this.fakeAzure.isoNow();
        run.log.push(...lines.map((l) => `[${stamp}] ${l}`));
        account.blobs.set(`packerlogs/${run.runId}/customization.log`, { content: `${run.log.join("\n")}\n`, lastModified: this.fakeAzure.clock.now() });
    }

    private blobEndpoint(a: StorageAccount): string {
        return `${this.fakeAzure.url}/blob/${a.name}/`;
    }

    private accountBody(a: StorageAccount): Record<string, unknown> {
        return {
            id: a.id,
            name: a.name,
            type: "Microsoft.Storage/storageAccounts",
            location: a.location,
            kind: "StorageV2",
            sku: { name: "Standard_LRS", tier: "Standard" },
            tags: { createdBy: "AzureVMImageBuilder" },
            properties: {
                provisioningState: "Succeeded",
                allowSharedKeyAccess: a.allowSharedKeyAccess,
                minimumTlsVersion: "TLS1_2",
                primaryEndpoints: { blob: this.blobEndpoint(a) },
            },
        };
    }

    private listAccounts(req: FakeRequest): FakeResponse {
        const rg = `/subscriptions/${req.params.subscriptionId}/resourceGroups/${req.params.resourceGroupName}`.toLowerCase();
        const items = [...this.accounts.values()].filter((a) => a.resourceGroupId.toLowerCase() === rg).map((a) => this.accountBody(a));
        return this.fakeAzure.page(req, items);
    }

    private listAccountSas(req: FakeRequest): FakeResponse {
        const fake = this.fakeAzure;
        const a = this.accounts.get(req.params.accountName);
        if (!a || !req.path.toLowerCase().startsWith(a.resourceGroupId.toLowerCase())) {
            return fake.notFound("Microsoft.Storage/storageAccounts", req.params.accountName, req.params.resourceGroupName);
        }
        const b = (typeof req.body === "object" && req.body !== null ? req.body : {}) as Record<string, unknown>;
        const expiry = Date.parse(String(b.signedExpiry));
        if (typeof b.signedServices !== "string" || typeof b.signedResourceTypes !== "string" || typeof b.signedPermission !== "string" || Number.isNaN(expiry)) {
            return fake.error(400, "InvalidValuesForRequestParameters", "Values for request parameters are invalid: signedServices, signedResourceTypes, signedPermission and signedExpiry are required.");
        }
        if (!b.signedServices.includes("b")) return fake.error(400, "InvalidValuesForRequestParameters", "signedServices must include b (blob).");
        const version = "2022-11-02";
        const fields = [a.name, b.signedPermission, "b", b.signedResourceTypes, "", String(b.signedExpiry), "", String(b.signedProtocol ?? ""), version, ""].join("\n");
        const sig = createHmac("sha256", a.key).update(fields).digest("base64");
        a.sas.set(sig, { permissions: b.signedPermission, expiry });
        const params = new URLSearchParams({ sv: version, ss: "b", srt: b.signedResourceTypes, sp: b.signedPermission, se: String(b.signedExpiry) });
        if (b.signedProtocol) params.set("spr", String(b.signedProtocol));
        params.set("sig", sig);
        return { status: 200, body: { accountSasToken: params.toString() } };
    }

    private authorizeBlob(req: FakeRequest, a: StorageAccount, permission: "r" | "l"): FakeResponse | undefined {
        const sig = req.query.get("sig");
        if (sig) {
            if (!a.allowSharedKeyAccess) return storageError(403, "KeyBasedAuthenticationNotPermitted", "Key based authentication is not permitted on this storage account.");
            const grant = a.sas.get(sig);
            if (!grant) return storageError(403, "AuthenticationFailed", "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.");
            if (grant.expiry <= this.fakeAzure.clock.now()) return storageError(403, "AuthenticationFailed", "Signed expiry time has to be after signed start time.");
            if (!grant.permissions.includes(permission)) return storageError(403, "AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission.");
            return undefined;
        }
        const auth = req.headers.authorization;
        if (auth && /^Bearer\s+\S+$/i.test(auth)) {
            if (!req.headers["x-ms-version"]) return storageError(400, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified: x-ms-version.");
            return undefined;
        }
        return storageError(401, "NoAuthenticationInformation", "Server failed to authenticate the request. Please refer to the information in the www-authenticate header.");
    }

    private listBlobs(req: FakeRequest): FakeResponse {
        const a = this.accounts.get(req.params.accountName);
        if (!a) return storageError(404, "ResourceNotFound", "The specified resource does not exist.");
        if (req.query.get("restype") !== "container" || req.query.get("comp") !== "list") {
            return storageError(400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the request URI is invalid.");
        }
        const denied = this.authorizeBlob(req, a, "l");
        if (denied) return denied;
        const prefix = `${req.params.container}/${req.query.get("prefix") ?? ""}`;
        const blobs = [...a.blobs.entries()].filter(([name]) => name.startsWith(prefix));
        if (blobs.length === 0 && ![...a.blobs.keys()].some((n) => n.startsWith(`${req.params.container}/`))) {
            return storageError(404, "ContainerNotFound", "The specified container does not exist.");
        }
        const xml = [
            `<?xml version="1.0" encoding="utf-8"?>`,
            `<EnumerationResults ServiceEndpoint="${this.blobEndpoint(a)}" ContainerName="${req.params.container}">`,
            `<Blobs>`,
            ...blobs.map(([name, b]) => {
                const blobName = name.slice(req.params.container.length + 1);
                return `<Blob><Name>${blobName}</Name><Properties><Last-Modified>${new Date(b.lastModified).toUTCString()}</Last-Modified><Content-Length>${Buffer.byteLength(b.content)}</Content-Length><Content-Type>text/plain</Content-Type><BlobType>BlockBlob</BlobType></Properties></Blob>`;
            }),
            `</Blobs><NextMarker /></EnumerationResults>`,
        ].join("");
        return { status: 200, text: xml, headers: { "content-type": "application/xml", "x-ms-version": "2022-11-02" } };
    }

    private getBlob(req: FakeRequest): FakeResponse {
        const a = this.accounts.get(req.params.accountName);
        if (!a) return storageError(404, "ResourceNotFound", "The specified resource does not exist.");
        const denied = this.authorizeBlob(req, a, "r");
        if (denied) return denied;
        const blob = a.blobs.get(`${req.params.container}/${req.params.blob}`);
        if (!blob) return storageError(404, "BlobNotFound", "The specified blob does not exist.");
        const bytes = Buffer.from(blob.content, "utf8");
        const range = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers["x-ms-range"] ?? req.headers.range ?? ""));
        if (range) {
            const start = Number(range[1]);
            const end = range[2] ? Math.min(Number(range[2]), bytes.length - 1) : bytes.length - 1;
            if (start >= bytes.length) return storageError(416, "InvalidRange", "The range specified is invalid for the current size of the resource.");
            return {
                status: 206,
                text: bytes.subarray(start, end + 1).toString("utf8"),
                headers: { ...blobHeaders(blob), "content-range": `bytes ${start}-${end}/${bytes.length}` },
            };
        }
        return { status: 200, text: blob.content, headers: blobHeaders(blob) };
    }
}

function storageError(status: number, code: string, message: string): FakeResponse {
    return {
        status,
        text: `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}\nRequestId:${randomUUID()}\nTime:${new Date().toISOString()}</Message></Error>`,
        headers: { "content-type": "application/xml", "x-ms-error-code": code },
    };
}

function canonicalTemplateId(id: string): string {
    const p = parseResourceId(id.split("/").slice(0, 9).join("/"));
    return `/subscriptions/${p.subscriptionId}/resourceGroups/${p.resourceGroupName}/providers/Microsoft.VirtualMachineImages/imageTemplates/${p.name}`;
}

/** What Get Blob answers with besides the content (Azure always sends ETag and Last-Modified). */
function blobHeaders(blob: { content: string; lastModified: number }): Record<string, string> {
    const etag = `"0x${createHash("sha256").update(`${blob.lastModified}:${blob.content}`).digest("hex").slice(0, 15).toUpperCase()}"`;
    return { "content-type": "text/plain", etag, "last-modified": new Date(blob.lastModified).toUTCString(), "x-ms-blob-type": "BlockBlob", "accept-ranges": "bytes" };
}
