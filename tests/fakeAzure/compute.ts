// Microsoft.Compute virtual machine scale sets (api-version 2024-11-01) for the rollout and
// health-gate tests: VMSS GET/PATCH, instance list ($expand=instanceView, $filter on
// latestModelApplied) with Application Health (vmHealth), manualupgrade and reimage (LROs
// answered 202 with both Azure-AsyncOperation and Location, as Compute does), rollingUpgrades/latest,
// the scale set's tags (in its body and through Microsoft.Resources/tags at its scope,
// 2021-04-01: GET, and PATCH Merge/Replace/Delete answered 200) and instances deleted under the
// rollout's feet (`removeInstance`). Run Command is in runCommand.ts.
// Capacity, for the surge rollout: a PATCH of sku.capacity (VirtualMachineScaleSets_Update, an
// LRO: 200 with Azure-AsyncOperation, body provisioningState Updating) creates instances on the
// scale set's current model with the next instance ids, "Creating" for provisionSeconds, zone
// balanced; a lower capacity removes the highest instance ids (the Default scale-in policy after
// zone balancing, simplified). VirtualMachineScaleSets_DeleteInstances (POST .../delete with
// {instanceIds}, required; 202 with both headers) takes each instance "Deleting" for deleteSeconds
// and lowers sku.capacity at once, as Azure does. sku.capacity is the instances not being deleted.
// Bodies start from Azure's example payloads. Everything time-related runs on the fake's
// clock: an upgrade finishes upgradeSeconds after Azure accepted it whether or not anybody
// polls, as in Azure, so a tool that crashes mid-upgrade finds the upgrade done on resume.
import { createHash } from "node:crypto";
import { parseResourceId } from "../../tools/azure/ids";
import { exampleBody, exampleListItem, type FakeAzure, type FakeRequest, type FakeResponse, type Method, type ResourceProviderModule } from "./server";

export const COMPUTE_API_VERSION = "2024-11-01";
export const TAGS_API_VERSION = "2021-04-01";

/** What the Application Health extension reports; "none" = no vmHealth at all (no extension). */
export type HealthCode = "healthy" | "unhealthy" | "unknown" | "none";
export type UpgradeMode = "Manual" | "Rolling" | "Automatic";

export interface RollingUpgradePolicySeed {
    maxBatchInstancePercent: number;
    maxUnhealthyInstancePercent: number;
    maxUnhealthyUpgradedInstancePercent: number;
    pauseTimeBetweenBatches: string;
    prioritizeUnhealthyInstances: boolean;
}

/** A marketplace image as a model names it: version `latest` or Major.Minor.Build. */
export interface MarketplaceImageSeed {
    publisher: string;
    offer: string;
    sku: string;
    version: string;
}

/** What a model or an instance references: a gallery image (version or definition) by id, or a marketplace image. */
export type ImageSeed = string | MarketplaceImageSeed;

export interface InstanceSeed {
    zone?: string;
    /** Image the instance runs now; defaults to the model's. A marketplace image at `latest` resolves to the newest published version. */
    imageReferenceId?: ImageSeed;
    health?: HealthCode;
}

export interface ScaleSetSeed {
    /** `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachineScaleSets/{name}` */
    id: string;
    location?: string;
    vmSize?: string;
    capacity: number;
    /** The model's imageReference: a gallery image version or definition id, or a marketplace image. */
    imageReferenceId: ImageSeed;
    upgradeMode?: UpgradeMode;
    rollingUpgradePolicy?: Partial<RollingUpgradePolicySeed>;
    computerNamePrefix?: string;
    /** Zones instances are spread over, round-robin by instance id. */
    zones?: string[];
    /** Overrides by instance id. */
    instances?: Record<string, InstanceSeed>;
}

/** What one instance does when Azure upgrades or reimages it. */
export interface InstanceScenario {
    /** Seconds from Azure accepting the upgrade to the instance running again. */
    upgradeSeconds?: number;
    /** What the health probe reports once the reimaged instance has booted. */
    healthAfterUpgrade?: HealthCode;
    /** Seconds after boot before the probe reports (the instance shows Unknown until then). */
    healthAfterSeconds?: number;
    /** A new instance (scale-out): seconds from Azure accepting the capacity to the VM running. */
    provisionSeconds?: number;
    /** A new instance whose provisioning fails (provisioningState Failed, VM not running). */
    provisioningFails?: boolean;
}

export interface InstanceSnapshot {
    instanceId: string;
    computerName: string;
    zone?: string;
    vmId: string;
    /** The gallery image's id; for a marketplace image publisher:offer:sku:version as the model names it. */
    imageReferenceId: string;
    /** A marketplace image's version as Azure resolved it (imageReference.exactVersion). */
    exactVersion?: string;
    latestModelApplied: boolean;
    provisioningState: string;
    health: HealthCode;
    /** Upgrades (manualupgrade or a rolling/automatic upgrade) Azure performed on the instance. */
    upgrades: number;
    reimages: number;
}

interface InstanceState {
    instanceId: string;
    vmId: string;
    computerName: string;
    zone?: string;
    image: InstanceImage;
    /** The scale-set model generation the instance last applied (image or any other setting). */
    modelGeneration: number;
    seedHealth: HealthCode;
    /** Set while an upgrade/reimage (or, for a new instance, its creation) runs. */
    operation?: { startedAt: number; endsAt: number; image: InstanceImage; kind: "upgrade" | "reimage" | "create" };
    /** Creation ended Failed: the VM never ran. */
    provisioningFailed?: boolean;
    /** Set while Azure deletes the instance (VirtualMachineScaleSets_DeleteInstances). */
    deleting?: { startedAt: number; endsAt: number };
    /** Start of the last upgrade/reimage (the VM went down then). */
    lastOperationStartedAt?: number;
    /** End of the last upgrade/reimage: the boot the health probe and AVD agent start from. */
    bootedAt?: number;
    lastOperationAt: number;
    upgrades: number;
    reimages: number;
    scenario: InstanceScenario;
}

interface RollingState {
    startTime: number;
    lastActionTime: number;
    status: "RollingForward" | "Completed" | "Faulted" | "Cancelled";
    batches: string[][];
    next: number;
    /** When the next batch starts, or when the running batch is judged. */
    stage: { kind: "start"; at: number } | { kind: "judge"; at: number; batch: string[] } | { kind: "finished" };
    failed: number;
    error?: { code: string; message: string };
}

interface ScaleSetState {
    id: string;
    name: string;
    resourceGroupName: string;
    location: string;
    vmSize: string;
    image: ModelImage;
    /** Bumped by any model change; instances that have not applied it are not on the latest model. */
    modelGeneration: number;
    etag: number;
    upgradeMode: UpgradeMode;
    policy: RollingUpgradePolicySeed;
    computerNamePrefix: string;
    zones: string[];
    /** Instance ids are never reused: a new instance gets the next one. */
    nextInstanceId: number;
    instances: Map<string, InstanceState>;
    /** Tag name (lower case, as Azure compares them) -> the name as written and its value. */
    tags: Map<string, { name: string; value: string }>;
    rolling?: RollingState;
    /** A rolling upgrade Azure has been asked for but not started yet (the previous record is still the latest). */
    queuedRolling?: RollingState;
}

const DEFAULT_POLICY: RollingUpgradePolicySeed = {
    maxBatchInstancePercent: 20,
    maxUnhealthyInstancePercent: 20,
    maxUnhealthyUpgradedInstancePercent: 20,
    pauseTimeBetweenBatches: "PT0S",
    prioritizeUnhealthyInstances: true,
};

function guid(text: string): string {
    const h = createHash("sha256").update(text).digest("hex");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Uniform scale sets name instances prefix + six base-36 digits of the instance id. */
export function computerNameFor(prefix: string, instanceId: string): string {
    return `${prefix}${Number(instanceId).toString(36).padStart(6, "0")}`;
}

function pauseSeconds(iso: string): number {
    const m = /^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?$/.exec(iso);
    return m ? Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0) : 0;
}

function lower(id: string): string {
    return id.replace(/\/+$/, "").toLowerCase();
}

/** A model's image reference: `{id}` for a gallery image, publisher/offer/sku/version for a marketplace one. */
type ModelImage = { id: string } | MarketplaceImageSeed;
/** An instance's: a marketplace image also carries the exact version it was built from. */
type InstanceImage = { id: string } | (MarketplaceImageSeed & { exactVersion: string });

function modelImage(seed: ImageSeed): ModelImage {
    return typeof seed === "string" ? { id: seed } : { publisher: seed.publisher, offer: seed.offer, sku: seed.sku, version: seed.version };
}

/** Publisher:offer:sku, lower case: Azure compares these names without regard to case. */
function marketplaceKey(m: MarketplaceImageSeed): string {
    return `${m.publisher}:${m.offer}:${m.sku}`.toLowerCase();
}

/** Whether two references name the same image as a model does (a marketplace `latest` is the same `latest`, whatever it resolved to). */
function sameImage(a: ModelImage, b: ModelImage): boolean {
    if ("id" in a || "id" in b) return "id" in a && "id" in b && lower(a.id) === lower(b.id);
    return marketplaceKey(a) === marketplaceKey(b) && a.version.toLowerCase() === b.version.toLowerCase();
}

function imageText(image: ModelImage): string {
    return "id" in image ? image.id : `${image.publisher}:${image.offer}:${image.sku}:${image.version}`;
}

/** The image a PATCH asks for: an id, or publisher/offer/sku/version with the fields left out kept from the model. */
function requestedImage(ref: Record<string, unknown>, current: ModelImage): ModelImage | undefined {
    if (typeof ref.id === "string") return { id: ref.id };
    const field = (name: "publisher" | "offer" | "sku" | "version") => (typeof ref[name] === "string" ? (ref[name] as string) : "id" in current ? undefined : current[name]);
    const [publisher, offer, sku, version] = [field("publisher"), field("offer"), field("sku"), field("version")];
    if (publisher === undefined || offer === undefined || sku === undefined || version === undefined) return undefined;
    return { publisher, offer, sku, version };
}

/**
 * "Image reference publisher and offer can only be set when you create the scale set" (Compute spec
 * 2024-11-01, ImageReference): a gallery pool cannot become a marketplace one, and a marketplace pool
 * keeps its publisher and offer (its SKU and version may change).
 */
function fieldSetAfterCreation(was: ModelImage, next: ModelImage): "publisher" | "offer" | undefined {
    if ("id" in next) return undefined;
    if ("id" in was || was.publisher.toLowerCase() !== next.publisher.toLowerCase()) return "publisher";
    return was.offer.toLowerCase() !== next.offer.toLowerCase() ? "offer" : undefined;
}

/** Major.Minor.Build compared by number, as Azure orders marketplace versions to find `latest`. */
function compareVersions(a: string, b: string): number {
    const pa = a.split(".").map(Number);
    const pb = b.split(".").map(Number);
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
    return 0;
}

/**
 * A one-shot "the tool dies here" switch shared by the compute and AVD modules: the
 * matching request is applied (Azure got it), then the answer is lost and every later
 * request to these modules fails with 503 until `recover()`, so the tool gives up the way
 * a killed or disconnected process would, leaving Azure mid-rollout.
 */
export class CrashSwitch {
    down = false;
    /** Requests that were applied when the crash hit. */
    readonly crashedOn: string[] = [];
    private armed?: { method: Method; path: RegExp; skip: number };

    /** Crash on the (skip+1)-th request matching method and path. */
    arm(method: Method, path: RegExp, skip = 0): void {
        this.armed = { method, path, skip };
    }

    recover(): void {
        this.down = false;
        this.armed = undefined;
    }

    /** 503 while down. */
    refuse(): FakeResponse | undefined {
        return this.down ? { status: 503, body: { error: { code: "ServiceUnavailable", message: "The fake Azure is simulating a crashed rollout: no answer." } } } : undefined;
    }

    /** After a request was applied: true when it is the crash point (the answer is then lost). */
    trips(req: FakeRequest): boolean {
        const a = this.armed;
        if (!a || a.method !== req.method || !a.path.test(req.path)) return false;
        if (a.skip > 0) {
            a.skip -= 1;
            return false;
        }
        this.armed = undefined;
        this.down = true;
        this.crashedOn.push(`${req.method} ${req.path}`);
        return true;
    }
}

export interface ComputeModuleOptions {
    /** Defaults for every instance (override per instance with `scenario`). */
    upgradeSeconds?: number;
    healthAfterSeconds?: number;
    /** Seconds between a model change and Azure starting the rolling upgrade (default 0). */
    rollingUpgradeDelaySeconds?: number;
    /** New instances: seconds from the capacity change to the VM running (default 300). */
    provisionSeconds?: number;
    /** Seconds Azure takes to delete an instance (default 120). */
    deleteSeconds?: number;
}

export interface CapacityRecord {
    scaleSetId: string;
    /** sku.capacity asked for, and what it was. */
    capacity: number;
    previous: number;
    time: number;
}

export interface DeleteRecord {
    scaleSetId: string;
    instanceIds: string[];
    time: number;
}

export interface ManualUpgradeRecord {
    scaleSetId: string;
    instanceIds: string[];
    time: number;
}

/** The example's instance view and its vmHealth status (an InstanceViewStatus), read once: each instance view copies the fields it uses. */
let viewTemplate: { example: Record<string, unknown>; status: Record<string, unknown> } | undefined;
function instanceViewTemplate(): { example: Record<string, unknown>; status: Record<string, unknown> } {
    if (!viewTemplate) {
        const item = exampleListItem("compute/2024-11-01/VirtualMachineScaleSetVM_List_MaximumSet_Gen.json", "200");
        const example = (item.properties as Record<string, unknown>).instanceView as Record<string, unknown>;
        viewTemplate = { example, status: (example.vmHealth as Record<string, Record<string, unknown>>).status };
    }
    return viewTemplate;
}

export class ComputeModule implements ResourceProviderModule {
    readonly crash = new CrashSwitch();
    /** Every manualupgrade Azure accepted, in order. */
    readonly manualUpgrades: ManualUpgradeRecord[] = [];
    /** Every capacity change Azure accepted, in order. */
    readonly capacityChanges: CapacityRecord[] = [];
    /** Every DeleteInstances Azure accepted, in order. */
    readonly deletions: DeleteRecord[] = [];
    upgradeSeconds: number;
    provisionSeconds: number;
    deleteSeconds: number;
    healthAfterSeconds: number;
    rollingUpgradeDelaySeconds: number;
    private fake?: FakeAzure;
    private readonly scaleSets = new Map<string, ScaleSetState>();
    /** Published marketplace versions by publisher:offer:sku (lower case), ascending. */
    private readonly marketplaceVersions = new Map<string, string[]>();
    private readonly reimageListeners: Array<(scaleSetId: string, instanceId: string, kind: "begin" | "end", at: number) => void> = [];
    private readonly removalListeners: Array<(scaleSetId: string, instanceId: string) => void> = [];
    private readonly deleteListeners: Array<(scaleSetId: string, instanceId: string, at: number) => void> = [];
    private readonly createListeners: Array<(scaleSetId: string, instanceId: string, runsAt: number) => void> = [];
    private readonly requestListeners: Array<(what: string) => void> = [];
    /** Scenarios the next new instances of a scale set take, in order. */
    private readonly newInstanceScenarios = new Map<string, InstanceScenario[]>();

    constructor(options: ComputeModuleOptions = {}) {
        this.upgradeSeconds = options.upgradeSeconds ?? 240;
        this.healthAfterSeconds = options.healthAfterSeconds ?? 90;
        this.rollingUpgradeDelaySeconds = options.rollingUpgradeDelaySeconds ?? 0;
        this.provisionSeconds = options.provisionSeconds ?? 300;
        this.deleteSeconds = options.deleteSeconds ?? 120;
    }

    install(fake: FakeAzure): void {
        this.fake = fake;
        const vmss = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachineScaleSets/{vmScaleSetName}";
        const v = COMPUTE_API_VERSION;
        const guard = (h: (req: FakeRequest) => FakeResponse): ((req: FakeRequest) => FakeResponse) => (req) => {
            const refused = this.crash.refuse();
            if (refused) return refused;
            this.settle(req.now);
            const res = h(req);
            for (const l of this.requestListeners) l(`${req.method} ${req.path}`);
            return this.crash.trips(req) ? (this.crash.refuse() as FakeResponse) : res;
        };
        fake.route({ method: "GET", pattern: vmss, apiVersion: v, handler: guard((r) => this.getScaleSet(r)) });
        fake.route({ method: "PATCH", pattern: vmss, apiVersion: v, handler: guard((r) => this.patchScaleSet(r)) });
        fake.route({ method: "GET", pattern: `${vmss}/virtualMachines`, apiVersion: v, handler: guard((r) => this.listInstances(r)) });
        fake.route({ method: "POST", pattern: `${vmss}/manualupgrade`, apiVersion: v, handler: guard((r) => this.operateOnInstances(r, "upgrade")) });
        fake.route({ method: "POST", pattern: `${vmss}/reimage`, apiVersion: v, handler: guard((r) => this.operateOnInstances(r, "reimage")) });
        fake.route({ method: "POST", pattern: `${vmss}/delete`, apiVersion: v, handler: guard((r) => this.deleteInstances(r)) });
        fake.route({ method: "GET", pattern: `${vmss}/rollingUpgrades/latest`, apiVersion: v, handler: guard((r) => this.latestRollingUpgrade(r)) });
        const tags = `${vmss}/providers/Microsoft.Resources/tags/default`;
        fake.route({ method: "GET", pattern: tags, apiVersion: TAGS_API_VERSION, handler: guard((r) => this.getTags(r)) });
        fake.route({ method: "PATCH", pattern: tags, apiVersion: TAGS_API_VERSION, handler: guard((r) => this.patchTags(r)) });
    }

    // ---- seeding and inspection ----

    addScaleSet(seed: ScaleSetSeed): void {
        const id = parseResourceId(seed.id);
        const prefix = seed.computerNamePrefix ?? "avdhost";
        const state: ScaleSetState = {
            id: seed.id,
            name: id.name,
            resourceGroupName: id.resourceGroupName ?? "",
            location: seed.location ?? "westeurope",
            vmSize: seed.vmSize ?? "Standard_D8s_v5",
            image: modelImage(seed.imageReferenceId),
            modelGeneration: 1,
            etag: 1,
            upgradeMode: seed.upgradeMode ?? "Manual",
            policy: { ...DEFAULT_POLICY, ...seed.rollingUpgradePolicy },
            computerNamePrefix: prefix,
            zones: seed.zones ?? [],
            nextInstanceId: seed.capacity,
            instances: new Map(),
            tags: new Map(),
        };
        for (let i = 0; i < seed.capacity; i++) {
            const instanceId = String(i);
            const o = seed.instances?.[instanceId] ?? {};
            const image = this.resolve(modelImage(o.imageReferenceId ?? seed.imageReferenceId));
            state.instances.set(instanceId, {
                instanceId,
                vmId: guid(`${seed.id}/${instanceId}`),
                computerName: computerNameFor(prefix, instanceId),
                zone: o.zone ?? (seed.zones?.length ? seed.zones[i % seed.zones.length] : undefined),
                image,
                modelGeneration: 1,
                seedHealth: o.health ?? "healthy",
                lastOperationAt: Date.UTC(2025, 11, 1),
                upgrades: 0,
                reimages: 0,
                scenario: {},
            });
        }
        this.scaleSets.set(lower(seed.id), state);
    }

    /** What `pulumi up` does to the model: a new image reference (starts Azure's upgrade in Rolling/Automatic mode). */
    setModelImage(scaleSetId: string, image: ImageSeed): void {
        const s = this.scaleSet(scaleSetId);
        this.settle(this.now());
        this.applyModelImage(s, modelImage(image), this.now());
    }

    /**
     * Microsoft publishes a marketplace image version: from now on `latest` resolves to the highest
     * version published (instances already built keep theirs, as in Azure).
     */
    publishMarketplaceVersion(image: Omit<MarketplaceImageSeed, "version">, version: string): void {
        const key = marketplaceKey({ ...image, version });
        this.marketplaceVersions.set(key, [...(this.marketplaceVersions.get(key) ?? []), version].sort(compareVersions));
    }

    /** What an instance built from `image` now runs: a marketplace `latest` becomes the newest published version. */
    private resolve(image: ModelImage): InstanceImage {
        if ("id" in image) return image;
        if (image.version.toLowerCase() !== "latest") return { ...image, exactVersion: image.version };
        const newest = this.marketplaceVersions.get(marketplaceKey(image))?.at(-1);
        if (newest === undefined) throw new Error(`fake Compute: no version of ${imageText(image)} published; call publishMarketplaceVersion first`);
        return { ...image, exactVersion: newest };
    }

    /** A model change that leaves the image alone, such as a renewed registration token in an extension's protected settings. */
    touchModel(scaleSetId: string): void {
        const s = this.scaleSet(scaleSetId);
        s.modelGeneration += 1;
        s.etag += 1;
    }

    /** The scale set's tags as Azure holds them. */
    tags(scaleSetId: string): Record<string, string> {
        return Object.fromEntries([...this.scaleSet(scaleSetId).tags.values()].map((t) => [t.name, t.value]));
    }

    /** What a `pulumi up` that PUTs the scale set does to its tags: replaces them all. */
    replaceTags(scaleSetId: string, tags: Record<string, string>): void {
        const s = this.scaleSet(scaleSetId);
        s.tags = new Map(Object.entries(tags).map(([name, value]) => [name.toLowerCase(), { name, value }]));
    }

    /** An instance deleted (scale-in, or by hand) while a rollout runs. */
    removeInstance(scaleSetId: string, instanceId: string): void {
        const s = this.scaleSet(scaleSetId);
        // An operation on a deleted VM ends with it (an upgrade waiting for it completes without it).
        this.instanceState(scaleSetId, instanceId).operation = undefined;
        s.instances.delete(instanceId);
        for (const l of this.removalListeners) l(s.id, instanceId);
    }

    /** Called when an instance is deleted. */
    onRemove(listener: (scaleSetId: string, instanceId: string) => void): void {
        this.removalListeners.push(listener);
    }

    /** Called when Azure starts deleting an instance (its VM goes down then). */
    onDeleteBegin(listener: (scaleSetId: string, instanceId: string, at: number) => void): void {
        this.deleteListeners.push(listener);
    }

    /** Called when a scale-out creates an instance; `runsAt` is when its VM will run (if it provisions). */
    onCreate(listener: (scaleSetId: string, instanceId: string, runsAt: number) => void): void {
        this.createListeners.push(listener);
    }

    /** Called after every request the module answered (e.g. to sample the ring's state). */
    afterRequest(listener: (what: string) => void): void {
        this.requestListeners.push(listener);
    }

    /** The next instances a scale-out creates take these scenarios, in order (then the defaults). */
    nextInstances(scaleSetId: string, scenarios: InstanceScenario[]): void {
        const key = lower(this.scaleSet(scaleSetId).id);
        this.newInstanceScenarios.set(key, [...(this.newInstanceScenarios.get(key) ?? []), ...scenarios]);
    }

    /** sku.capacity as Azure reports it: the instances not being deleted. */
    capacity(scaleSetId: string): number {
        this.settle(this.now());
        return this.capacityOf(this.scaleSet(scaleSetId));
    }

    /** When the instance's last upgrade/reimage started and ended (ended undefined while it runs). */
    operationWindow(scaleSetId: string, instanceId: string): { startedAt?: number; endedAt?: number } {
        const inst = this.instanceState(scaleSetId, instanceId);
        if (inst.operation) return { startedAt: inst.operation.startedAt };
        return { startedAt: inst.lastOperationStartedAt, endedAt: inst.bootedAt };
    }

    hasInstance(scaleSetId: string, instanceId: string): boolean {
        return this.scaleSet(scaleSetId).instances.has(instanceId);
    }

    scenario(scaleSetId: string, instanceId: string, scenario: InstanceScenario): void {
        const inst = this.instanceState(scaleSetId, instanceId);
        inst.scenario = { ...inst.scenario, ...scenario };
    }

    instance(scaleSetId: string, instanceId: string): InstanceSnapshot {
        this.settle(this.now());
        return this.snapshot(this.scaleSet(scaleSetId), this.instanceState(scaleSetId, instanceId), this.now());
    }

    instances(scaleSetId: string): InstanceSnapshot[] {
        this.settle(this.now());
        const s = this.scaleSet(scaleSetId);
        return [...s.instances.values()].map((i) => this.snapshot(s, i, this.now()));
    }

    /** The VMSS VM resource id of an instance (what AVD reports as the session host's resourceId). */
    instanceResourceId(scaleSetId: string, instanceId: string): string {
        return `${this.scaleSet(scaleSetId).id}/virtualMachines/${instanceId}`;
    }

    /** Whether an upgrade/reimage is running on the instance now. */
    isBusy(scaleSetId: string, instanceId: string, now: number): boolean {
        this.settle(now);
        return this.instanceState(scaleSetId, instanceId).operation !== undefined;
    }

    /** When the instance last came back from an upgrade/reimage, if it ever did. */
    bootedAt(scaleSetId: string, instanceId: string): number | undefined {
        return this.instanceState(scaleSetId, instanceId).bootedAt;
    }

    instanceIds(scaleSetId: string): string[] {
        return [...this.scaleSet(scaleSetId).instances.keys()];
    }

    computerName(scaleSetId: string, instanceId: string): string {
        return this.instanceState(scaleSetId, instanceId).computerName;
    }

    vmId(scaleSetId: string, instanceId: string): string {
        return this.instanceState(scaleSetId, instanceId).vmId;
    }

    /** Called when an instance goes down for an upgrade/reimage ("begin") and when it runs again ("end"). */
    onReimage(listener: (scaleSetId: string, instanceId: string, kind: "begin" | "end", at: number) => void): void {
        this.reimageListeners.push(listener);
    }

    rollingUpgradeStatus(scaleSetId: string): string | undefined {
        this.settle(this.now());
        return this.scaleSet(scaleSetId).rolling?.status;
    }

    // ---- time ----

    private now(): number {
        if (!this.fake) throw new Error("ComputeModule is not installed");
        return this.fake.clock.now();
    }

    /** Applies everything that happened up to `now`, in time order. */
    settle(now: number): void {
        for (;;) {
            let next: { at: number; apply: () => void } | undefined;
            const consider = (at: number, apply: () => void) => {
                if (at <= now && (!next || at < next.at)) next = { at, apply };
            };
            for (const s of this.scaleSets.values()) {
                for (const inst of s.instances.values()) {
                    const op = inst.operation;
                    if (op) consider(op.endsAt, () => this.finishOperation(s, inst, op.endsAt));
                    const del = inst.deleting;
                    if (del) consider(del.endsAt, () => this.finishDelete(s, inst));
                }
                const queued = s.queuedRolling;
                if (queued) {
                    consider(queued.startTime, () => {
                        s.rolling = queued;
                        s.queuedRolling = undefined;
                    });
                }
                const r = s.rolling;
                if (r && r.status === "RollingForward") {
                    if (r.stage.kind === "start") consider(r.stage.at, () => this.startRollingBatch(s, r));
                    else if (r.stage.kind === "judge") {
                        const judge = r.stage;
                        consider(judge.at, () => this.judgeRollingBatch(s, r, judge.batch, judge.at));
                    }
                }
            }
            if (!next) return;
            next.apply();
        }
    }

    private scaleSet(id: string): ScaleSetState {
        const s = this.scaleSets.get(lower(id));
        if (!s) throw new Error(`no fake scale set ${id}`);
        return s;
    }

    private instanceState(scaleSetId: string, instanceId: string): InstanceState {
        const inst = this.scaleSet(scaleSetId).instances.get(instanceId);
        if (!inst) throw new Error(`no instance ${instanceId} in ${scaleSetId}`);
        return inst;
    }

    private upgradeMs(inst: InstanceState): number {
        return (inst.scenario.upgradeSeconds ?? this.upgradeSeconds) * 1000;
    }

    private healthDelayMs(inst: InstanceState): number {
        return (inst.scenario.healthAfterSeconds ?? this.healthAfterSeconds) * 1000;
    }

    /** Azure compares the instance's model with the scale set's: the image and every other setting. */
    private latest(s: ScaleSetState, inst: InstanceState): boolean {
        return !inst.operation && sameImage(inst.image, s.image) && inst.modelGeneration === s.modelGeneration;
    }

    private health(inst: InstanceState, now: number): HealthCode {
        if (inst.operation || inst.deleting || inst.provisioningFailed) return "unknown";
        if (inst.bootedAt === undefined) return inst.seedHealth;
        if (now < inst.bootedAt + this.healthDelayMs(inst)) return "unknown";
        return inst.scenario.healthAfterUpgrade ?? "healthy";
    }

    private beginOperation(s: ScaleSetState, inst: InstanceState, kind: "upgrade" | "reimage", now: number): void {
        // An upgrade applies the model's image; a reimage rebuilds the instance from the image it runs.
        const image = kind === "upgrade" ? this.resolve(s.image) : inst.image;
        inst.operation = { startedAt: now, endsAt: now + this.upgradeMs(inst), image, kind };
        if (kind === "upgrade") inst.modelGeneration = s.modelGeneration;
        if (kind === "upgrade") inst.upgrades += 1;
        else inst.reimages += 1;
        for (const l of this.reimageListeners) l(s.id, inst.instanceId, "begin", now);
    }

    private finishOperation(s: ScaleSetState, inst: InstanceState, at: number): void {
        const op = inst.operation;
        if (!op) return;
        inst.image = op.image;
        inst.operation = undefined;
        if (op.kind === "create" && inst.scenario.provisioningFails) {
            inst.provisioningFailed = true;
            inst.lastOperationAt = at;
            return;
        }
        inst.lastOperationStartedAt = op.startedAt;
        inst.bootedAt = at;
        inst.lastOperationAt = at;
        for (const l of this.reimageListeners) l(s.id, inst.instanceId, "end", at);
    }

    private capacityOf(s: ScaleSetState): number {
        return [...s.instances.values()].filter((i) => !i.deleting).length;
    }

    private provisioningState(inst: InstanceState): string {
        if (inst.deleting) return "Deleting";
        if (inst.provisioningFailed) return "Failed";
        if (inst.operation) return inst.operation.kind === "create" ? "Creating" : "Updating";
        return "Succeeded";
    }

    /** A scale-out: new instances on the current model, each in the zone with the fewest instances. */
    private createInstances(s: ScaleSetState, count: number, now: number): void {
        for (let n = 0; n < count; n++) {
            const instanceId = String(s.nextInstanceId++);
            const live = [...s.instances.values()].filter((i) => !i.deleting);
            const zone = s.zones.length ? [...s.zones].sort((a, b) => live.filter((i) => i.zone === a).length - live.filter((i) => i.zone === b).length || (a < b ? -1 : 1))[0] : undefined;
            const queue = this.newInstanceScenarios.get(lower(s.id));
            const scenario = queue?.shift() ?? {};
            const inst: InstanceState = {
                instanceId,
                vmId: guid(`${s.id}/${instanceId}`),
                computerName: computerNameFor(s.computerNamePrefix, instanceId),
                zone,
                image: this.resolve(s.image),
                modelGeneration: s.modelGeneration,
                seedHealth: "healthy",
                lastOperationAt: now,
                upgrades: 0,
                reimages: 0,
                scenario,
            };
            const runsAt = now + (scenario.provisionSeconds ?? this.provisionSeconds) * 1000;
            inst.operation = { startedAt: now, endsAt: runsAt, image: inst.image, kind: "create" };
            s.instances.set(instanceId, inst);
            for (const l of this.createListeners) if (!scenario.provisioningFails) l(s.id, instanceId, runsAt);
        }
    }

    private beginDelete(s: ScaleSetState, inst: InstanceState, now: number): void {
        if (inst.deleting) return;
        inst.deleting = { startedAt: now, endsAt: now + this.deleteSeconds * 1000 };
        for (const l of this.deleteListeners) l(s.id, inst.instanceId, now);
    }

    private finishDelete(s: ScaleSetState, inst: InstanceState): void {
        inst.operation = undefined;
        s.instances.delete(inst.instanceId);
        for (const l of this.removalListeners) l(s.id, inst.instanceId);
    }

    private applyModelImage(s: ScaleSetState, image: ModelImage, now: number): void {
        if (sameImage(image, s.image)) return;
        s.image = image;
        s.modelGeneration += 1;
        s.etag += 1;
        if (s.upgradeMode === "Automatic") {
            for (const inst of s.instances.values()) if (!inst.operation) this.beginOperation(s, inst, "upgrade", now);
        } else if (s.upgradeMode === "Rolling") {
            const size = Math.max(1, Math.floor((s.instances.size * s.policy.maxBatchInstancePercent) / 100));
            const ordered = [...s.instances.values()].sort((a, b) => {
                const ua = this.health(a, now) === "healthy" ? 1 : 0;
                const ub = this.health(b, now) === "healthy" ? 1 : 0;
                return (s.policy.prioritizeUnhealthyInstances ? ua - ub : 0) || Number(a.instanceId) - Number(b.instanceId);
            });
            const batches: string[][] = [];
            for (let i = 0; i < ordered.length; i += size) batches.push(ordered.slice(i, i + size).map((x) => x.instanceId));
            const start = now + this.rollingUpgradeDelaySeconds * 1000;
            const rolling: RollingState = { startTime: start, lastActionTime: start, status: "RollingForward", batches, next: 0, stage: { kind: "start", at: start }, failed: 0 };
            if (start > now) s.queuedRolling = rolling;
            else s.rolling = rolling;
        }
    }

    private startRollingBatch(s: ScaleSetState, r: RollingState): void {
        if (r.stage.kind !== "start") return;
        const at = r.stage.at;
        const batch = r.batches[r.next];
        if (!batch) {
            r.status = "Completed";
            r.stage = { kind: "finished" };
            r.lastActionTime = at;
            return;
        }
        let judgeAt = at;
        for (const id of batch) {
            const inst = s.instances.get(id);
            if (!inst) continue;
            this.beginOperation(s, inst, "upgrade", at);
            judgeAt = Math.max(judgeAt, at + this.upgradeMs(inst) + this.healthDelayMs(inst));
        }
        r.stage = { kind: "judge", at: judgeAt, batch };
    }

    private judgeRollingBatch(s: ScaleSetState, r: RollingState, batch: string[], at: number): void {
        const upgraded = [...s.instances.values()].filter((i) => this.latest(s, i));
        const unhealthy = upgraded.filter((i) => this.health(i, at) !== "healthy");
        r.failed += batch.filter((id) => {
            const inst = s.instances.get(id);
            return inst !== undefined && this.health(inst, at) !== "healthy";
        }).length;
        r.next += 1;
        r.lastActionTime = at;
        if (upgraded.length > 0 && (unhealthy.length * 100) / upgraded.length > s.policy.maxUnhealthyUpgradedInstancePercent) {
            r.status = "Faulted";
            r.stage = { kind: "finished" };
            r.error = {
                code: "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade",
                message: `Rolling upgrade failed after exceeding the MaxUnhealthyUpgradedInstancePercent value defined in the RollingUpgradePolicy. ${unhealthy.length} of ${upgraded.length} upgraded instances are unhealthy.`,
            };
            return;
        }
        if (r.next >= r.batches.length) {
            r.status = "Completed";
            r.stage = { kind: "finished" };
            return;
        }
        r.stage = { kind: "start", at: at + pauseSeconds(s.policy.pauseTimeBetweenBatches) * 1000 };
    }

    // ---- bodies ----

    private snapshot(s: ScaleSetState, inst: InstanceState, now: number): InstanceSnapshot {
        return {
            instanceId: inst.instanceId,
            computerName: inst.computerName,
            zone: inst.zone,
            vmId: inst.vmId,
            imageReferenceId: imageText(inst.image),
            ...("exactVersion" in inst.image ? { exactVersion: inst.image.exactVersion } : {}),
            latestModelApplied: this.latest(s, inst),
            provisioningState: this.provisioningState(inst),
            health: this.health(inst, now),
            upgrades: inst.upgrades,
            reimages: inst.reimages,
        };
    }

    private scaleSetBody(s: ScaleSetState): Record<string, unknown> {
        const body = exampleBody("compute/2024-11-01/VirtualMachineScaleSet_Get.json", "200", this.fake?.subscriptionId);
        const props = body.properties as Record<string, unknown>;
        const vmProfile = props.virtualMachineProfile as Record<string, unknown>;
        const storage = vmProfile.storageProfile as Record<string, unknown>;
        const osProfile = vmProfile.osProfile as Record<string, unknown>;
        body.id = s.id;
        body.name = s.name;
        body.location = s.location;
        body.tags = this.tags(s.id);
        body.etag = `"${s.etag}"`;
        body.sku = { name: s.vmSize, tier: "Standard", capacity: this.capacityOf(s) };
        props.upgradePolicy = { mode: s.upgradeMode, rollingUpgradePolicy: { ...s.policy } };
        storage.imageReference = { ...s.image };
        (storage.osDisk as Record<string, unknown>).osType = "Windows";
        delete osProfile.linuxConfiguration;
        osProfile.computerNamePrefix = s.computerNamePrefix;
        osProfile.adminUsername = "avdadmin";
        osProfile.windowsConfiguration = { provisionVMAgent: true, enableAutomaticUpdates: false };
        delete vmProfile.applicationProfile;
        delete vmProfile.userData;
        delete props.hostGroup;
        props.provisioningState = "Succeeded";
        return body;
    }

    private instanceBody(s: ScaleSetState, inst: InstanceState, withView: boolean, now: number): Record<string, unknown> {
        const item = exampleListItem("compute/2024-11-01/VirtualMachineScaleSetVM_List_WithResiliencyView.json", "200", this.fake?.subscriptionId);
        const props = item.properties as Record<string, unknown>;
        const storage = props.storageProfile as Record<string, unknown>;
        const osProfile = props.osProfile as Record<string, unknown>;
        item.name = `${s.name}_${inst.instanceId}`;
        item.id = `${s.id}/virtualMachines/${inst.instanceId}`;
        item.instanceId = inst.instanceId;
        item.location = s.location;
        item.sku = { name: s.vmSize, tier: "Standard" };
        delete item.identity;
        delete item.resources;
        if (inst.zone) item.zones = [inst.zone];
        props.latestModelApplied = this.latest(s, inst);
        props.vmId = inst.vmId;
        props.provisioningState = this.provisioningState(inst);
        props.hardwareProfile = { vmSize: s.vmSize };
        // As Azure answers (VirtualMachineScaleSetVM_List_WithResiliencyView.json): a marketplace
        // instance shows the model's publisher/offer/sku/version and the exactVersion it runs.
        storage.imageReference = { ...inst.image };
        const osDisk = storage.osDisk as Record<string, unknown>;
        osDisk.osType = "Windows";
        osDisk.name = `${s.name}_${inst.instanceId}_OsDisk_1`;
        delete osDisk.managedDisk;
        delete osProfile.linuxConfiguration;
        osProfile.computerName = inst.computerName;
        osProfile.adminUsername = "avdadmin";
        osProfile.windowsConfiguration = { provisionVMAgent: true, enableAutomaticUpdates: false };
        props.networkProfile = { networkInterfaces: [] };
        delete props.networkProfileConfiguration;
        if (withView) props.instanceView = this.instanceView(inst, now);
        return item;
    }

    private instanceView(inst: InstanceState, now: number): Record<string, unknown> {
        const { example, status: statusTemplate } = instanceViewTemplate();
        const status = (code: string, displayStatus: string, time?: number) => {
            const s: Record<string, unknown> = { ...statusTemplate, code, level: "Info", displayStatus };
            delete s.message;
            if (time === undefined) delete s.time;
            else s.time = new Date(time).toISOString();
            return s;
        };
        const view: Record<string, unknown> = {
            platformUpdateDomain: example.platformUpdateDomain,
            platformFaultDomain: example.platformFaultDomain,
            computerName: inst.computerName,
            osName: "Windows 11 Enterprise multi-session",
            statuses: inst.deleting
                ? [status("ProvisioningState/deleting", "Deleting"), status("PowerState/stopped", "VM stopped")]
                : inst.provisioningFailed
                  ? [status("ProvisioningState/failed/OSProvisioningTimedOut", "Provisioning failed", inst.lastOperationAt), status("PowerState/stopped", "VM stopped")]
                  : inst.operation
                    ? [status(`ProvisioningState/${inst.operation.kind === "create" ? "creating" : "updating"}`, inst.operation.kind === "create" ? "Creating" : "Updating"), status(inst.operation.kind === "create" ? "PowerState/starting" : "PowerState/stopped", inst.operation.kind === "create" ? "VM starting" : "VM stopped")]
                    : [status("ProvisioningState/succeeded", "Provisioning succeeded", inst.lastOperationAt), status("PowerState/running", "VM running")],
        };
        const health = this.health(inst, now);
        if (health !== "none") {
            const display = { healthy: "The VM is healthy", unhealthy: "The VM is unhealthy", unknown: "The VM health is unknown" }[health];
            view.vmHealth = { status: status(`HealthState/${health}`, display, now) };
        }
        return view;
    }

    // ---- handlers ----

    private find(req: FakeRequest): ScaleSetState | undefined {
        return this.scaleSets.get(lower(`/subscriptions/${req.params.subscriptionId}/resourceGroups/${req.params.resourceGroupName}/providers/Microsoft.Compute/virtualMachineScaleSets/${req.params.vmScaleSetName}`));
    }

    private notFound(req: FakeRequest): FakeResponse {
        return (this.fake as FakeAzure).notFound("Microsoft.Compute/virtualMachineScaleSets", req.params.vmScaleSetName, req.params.resourceGroupName);
    }

    private getScaleSet(req: FakeRequest): FakeResponse {
        const s = this.find(req);
        return s ? { status: 200, body: this.scaleSetBody(s) } : this.notFound(req);
    }

    private patchScaleSet(req: FakeRequest): FakeResponse {
        const fake = this.fake as FakeAzure;
        const s = this.find(req);
        if (!s) return this.notFound(req);
        const ifMatch = req.headers["if-match"];
        if (typeof ifMatch === "string" && ifMatch !== "*" && ifMatch !== `"${s.etag}"`) {
            return fake.error(412, "PreconditionFailed", "The specified precondition 'If-Match' failed: the scale set was changed by another operation.");
        }
        const body = req.body;
        const props = typeof body === "object" && body !== null ? ((body as Record<string, unknown>).properties as Record<string, unknown> | undefined) : undefined;
        const policy = props?.upgradePolicy as Record<string, unknown> | undefined;
        if (policy && typeof policy.mode === "string") s.upgradeMode = policy.mode as UpgradeMode;
        if (policy && typeof policy.rollingUpgradePolicy === "object" && policy.rollingUpgradePolicy !== null) {
            s.policy = { ...s.policy, ...(policy.rollingUpgradePolicy as Partial<RollingUpgradePolicySeed>) };
            s.etag += 1;
        }
        const image = ((props?.virtualMachineProfile as Record<string, unknown> | undefined)?.storageProfile as Record<string, unknown> | undefined)?.imageReference as Record<string, unknown> | undefined;
        const sku = typeof body === "object" && body !== null ? ((body as Record<string, unknown>).sku as Record<string, unknown> | undefined) : undefined;
        const capacity = sku?.capacity;
        if (capacity !== undefined && (typeof capacity !== "number" || !Number.isInteger(capacity) || capacity < 0 || capacity > 1000)) {
            // Uniform scale sets hold 0 to 1000 instances (docs: "Working with large virtual machine scale sets").
            return fake.error(400, "InvalidParameter", `The value ${JSON.stringify(capacity)} of parameter 'sku.capacity' is invalid: a scale set holds 0 to 1000 instances.`);
        }
        const next = image ? requestedImage(image, s.image) : undefined;
        if (next) {
            const changed = fieldSetAfterCreation(s.image, next);
            if (changed) return fake.error(409, "PropertyChangeNotAllowed", `Changing property 'imageReference.${changed}' is not allowed.`);
            this.applyModelImage(s, next, req.now);
        }
        if (typeof capacity === "number" && capacity !== this.capacityOf(s)) {
            const previous = this.capacityOf(s);
            if (capacity > previous) this.createInstances(s, capacity - previous, req.now);
            else {
                const live = [...s.instances.values()].filter((i) => !i.deleting).sort((a, b) => Number(b.instanceId) - Number(a.instanceId));
                for (const inst of live.slice(0, previous - capacity)) this.beginDelete(s, inst, req.now);
            }
            s.etag += 1;
            this.capacityChanges.push({ scaleSetId: s.id, capacity, previous, time: req.now });
            // An update that changes instances is a long-running operation: 200 with the resource "Updating" and the status URLs.
            const changed = [...s.instances.values()].filter((i) => i.operation?.kind === "create" || i.deleting);
            const op = fake.startOperation({
                namespace: "Microsoft.Compute",
                location: s.location,
                apiVersion: COMPUTE_API_VERSION,
                advance: () => {
                    this.settle(fake.clock.now());
                    return changed.every((i) => i.operation === undefined && (!i.deleting || !s.instances.has(i.instanceId))) ? { status: "Succeeded" } : undefined;
                },
            });
            const updating = this.scaleSetBody(s);
            (updating.properties as Record<string, unknown>).provisioningState = "Updating";
            return fake.accepted(op, { asyncOperation: true }, 200, updating);
        }
        return { status: 200, body: this.scaleSetBody(s) };
    }

    /** VirtualMachineScaleSets_DeleteInstances: vmInstanceIDs.instanceIds is required (VirtualMachineScaleSetVMInstanceRequiredIDs). */
    private deleteInstances(req: FakeRequest): FakeResponse {
        const fake = this.fake as FakeAzure;
        const s = this.find(req);
        if (!s) return this.notFound(req);
        const raw = typeof req.body === "object" && req.body !== null ? (req.body as Record<string, unknown>).instanceIds : undefined;
        if (!Array.isArray(raw) || raw.length === 0 || raw.some((x) => typeof x !== "string")) {
            return fake.error(400, "InvalidParameter", "Required parameter 'instanceIds' is missing (null).");
        }
        const targets: InstanceState[] = [];
        for (const id of raw as string[]) {
            const inst = s.instances.get(id);
            if (!inst) return fake.error(400, "InvalidParameter", `The provided instanceId ${id} is not an active Virtual Machine Scale Set VM instanceId.`);
            targets.push(inst);
        }
        for (const inst of targets) this.beginDelete(s, inst, req.now);
        this.deletions.push({ scaleSetId: s.id, instanceIds: targets.map((t) => t.instanceId), time: req.now });
        const op = fake.startOperation({
            namespace: "Microsoft.Compute",
            location: s.location,
            apiVersion: COMPUTE_API_VERSION,
            advance: () => {
                this.settle(fake.clock.now());
                return targets.every((t) => !s.instances.has(t.instanceId)) ? { status: "Succeeded" } : undefined;
            },
        });
        return fake.accepted(op, { asyncOperation: true, location: true });
    }

    private listInstances(req: FakeRequest): FakeResponse {
        const fake = this.fake as FakeAzure;
        const s = this.find(req);
        if (!s) return this.notFound(req);
        const withView = (req.query.get("$expand") ?? "").toLowerCase() === "instanceview";
        const filter = req.query.get("$filter");
        let items = [...s.instances.values()];
        if (filter) {
            const m = /^properties\/latestModelApplied eq (true|false)$/i.exec(filter.trim());
            if (!m) return fake.error(400, "InvalidParameter", `The value '${filter}' of parameter '$filter' is not supported; use properties/latestModelApplied eq true|false.`);
            const want = m[1].toLowerCase() === "true";
            items = items.filter((i) => this.latest(s, i) === want);
        }
        return fake.page(req, items, (i) => this.instanceBody(s, i, withView, req.now));
    }

    private operateOnInstances(req: FakeRequest, kind: "upgrade" | "reimage"): FakeResponse {
        const fake = this.fake as FakeAzure;
        const s = this.find(req);
        if (!s) return this.notFound(req);
        const raw = typeof req.body === "object" && req.body !== null ? (req.body as Record<string, unknown>).instanceIds : undefined;
        const ids = Array.isArray(raw) ? raw.filter((x): x is string => typeof x === "string") : [...s.instances.keys()];
        if (kind === "upgrade" && !Array.isArray(raw)) {
            return fake.error(400, "InvalidParameter", "Required parameter 'instanceIds' is missing (null).");
        }
        const targets: InstanceState[] = [];
        for (const id of ids) {
            const inst = s.instances.get(id);
            if (!inst) return fake.error(400, "InvalidParameter", `The provided instanceId ${id} is not an active Virtual Machine Scale Set VM instanceId.`);
            if (inst.operation || inst.deleting) {
                return fake.error(409, "OperationNotAllowed", `Operation '${kind === "upgrade" ? "manualupgrade" : "reimage"}' is not allowed on VM '${s.name}_${id}' since the VM is ${inst.deleting ? "being deleted" : inst.operation?.kind === "create" ? "being created" : "being updated"}.`);
            }
            targets.push(inst);
        }
        for (const inst of targets) this.beginOperation(s, inst, kind, req.now);
        if (kind === "upgrade") this.manualUpgrades.push({ scaleSetId: s.id, instanceIds: targets.map((x) => x.instanceId), time: req.now });
        const op = fake.startOperation({
            namespace: "Microsoft.Compute",
            location: s.location,
            apiVersion: COMPUTE_API_VERSION,
            advance: () => {
                this.settle(fake.clock.now());
                return targets.every((t) => t.operation === undefined) ? { status: "Succeeded" } : undefined;
            },
        });
        return fake.accepted(op, { asyncOperation: true, location: true });
    }

    private tagsBody(s: ScaleSetState): Record<string, unknown> {
        return { id: `${s.id}/providers/Microsoft.Resources/tags/default`, name: "default", type: "Microsoft.Resources/tags", properties: { tags: this.tags(s.id) } };
    }

    private getTags(req: FakeRequest): FakeResponse {
        const s = this.find(req);
        return s ? { status: 200, body: this.tagsBody(s) } : this.notFound(req);
    }

    /** Tags_UpdateAtScope: Merge adds or overwrites, Replace replaces all, Delete removes the names given (or only name/value pairs that match). */
    private patchTags(req: FakeRequest): FakeResponse {
        const fake = this.fake as FakeAzure;
        const s = this.find(req);
        if (!s) return this.notFound(req);
        const body = typeof req.body === "object" && req.body !== null ? (req.body as Record<string, unknown>) : {};
        const operation = typeof body.operation === "string" ? body.operation : "";
        const props = typeof body.properties === "object" && body.properties !== null ? (body.properties as Record<string, unknown>) : {};
        const given = typeof props.tags === "object" && props.tags !== null ? Object.entries(props.tags as Record<string, unknown>) : [];
        for (const [name, value] of given) {
            if (typeof value !== "string") return fake.error(400, "InvalidTagValue", `The value of tag '${name}' must be a string.`);
            if (name.length > 512 || /[<>%&\\?/]/.test(name)) return fake.error(400, "InvalidTagNameCharacters", `The tag name '${name}' has invalid characters '<,>,%,&,\\,?,/' or is longer than 512 characters.`);
            if (value.length > 256) return fake.error(400, "InvalidTagValueLength", `The value of tag '${name}' is longer than 256 characters.`);
        }
        const next = new Map(s.tags);
        if (/^merge$/i.test(operation)) for (const [name, value] of given) next.set(name.toLowerCase(), { name: next.get(name.toLowerCase())?.name ?? name, value: value as string });
        else if (/^replace$/i.test(operation)) {
            next.clear();
            for (const [name, value] of given) next.set(name.toLowerCase(), { name, value: value as string });
        } else if (/^delete$/i.test(operation)) {
            for (const [name, value] of given) {
                const have = next.get(name.toLowerCase());
                if (have && (value === "" || value === have.value)) next.delete(name.toLowerCase());
            }
        } else return fake.error(400, "InvalidRequestContent", `The operation '${operation}' is not one of Replace, Merge, Delete.`);
        if (next.size > 50) return fake.error(400, "InvalidTagCountPerResource", `The resource would have ${next.size} tags; at most 50 are allowed.`);
        s.tags = next;
        return { status: 200, body: this.tagsBody(s) };
    }

    private latestRollingUpgrade(req: FakeRequest): FakeResponse {
        const fake = this.fake as FakeAzure;
        const s = this.find(req);
        if (!s) return this.notFound(req);
        const r = s.rolling;
        if (!r) return fake.error(404, "NotFound", `There is no rolling upgrade on the virtual machine scale set '${s.name}'.`);
        const body = exampleBody("compute/2024-11-01/VirtualMachineScaleSetRollingUpgrade_GetLatest_MaximumSet_Gen.json", "200", fake.subscriptionId);
        const props = body.properties as Record<string, unknown>;
        body.id = `${s.id}/rollingUpgrades/latest`;
        body.name = s.name;
        body.type = "Microsoft.Compute/virtualMachineScaleSets/rollingUpgrades";
        body.location = s.location;
        body.tags = {};
        props.policy = { ...s.policy };
        props.runningStatus = {
            code: r.status,
            startTime: new Date(r.startTime).toISOString(),
            lastAction: "Start",
            lastActionTime: new Date(r.lastActionTime).toISOString(),
        };
        const upgradedIds = r.batches.slice(0, r.next).flat();
        const inProgress = r.stage.kind === "judge" ? r.stage.batch.length : 0;
        props.progress = {
            successfulInstanceCount: upgradedIds.length - r.failed,
            failedInstanceCount: r.failed,
            inProgressInstanceCount: inProgress,
            pendingInstanceCount: s.instances.size - upgradedIds.length - inProgress,
        };
        if (r.error) props.error = { code: r.error.code, message: r.error.message };
        else delete props.error;
        return { status: 200, body };
    }
}
