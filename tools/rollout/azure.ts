// The Azure calls the rollout and the health gate share: the scale set's model, its
// instances with Application Health, the host pool's session hosts and user sessions, and
// the writes (drain mode, messages, log off, manual upgrade); Run Command is in runCommand.ts. Reads are list
// calls, one per snapshot whatever the number of hosts, so calls grow with batches rather
// than with hosts times polls.
import type { HealthSignal, HostState } from "../../src/rollout/hosts";
import { DesktopVirtualizationAPIClient } from "@azure/arm-desktopvirtualization";
import { ArmError, type ArmClient, type LroPoller } from "../azure/arm";
import { armCredential, armHttpClient, removeSdkRetryAndAuthPolicies } from "../azure/sdkHttp";
import { normalizeResourceId, sameResourceId, type ResourceId } from "../azure/ids";
import { at, isRecord, optionalArray, optionalNumber, optionalRecord, optionalString } from "../azure/json";
import { formatMarketplaceImage, type MarketplaceImageRef } from "../../src/tools/environment";
import type { Targets } from "./env";

// Hand-written: @azure/arm-compute 25.1.1 sends 2026-04-01, not the 2024-11-01 the scale set is deployed with.
export const COMPUTE_API_VERSION = "2024-11-01";
/** What @azure/arm-desktopvirtualization 1.2.0 sends, the version of the program's AVD resources. */
export const DESKTOP_VIRTUALIZATION_API_VERSION = "2024-04-03";
/** Microsoft.Resources/tags at a resource's scope (Tags_GetAtScope / Tags_UpdateAtScope, both 200). */
// Hand-written: @azure/arm-resources 8.0.0 sends 2025-04-01; the vendored Tags spec is 2021-04-01.
export const TAGS_API_VERSION = "2021-04-01";

export interface ScaleSetModel {
    name: string;
    /** The region, for the surge preflight's quota lookup. */
    location?: string;
    capacity?: number;
    imageReferenceId?: string;
    /** publisher/offer/sku/version when the model names a marketplace image. */
    marketplaceImage?: MarketplaceImageRef;
    /** The reference for messages: the id, or publisher:offer:sku:version. */
    imageReferenceText: string;
    upgradeMode?: string;
    maxBatchInstancePercent?: number;
    tags: Record<string, string>;
}

export async function getScaleSet(arm: ArmClient, vmss: ResourceId): Promise<ScaleSetModel> {
    const body = await arm.get(vmss.id, { apiVersion: COMPUTE_API_VERSION });
    const ref = optionalRecord(body, "properties.virtualMachineProfile.storageProfile.imageReference") ?? {};
    const id = optionalString(ref, "id");
    return {
        name: optionalString(body, "name") ?? vmss.name,
        location: optionalString(body, "location"),
        capacity: optionalNumber(body, "sku.capacity"),
        imageReferenceId: id,
        marketplaceImage: marketplaceReference(ref),
        imageReferenceText: id ?? ([ref.publisher, ref.offer, ref.sku, ref.version].filter((x) => typeof x === "string").join(":") || "no image reference"),
        upgradeMode: optionalString(body, "properties.upgradePolicy.mode"),
        maxBatchInstancePercent: optionalNumber(body, "properties.upgradePolicy.rollingUpgradePolicy.maxBatchInstancePercent"),
        tags: stringMap(optionalRecord(body, "tags")),
    };
}

function stringMap(record: Record<string, unknown> | undefined): Record<string, string> {
    return Object.fromEntries(Object.entries(record ?? {}).filter((e): e is [string, string] => typeof e[1] === "string"));
}

/** The resource's tags, read through Microsoft.Resources/tags (the same call that writes them). */
export async function getTags(arm: ArmClient, resource: ResourceId): Promise<Record<string, string>> {
    const body = await arm.get(`${resource.id}/providers/Microsoft.Resources/tags/default`, { apiVersion: TAGS_API_VERSION });
    return stringMap(optionalRecord(body, "properties.tags"));
}

/**
 * Merge adds or overwrites the tags given; Delete removes each given name/value pair (a tag
 * whose value changed meanwhile stays). Neither touches the scale set's model or its other
 * tags, and neither starts a Compute operation. A PATCH, so the client may repeat it.
 */
export async function updateTags(arm: ArmClient, resource: ResourceId, operation: "Merge" | "Delete", tags: Record<string, string>): Promise<Record<string, string>> {
    const body = await arm.patch(`${resource.id}/providers/Microsoft.Resources/tags/default`, { apiVersion: TAGS_API_VERSION, body: { operation, properties: { tags } } });
    return stringMap(optionalRecord(body, "properties.tags"));
}

/** An imageReference's publisher/offer/sku/version (all four present), or undefined for any other kind of image. */
function marketplaceReference(ref: Record<string, unknown>): MarketplaceImageRef | undefined {
    const [publisher, offer, sku, version] = [ref.publisher, ref.offer, ref.sku, ref.version];
    if (typeof publisher !== "string" || typeof offer !== "string" || typeof sku !== "string" || typeof version !== "string") return undefined;
    return { publisher, offer, sku, version };
}

const sameText = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** Same publisher, offer and SKU: Azure compares these names without regard to case. */
function sameMarketplaceImage(a: MarketplaceImageRef, b: MarketplaceImageRef): boolean {
    return sameText(a.publisher, b.publisher) && sameText(a.offer, b.offer) && sameText(a.sku, b.sku);
}

/** Whether the scale set's model references the target version (or its definition, i.e. "latest"). */
export function modelReferencesTarget(model: ScaleSetModel, t: Targets): boolean {
    if (t.source === "marketplace") {
        const m = model.marketplaceImage;
        return m !== undefined && sameMarketplaceImage(m, t.marketplaceImage) && sameText(m.version, t.marketplaceImage.version);
    }
    return model.imageReferenceId !== undefined && (sameResourceId(model.imageReferenceId, t.imageVersionId) || sameResourceId(model.imageReferenceId, t.imageDefinitionId));
}

/**
 * What the model follows instead of a version, when it follows a "latest" that a new image never
 * changes: the gallery definition (a new version leaves the model as it is), or a marketplace image
 * at `latest` ("the VM image will not automatically update after deploy time even if a new version
 * becomes available", Compute spec 2024-11-01, ImageReference.version). A Manual rollout has nothing
 * to move then, and cannot name the version it would move to.
 */
export function floatingModelReference(model: ScaleSetModel, t: Targets): { what: string; fix: string } | undefined {
    if (t.source === "gallery") {
        if (model.imageReferenceId === undefined || !sameResourceId(model.imageReferenceId, t.imageDefinitionId)) return undefined;
        return {
            what: "the image definition (useLatestImage: true)",
            fix: 'Manual rings pin the version: set sessionHosts.useLatestImage: false (the default) and run `pulumi up` again (docs/rollout.md, "Floating image references").',
        };
    }
    const m = model.marketplaceImage;
    if (m === undefined || !sameMarketplaceImage(m, t.marketplaceImage) || !sameText(m.version, "latest")) return undefined;
    return {
        what: `marketplace image ${formatMarketplaceImage(m)}`,
        fix: "Manual rings pin the marketplace version: set the pool's marketplaceImage.version to the Major.Minor.Build it should run (az vm image list --all) and run `pulumi up` again.",
    };
}

export interface Instance {
    instanceId: string;
    /** VMSS VM resource id. */
    id: string;
    vmId?: string;
    computerName?: string;
    zone?: string;
    latestModelApplied: boolean;
    imageReferenceId?: string;
    /** publisher/offer/sku/version when the instance runs a marketplace image. */
    marketplaceImage?: MarketplaceImageRef;
    /** The version Azure resolved `latest` to (the version itself otherwise). */
    exactVersion?: string;
    provisioningState?: string;
    health: HealthSignal;
    /** Time of the last finished operation on the instance (its ProvisioningState status), ms. */
    lastOperationTime?: number;
}

const TERMINAL_PROVISIONING = new Set(["succeeded", "failed", "canceled"]);

function healthOf(code: string | undefined): HealthSignal {
    if (code === undefined) return "none";
    const state = code.toLowerCase().replace(/^healthstate\//, "");
    if (state === "healthy") return "healthy";
    if (state === "unhealthy") return "unhealthy";
    return "unknown";
}

function toInstance(item: unknown): Instance | undefined {
    if (!isRecord(item)) return undefined;
    const instanceId = optionalString(item, "instanceId");
    const id = optionalString(item, "id");
    if (instanceId === undefined || id === undefined) return undefined;
    const statuses = optionalArray(item, "properties.instanceView.statuses") ?? [];
    const provisioningStatus = statuses.filter(isRecord).find((s) => /^ProvisioningState\//i.test(optionalString(s, "code") ?? ""));
    const time = provisioningStatus ? Date.parse(optionalString(provisioningStatus, "time") ?? "") : NaN;
    const zones = optionalArray(item, "zones");
    const ref = optionalRecord(item, "properties.storageProfile.imageReference") ?? {};
    return {
        instanceId,
        id,
        vmId: optionalString(item, "properties.vmId"),
        computerName: optionalString(item, "properties.osProfile.computerName") ?? optionalString(item, "properties.instanceView.computerName"),
        zone: zones && typeof zones[0] === "string" ? zones[0] : undefined,
        latestModelApplied: at(item, "properties.latestModelApplied") === true,
        imageReferenceId: optionalString(ref, "id"),
        marketplaceImage: marketplaceReference(ref),
        exactVersion: optionalString(ref, "exactVersion"),
        provisioningState: optionalString(item, "properties.provisioningState"),
        health: healthOf(optionalString(item, "properties.instanceView.vmHealth.status.code")),
        lastOperationTime: Number.isNaN(time) ? undefined : time,
    };
}

/** Every instance of the scale set with its instance view (Application Health), in one paged list. */
export async function listInstances(arm: ArmClient, vmss: ResourceId): Promise<Instance[]> {
    const items = await arm.list(`${vmss.id}/virtualMachines`, { apiVersion: COMPUTE_API_VERSION, query: { $expand: "instanceView" } });
    return items.map(toInstance).filter((x): x is Instance => x !== undefined);
}

export interface SessionHost {
    /** The session host name as used in its resource path (last segment of the id). */
    name: string;
    resourceId?: string;
    virtualMachineId?: string;
    status?: string;
    /** When the AVD agent last reported (ms); status describes that moment. */
    lastHeartBeat?: number;
    allowNewSession: boolean;
    sessions: number;
}

function lastSegment(id: string): string {
    return decodeURIComponent(id.replace(/\/+$/, "").split("/").pop() ?? "");
}

/**
 * The official AVD client for `hostPool`'s subscription, sending through `arm` (one per ArmClient
 * and subscription): see tools/azure/sdkHttp.ts for why its retry and auth policies are removed.
 */
const avdClients = new WeakMap<ArmClient, Map<string, DesktopVirtualizationAPIClient>>();

export function desktopVirtualizationClient(arm: ArmClient, hostPool: ResourceId): DesktopVirtualizationAPIClient {
    let bySubscription = avdClients.get(arm);
    if (!bySubscription) avdClients.set(arm, (bySubscription = new Map()));
    const key = hostPool.subscriptionId.toLowerCase();
    let client = bySubscription.get(key);
    if (!client) {
        client = new DesktopVirtualizationAPIClient(armCredential(arm), hostPool.subscriptionId, {
            endpoint: arm.endpoint,
            credentialScopes: [`${arm.endpoint}/.default`],
            httpClient: armHttpClient(arm),
            userAgentOptions: { userAgentPrefix: "avd-image-rings-tools" },
        });
        removeSdkRetryAndAuthPolicies(client.pipeline);
        bySubscription.set(key, client);
    }
    return client;
}

function poolParts(hostPool: ResourceId): { resourceGroupName: string; hostPoolName: string } {
    if (!hostPool.resourceGroupName) throw new Error(`${hostPool.id} is not a host pool id (no resource group)`);
    return { resourceGroupName: hostPool.resourceGroupName, hostPoolName: hostPool.name };
}

function isNotFound(e: unknown): boolean {
    return e instanceof ArmError && e.status === 404;
}

function timeOfDate(value: Date | string | undefined): number | undefined {
    if (value === undefined) return undefined;
    const t = value instanceof Date ? value.getTime() : Date.parse(value);
    return Number.isNaN(t) ? undefined : t;
}

export async function listSessionHosts(arm: ArmClient, hostPool: ResourceId): Promise<SessionHost[]> {
    const { resourceGroupName, hostPoolName } = poolParts(hostPool);
    const hosts: SessionHost[] = [];
    for await (const item of desktopVirtualizationClient(arm, hostPool).sessionHosts.list(resourceGroupName, hostPoolName)) {
        if (!item.id) continue;
        hosts.push({
            name: lastSegment(item.id),
            resourceId: item.resourceId,
            virtualMachineId: item.virtualMachineId,
            status: item.status,
            lastHeartBeat: timeOfDate(item.lastHeartBeat),
            // Only an explicit false is drain mode.
            allowNewSession: item.allowNewSession !== false,
            sessions: typeof item.sessions === "number" ? item.sessions : 0,
        });
    }
    return hosts;
}

export interface UserSession {
    sessionHostName: string;
    /** The session id in its resource path. */
    id: string;
    userPrincipalName?: string;
    state?: string;
}

/** Every user session in the host pool (one paged list for all hosts). */
export async function listUserSessions(arm: ArmClient, hostPool: ResourceId): Promise<UserSession[]> {
    const { resourceGroupName, hostPoolName } = poolParts(hostPool);
    const sessions: UserSession[] = [];
    for await (const item of desktopVirtualizationClient(arm, hostPool).userSessions.listByHostPool(resourceGroupName, hostPoolName)) {
        const m = item.id ? /\/sessionHosts\/([^/]+)\/userSessions\/([^/]+)$/i.exec(item.id) : null;
        if (!m) continue;
        sessions.push({
            sessionHostName: decodeURIComponent(m[1]),
            id: decodeURIComponent(m[2]),
            userPrincipalName: item.userPrincipalName,
            state: item.sessionState,
        });
    }
    return sessions;
}

/** Drain mode on (no new sessions) or off; false when the session host no longer exists (404). */
export async function setDrainMode(arm: ArmClient, hostPool: ResourceId, sessionHostName: string, drain: boolean): Promise<boolean> {
    const { resourceGroupName, hostPoolName } = poolParts(hostPool);
    try {
        await desktopVirtualizationClient(arm, hostPool).sessionHosts.update(resourceGroupName, hostPoolName, sessionHostName, { sessionHost: { allowNewSession: !drain } });
        return true;
    } catch (e) {
        if (isNotFound(e)) return false;
        throw e;
    }
}

/**
 * Shows a message in the user's session; false when the session ended meanwhile (404). A POST:
 * ArmClient never repeats it after a lost answer (ArmError.outcomeUnknown reaches the caller).
 */
export async function sendMessage(arm: ArmClient, hostPool: ResourceId, s: UserSession, title: string, body: string): Promise<boolean> {
    const { resourceGroupName, hostPoolName } = poolParts(hostPool);
    try {
        await desktopVirtualizationClient(arm, hostPool).userSessions.sendMessage(resourceGroupName, hostPoolName, s.sessionHostName, s.id, { sendMessage: { messageTitle: title, messageBody: body } });
        return true;
    } catch (e) {
        if (isNotFound(e)) return false;
        throw e;
    }
}

/** Signs a user out (DELETE userSession with force=true); a session already gone is fine. */
export async function logOff(arm: ArmClient, hostPool: ResourceId, s: UserSession): Promise<void> {
    const { resourceGroupName, hostPoolName } = poolParts(hostPool);
    try {
        await desktopVirtualizationClient(arm, hostPool).userSessions.delete(resourceGroupName, hostPoolName, s.sessionHostName, s.id, { force: true });
    } catch (e) {
        if (!isNotFound(e)) throw e;
    }
}

/**
 * Asks Azure to bring instances to the scale set's latest model (for a new image: a reimage)
 * and returns the operation to poll. A POST: after a lost answer (ArmError.outcomeUnknown)
 * the caller reads the instances to learn whether Azure started it, and never simply repeats it.
 */
export async function beginManualUpgrade(arm: ArmClient, vmss: ResourceId, instanceIds: string[], pollMs: number): Promise<LroPoller> {
    return arm.begin("POST", `${vmss.id}/manualupgrade`, { apiVersion: COMPUTE_API_VERSION, body: { instanceIds }, pollIntervalMs: pollMs });
}

export interface RollingUpgradeStatus {
    code?: string;
    startTime?: string;
    progress: { successful: number; failed: number; inProgress: number; pending: number };
    error?: string;
}

/** The scale set's latest rolling upgrade, or undefined when Azure has none. */
export async function latestRollingUpgrade(arm: ArmClient, vmss: ResourceId): Promise<RollingUpgradeStatus | undefined> {
    const body = await arm.tryGet(`${vmss.id}/rollingUpgrades/latest`, { apiVersion: COMPUTE_API_VERSION });
    if (body === undefined) return undefined;
    const code = optionalString(body, "properties.error.code");
    const message = optionalString(body, "properties.error.message");
    return {
        code: optionalString(body, "properties.runningStatus.code"),
        startTime: optionalString(body, "properties.runningStatus.startTime"),
        progress: {
            successful: optionalNumber(body, "properties.progress.successfulInstanceCount") ?? 0,
            failed: optionalNumber(body, "properties.progress.failedInstanceCount") ?? 0,
            inProgress: optionalNumber(body, "properties.progress.inProgressInstanceCount") ?? 0,
            pending: optionalNumber(body, "properties.progress.pendingInstanceCount") ?? 0,
        },
        error: code || message ? [code, message].filter(Boolean).join(": ") : undefined,
    };
}

export interface Host extends HostState {
    instance: Instance;
    sessionHost?: SessionHost;
}

function versionOf(instance: Instance): string | undefined {
    if (instance.exactVersion) return instance.exactVersion;
    const id = instance.imageReferenceId;
    const m = id ? /\/versions\/([^/]+)$/i.exec(id) : null;
    return m ? m[1] : instance.marketplaceImage?.version;
}

/**
 * Whether the instance runs the target image. A gallery target: the version's id, or the definition
 * with that exactVersion. A marketplace target: the same publisher, offer and SKU, and the pinned
 * version (exactVersion, which Azure reports for every marketplace instance, else the version
 * field); for `latest`, the instance follows latest too, and exactVersion says what it resolved to.
 */
export function runsTarget(instance: Instance, t: Targets): boolean {
    if (t.source === "marketplace") {
        const m = instance.marketplaceImage;
        if (m === undefined || !sameMarketplaceImage(m, t.marketplaceImage)) return false;
        if (sameText(t.marketplaceImage.version, "latest")) return sameText(m.version, "latest");
        return (instance.exactVersion ?? m.version) === t.marketplaceImage.version;
    }
    return (
        instance.imageReferenceId !== undefined &&
        (sameResourceId(instance.imageReferenceId, t.imageVersionId) || (sameResourceId(instance.imageReferenceId, t.imageDefinitionId) && instance.exactVersion === t.imageVersion))
    );
}

/**
 * Joins instances with their session hosts: by the session host's resourceId (the VMSS VM
 * id), else by the VM id, else by computer name (the session host name's first label).
 */
export function joinHosts(instances: readonly Instance[], sessionHosts: readonly SessionHost[], t: Targets): Host[] {
    // Indexed once per snapshot: a linear search per instance is quadratic at a thousand hosts.
    const byResourceId = new Map<string, SessionHost>();
    const byVmId = new Map<string, SessionHost>();
    const byComputerName = new Map<string, SessionHost>();
    for (const s of sessionHosts) {
        if (s.resourceId !== undefined) setOnce(byResourceId, normalizeResourceId(s.resourceId), s);
        if (s.virtualMachineId !== undefined) setOnce(byVmId, s.virtualMachineId.toLowerCase(), s);
        setOnce(byComputerName, s.name.split(".")[0].toLowerCase(), s);
    }
    return instances.map((instance) => {
        const sh =
            byResourceId.get(normalizeResourceId(instance.id)) ??
            (instance.vmId !== undefined ? byVmId.get(instance.vmId.toLowerCase()) : undefined) ??
            (instance.computerName !== undefined ? byComputerName.get(instance.computerName.toLowerCase()) : undefined);
        return {
            instanceId: instance.instanceId,
            name: instance.computerName ?? sh?.name ?? `instance ${instance.instanceId}`,
            zone: instance.zone,
            sessionHostName: sh?.name,
            imageVersion: versionOf(instance),
            // The image decides, not latestModelApplied: a renewed registration token also changes the
            // model, and that alone must never drain users off a host that already runs the target.
            onTarget: runsTarget(instance, t),
            busy: instance.provisioningState !== undefined && !TERMINAL_PROVISIONING.has(instance.provisioningState.toLowerCase()),
            health: instance.health,
            avdStatus: sh?.status,
            // A status from before the last upgrade finished says nothing about the reimaged host.
            heartbeatStale: sh !== undefined && instance.lastOperationTime !== undefined && (sh.lastHeartBeat === undefined || sh.lastHeartBeat < instance.lastOperationTime),
            draining: sh ? !sh.allowNewSession : false,
            sessions: sh?.sessions ?? 0,
            instance,
            sessionHost: sh,
        };
    });
}

/** First match wins, as a linear search would. */
function setOnce<K, V>(map: Map<K, V>, key: K, value: V): void {
    if (!map.has(key)) map.set(key, value);
}

/** One snapshot of the ring: two list calls. */
export async function readHosts(arm: ArmClient, t: Targets): Promise<Host[]> {
    const instances = await listInstances(arm, t.vmss);
    const sessionHosts = await listSessionHosts(arm, t.hostPool);
    return joinHosts(instances, sessionHosts, t);
}

/**
 * Sets the scale set's sku.capacity (VirtualMachineScaleSets_Update, a PATCH with only the sku:
 * Azure creates new instances on the current model, or removes instances by its scale-in
 * policy). The update is a long-running operation, but the instances tell the surge rollout all
 * it needs, so it is not followed; a PATCH of an absolute value may be repeated safely.
 */
export async function setCapacity(arm: ArmClient, vmss: ResourceId, capacity: number): Promise<void> {
    await arm.patch(vmss.id, { apiVersion: COMPUTE_API_VERSION, body: { sku: { capacity } } });
}

/**
 * Deletes instances (VirtualMachineScaleSets_DeleteInstances, POST .../delete with their ids, an
 * LRO). Azure lowers sku.capacity by their number as it accepts the request. Returns the
 * operation; the instance list (provisioningState Deleting, then gone) tells the same.
 */
export async function beginDeleteInstances(arm: ArmClient, vmss: ResourceId, instanceIds: string[], pollMs: number): Promise<LroPoller> {
    return arm.begin("POST", `${vmss.id}/delete`, { apiVersion: COMPUTE_API_VERSION, body: { instanceIds }, pollIntervalMs: pollMs });
}

/**
 * Removes a session host object from the host pool (SessionHosts_Delete, 200, or 204 when it is
 * already gone). Never with force: AVD then refuses a host that still has user sessions, a last
 * guard beside the rollout's own session check.
 */
export async function deleteSessionHost(arm: ArmClient, hostPool: ResourceId, sessionHostName: string): Promise<void> {
    const { resourceGroupName, hostPoolName } = poolParts(hostPool);
    try {
        await desktopVirtualizationClient(arm, hostPool).sessionHosts.delete(resourceGroupName, hostPoolName, sessionHostName, { force: false });
    } catch (e) {
        if (!isNotFound(e)) throw e;
    }
}
