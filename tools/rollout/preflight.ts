// The surge rollout's preflight: before the rollout changes anything, check at run time that Azure
// has room for the extra instances a surge step adds, so a rollout never drains or replaces half a
// ring and then fails on an allocation. Two limits (the ones Azure reports and enforces):
// - addresses: every instance takes one address in the session-host subnet (one primary IP
//   configuration per instance in the program's model); the subnet's own GET lists every IP
//   configuration holding one, and Azure reserves 5 addresses in each subnet range (the network,
//   three for Azure services, broadcast: learn.microsoft.com/azure/virtual-network/virtual-networks-faq).
// - vCPU quota: the region's per-family limit and its Total Regional vCPUs (Compute Usage_List,
//   learn.microsoft.com/azure/virtual-machines/quotas), with the family and vCPUs of the VM size
//   from Resource SKUs (which also says whether the subscription may deploy the size there).
// A reimage rollout replaces nothing: hosts keep their VM, NIC, address and cores, so it needs
// neither check and makes no call.
import { batchSize } from "../../src/rollout/planner";
import { LIMITS } from "../../src/tools/environment";
import type { ArmClient } from "../azure/arm";
import type { ResourceId } from "../azure/ids";
import { isRecord, optionalArray, optionalNumber, optionalRecord, optionalString } from "../azure/json";
import { ToolFailure } from "../shared/tool";

// Hand-written: no @azure/arm-network in the project; 2024-05-01 is the version azure-native 3 deploys subnets with.
export const NETWORK_API_VERSION = "2024-05-01";
// Hand-written: Usage_List of the Compute spec the scale set is deployed with (@azure/arm-compute sends 2026-04-01).
export const USAGE_API_VERSION = "2024-11-01";
// Hand-written: ResourceSkus_List is its own spec (Skus/stable/2021-07-01).
export const RESOURCE_SKUS_API_VERSION = "2021-07-01";
/** Addresses Azure keeps in every subnet range (x.x.x.0-3 and the last). */
export const AZURE_RESERVED_ADDRESSES_PER_PREFIX = 5;
/** Usage_List's name for Total Regional vCPUs. */
const REGIONAL_VCPUS = "cores";

export type RolloutStrategy = "surge" | "reimage";

export interface PreflightRequest {
    strategy: RolloutStrategy;
    /** Instances the run may add beyond those that exist now, at the most at once (surge). */
    surgeInstances: number;
    /** The scale set's configured capacity and step percentage, for the advice. */
    capacity: number;
    maxBatchInstancePercent: number;
    location: string;
    subnet?: ResourceId;
    vmSize?: string;
}

export interface SubnetRoom {
    id: string;
    prefixes: string[];
    addresses: number;
    reserved: number;
    used: number;
    free: number;
}

export interface QuotaRoom {
    /** Usage_List name and its display name. */
    name: string;
    displayName: string;
    used: number;
    limit: number;
    free: number;
}

export interface PreflightFindings {
    vmSize: string;
    vCPUsPerInstance: number;
    subnet: SubnetRoom;
    family: QuotaRoom;
    regional: QuotaRoom;
}

export interface PreflightResult {
    /** What the run printed about it (one line). */
    summary: string;
    findings?: PreflightFindings;
    /** Most instances the subnet and quotas have room for now. */
    fits?: number;
}

/** Addresses in an IPv4 prefix ("10.0.1.0/24" = 256); IPv6 prefixes are not counted (hosts take an IPv4 address). */
export function ipv4PrefixSize(prefix: string): number | undefined {
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(prefix.trim());
    if (!m || Number(m[5]) > 32) return undefined;
    return 2 ** (32 - Number(m[5]));
}

/** Room in a subnet from its GET body (addressPrefix or addressPrefixes; ipConfigurations). */
export function subnetRoom(body: unknown, id: string): SubnetRoom {
    const props = optionalRecord(body, "properties") ?? {};
    const single = optionalString(props, "addressPrefix");
    const many = (optionalArray(props, "addressPrefixes") ?? []).filter((x): x is string => typeof x === "string");
    const prefixes = (many.length > 0 ? many : single ? [single] : []).filter((p) => ipv4PrefixSize(p) !== undefined);
    if (prefixes.length === 0) throw new ToolFailure(`preflight: the subnet ${id} reports no IPv4 address prefix, so its free addresses cannot be counted; nothing was changed.`);
    const addresses = prefixes.reduce((sum, p) => sum + (ipv4PrefixSize(p) as number), 0);
    const reserved = prefixes.length * AZURE_RESERVED_ADDRESSES_PER_PREFIX;
    const used = (optionalArray(props, "ipConfigurations") ?? []).length;
    return { id, prefixes, addresses, reserved, used, free: Math.max(0, addresses - reserved - used) };
}

/** The VM size's quota family and vCPUs from ResourceSkus_List items; throws when the region does not offer it to the subscription. */
export function vmSizeFacts(skus: unknown[], vmSize: string, location: string): { family: string; vCPUs: number } {
    const sku = skus.filter(isRecord).find((s) => optionalString(s, "resourceType") === "virtualMachines" && optionalString(s, "name")?.toLowerCase() === vmSize.toLowerCase());
    if (!sku) throw new ToolFailure(`preflight: the VM size ${vmSize} is not offered in ${location} (Resource SKUs); new hosts could not be created. Nothing was changed.`);
    const restricted = (optionalArray(sku, "restrictions") ?? []).filter(isRecord).find((r) => optionalString(r, "type") === "Location");
    if (restricted) {
        throw new ToolFailure(`preflight: the subscription may not deploy ${vmSize} in ${location} (${optionalString(restricted, "reasonCode") ?? "restricted"}); new hosts could not be created. Nothing was changed.`, [
            "Ask for the size to be enabled in the region (a support request), or use sessionHosts.rollout.strategy: reimage, which keeps the existing VMs.",
        ]);
    }
    const family = optionalString(sku, "family");
    const cap = (optionalArray(sku, "capabilities") ?? []).filter(isRecord).find((c) => optionalString(c, "name") === "vCPUs");
    const vCPUs = Number(cap === undefined ? NaN : optionalString(cap, "value"));
    if (!family || !Number.isInteger(vCPUs) || vCPUs < 1) throw new ToolFailure(`preflight: Resource SKUs gives no quota family or vCPU count for ${vmSize} in ${location}; the quota cannot be checked. Nothing was changed.`);
    return { family, vCPUs };
}

/** One Usage_List entry by name; throws when the region reports none (the quota cannot be checked). */
export function quotaRoom(usages: unknown[], name: string, location: string): QuotaRoom {
    const u = usages.filter(isRecord).find((x) => optionalString(x, "name.value")?.toLowerCase() === name.toLowerCase());
    const used = u ? optionalNumber(u, "currentValue") : undefined;
    const limit = u ? optionalNumber(u, "limit") : undefined;
    if (!u || used === undefined || limit === undefined) {
        throw new ToolFailure(`preflight: Compute usages for ${location} report no quota named ${name}; the surge's vCPUs cannot be checked. Nothing was changed.`);
    }
    return { name, displayName: optionalString(u, "name.localizedValue") ?? name, used, limit, free: Math.max(0, limit - used) };
}

/** The largest step percentage whose step (planner.batchSize) still fits `fits` instances; undefined below the minimum. */
export function largestFittingPercent(capacity: number, fits: number): number | undefined {
    for (let p = LIMITS.maxBatchInstancePercent.max; p >= LIMITS.maxBatchInstancePercent.min; p--) if (batchSize(capacity, p) <= fits) return p;
    return undefined;
}

/** The verdict over what Azure reported: undefined when the surge fits, else the failure to print. */
export function judge(request: PreflightRequest, f: PreflightFindings): ToolFailure | undefined {
    const n = request.surgeInstances;
    const vcpus = n * f.vCPUsPerInstance;
    const byCpu = (q: QuotaRoom) => Math.floor(q.free / f.vCPUsPerInstance);
    const fits = Math.min(f.subnet.free, byCpu(f.family), byCpu(f.regional));
    if (fits >= n) return undefined;
    const short: string[] = [];
    if (f.subnet.free < n) short.push(`${n} address(es) in the subnet, ${f.subnet.free} free`);
    for (const q of [f.family, f.regional]) if (q.free < vcpus) short.push(`${vcpus} vCPUs of ${q.displayName}, ${q.free} free`);
    const percent = largestFittingPercent(request.capacity, fits);
    const advice = [
        fits > 0
            ? percent !== undefined
                ? `a smaller step: at most ${fits} new host(s) fit now; sessionHosts.rollingUpgrade.maxBatchInstancePercent: ${percent} (steps of ${batchSize(request.capacity, percent)} at capacity ${request.capacity}; now ${request.maxBatchInstancePercent}%)`
                : `a smaller step: at most ${fits} new host(s) fit now, less than the smallest step Azure's percentage allows at capacity ${request.capacity} (${batchSize(request.capacity, LIMITS.maxBatchInstancePercent.min)} at ${LIMITS.maxBatchInstancePercent.min}%)`
            : "a smaller step will not do: not one new host fits now",
        ...[f.family, f.regional]
            .filter((q) => q.free < vcpus)
            .map((q) => `more quota: raise ${q.displayName} (${q.name}) in ${request.location} from ${q.limit} to at least ${q.used + vcpus} (Azure portal > Quotas > Compute, or a quota request)`),
        ...(f.subnet.free < n ? [`more addresses: free ${n - f.subnet.free} more in ${f.subnet.id}, or widen its prefix`] : []),
        "or sessionHosts.rollout.strategy: reimage: hosts are updated in place and need no new addresses or vCPUs, but a batch at a time is out of service while it updates",
    ];
    return new ToolFailure(
        `preflight: the surge needs room for ${n} new host(s) of ${f.vmSize} (${f.vCPUsPerInstance} vCPUs each), but Azure has ${short.join("; ")}. Nothing was changed: no host was drained, added or removed.`,
        [
            `subnet ${f.subnet.id} (${f.subnet.prefixes.join(", ")}): ${f.subnet.addresses} addresses, ${f.subnet.reserved} reserved by Azure, ${f.subnet.used} in use, ${f.subnet.free} free; the surge needs ${n}.`,
            ...[f.family, f.regional].map((q) => `${q.displayName} in ${request.location}: ${q.used} of ${q.limit} in use, ${q.free} free; the surge needs ${vcpus}.`),
            "Change one of these and run `pulumi up` again:",
            ...advice.map((a) => `  - ${a}`),
        ],
    );
}

/** Reads what Azure reports (3 calls: subnet, Resource SKUs of the region, usages of the region). */
export async function readFindings(arm: ArmClient, subnet: ResourceId, vmSize: string, location: string): Promise<PreflightFindings> {
    const loc = location.toLowerCase().replace(/\s+/g, "");
    const sub = subnet.subscriptionId;
    const body = await arm.get(subnet.id, { apiVersion: NETWORK_API_VERSION });
    const skus = await arm.list(`/subscriptions/${sub}/providers/Microsoft.Compute/skus`, { apiVersion: RESOURCE_SKUS_API_VERSION, query: { $filter: `location eq '${loc}'` } });
    const size = vmSizeFacts(skus, vmSize, loc);
    const usages = await arm.list(`/subscriptions/${sub}/providers/Microsoft.Compute/locations/${loc}/usages`, { apiVersion: USAGE_API_VERSION });
    return {
        vmSize,
        vCPUsPerInstance: size.vCPUs,
        subnet: subnetRoom(body, subnet.id),
        family: quotaRoom(usages, size.family, loc),
        regional: quotaRoom(usages, REGIONAL_VCPUS, loc),
    };
}

/**
 * Runs before the rollout's first change. Surge: throws a ToolFailure with the numbers and what to
 * change when the subnet or a vCPU quota lacks room for `surgeInstances` more hosts. Reimage, or a
 * surge with nothing left to add: no Azure call.
 */
export async function preflight(arm: ArmClient, request: PreflightRequest): Promise<PreflightResult> {
    if (request.strategy === "reimage") return { summary: "preflight: strategy reimage updates hosts in place (same VMs, addresses and cores): no subnet or quota check needed" };
    if (request.surgeInstances <= 0) return { summary: "preflight: no new host to add (the surge's instances already exist)" };
    if (!request.subnet || !request.vmSize) {
        throw new ToolFailure("preflight: the surge needs AVD_SUBNET_ID and AVD_VM_SIZE to check the subnet and the vCPU quota before it adds hosts; nothing was changed.", [
            "The ImageRollout component sets both from sessionHosts.subnetId and sessionHosts.vmSize; set them when running tools/rollout.ts by hand.",
        ]);
    }
    const findings = await readFindings(arm, request.subnet, request.vmSize, request.location);
    const failure = judge(request, findings);
    if (failure) throw failure;
    const v = request.surgeInstances * findings.vCPUsPerInstance;
    const fits = Math.min(findings.subnet.free, Math.floor(findings.family.free / findings.vCPUsPerInstance), Math.floor(findings.regional.free / findings.vCPUsPerInstance));
    return {
        findings,
        fits,
        summary:
            `preflight: room for ${request.surgeInstances} new host(s) of ${findings.vmSize}: ${findings.subnet.free} free address(es) in the subnet, ` +
            `${findings.family.free} free ${findings.family.displayName} and ${findings.regional.free} free ${findings.regional.displayName} (the surge needs ${v})`,
    };
}
