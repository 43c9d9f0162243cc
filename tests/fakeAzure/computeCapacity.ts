// What Microsoft.Compute says about room for more VMs, for the rollout's preflight:
// - Usage_List (ComputeRP 2024-11-01, computeRPCommon.json): `GET /subscriptions/{s}/providers/
//   Microsoft.Compute/locations/{location}/usages`, a paged `{value: [{unit: "Count", currentValue,
//   limit, name: {value, localizedValue}}]}`. The names are Azure's: `cores` ("Total Regional
//   vCPUs"), `virtualMachines`, and one entry per VM family (`standardDSv5Family`, "Standard DSv5
//   Family vCPUs"), counted in vCPUs.
// - ResourceSkus_List (Skus 2021-07-01, skus.json): `GET /subscriptions/{s}/providers/Microsoft.Compute/skus
//   ?$filter=location eq '{location}'`, every SKU of the region (VM sizes and other resource types),
//   each VM size with its `family`, a `vCPUs` capability and `restrictions` (type Location, reasonCode
//   NotAvailableForSubscription when the subscription may not deploy it there).
// Bodies start from the spec's examples. Usage follows the fake scale sets it tracks: every
// instance counts its size's vCPUs against its family and the regional total, as Azure counts
// allocated VMs, so a scale set that grows uses quota.
import type { ComputeModule } from "./compute";
import { exampleBody, type FakeAzure, type FakeRequest, type FakeResponse, type ResourceProviderModule } from "./server";

export const USAGE_API_VERSION = "2024-11-01";
export const RESOURCE_SKUS_API_VERSION = "2021-07-01";

export interface VmSizeSeed {
    name: string;
    /** Quota family, as Usage_List names it ("standardDSv5Family"). */
    family: string;
    /** How the family reads in Usage_List's localizedValue ("Standard DSv5 Family vCPUs"). */
    familyDisplayName?: string;
    vCPUs: number;
    /** Locations where the subscription may not deploy the size (NotAvailableForSubscription). */
    restrictedIn?: string[];
}

/** Sizes the tests and the benchmark use, with Azure's family names and vCPU counts. */
export const VM_SIZES: VmSizeSeed[] = [
    { name: "Standard_D4s_v5", family: "standardDSv5Family", familyDisplayName: "Standard DSv5 Family vCPUs", vCPUs: 4 },
    { name: "Standard_D8s_v5", family: "standardDSv5Family", familyDisplayName: "Standard DSv5 Family vCPUs", vCPUs: 8 },
    { name: "Standard_D4as_v5", family: "standardDASv5Family", familyDisplayName: "Standard DASv5 Family vCPUs", vCPUs: 4 },
    { name: "Standard_E8s_v5", family: "standardESv5Family", familyDisplayName: "Standard ESv5 Family vCPUs", vCPUs: 8 },
];

interface Quota {
    limit: number;
    /** vCPUs in use by VMs outside the tracked scale sets. */
    usedElsewhere: number;
}

export class ComputeCapacityModule implements ResourceProviderModule {
    private readonly sizes = new Map<string, VmSizeSeed>();
    /** location (lower case) -> usage name -> quota. */
    private readonly quotas = new Map<string, Map<string, Quota>>();
    private readonly tracked: Array<{ scaleSetId: string; location: string; vmSize: string }> = [];
    private fake?: FakeAzure;

    constructor(private readonly options: { compute?: ComputeModule; sizes?: VmSizeSeed[] } = {}) {
        for (const s of options.sizes ?? VM_SIZES) this.sizes.set(s.name.toLowerCase(), s);
    }

    install(fake: FakeAzure): void {
        this.fake = fake;
        fake.route({ method: "GET", pattern: "/subscriptions/{subscriptionId}/providers/Microsoft.Compute/locations/{location}/usages", apiVersion: USAGE_API_VERSION, handler: (r) => this.listUsages(r) });
        fake.route({ method: "GET", pattern: "/subscriptions/{subscriptionId}/providers/Microsoft.Compute/skus", apiVersion: RESOURCE_SKUS_API_VERSION, handler: (r) => this.listSkus(r) });
    }

    /** Sets a quota: `usage` is a family name, "cores" (Total Regional vCPUs) or "virtualMachines". */
    setQuota(location: string, usage: string, quota: { limit: number; usedElsewhere?: number }): void {
        const loc = location.toLowerCase();
        const m = this.quotas.get(loc) ?? new Map<string, Quota>();
        m.set(usage, { limit: quota.limit, usedElsewhere: quota.usedElsewhere ?? 0 });
        this.quotas.set(loc, m);
    }

    /** Counts a fake scale set's instances against its location's quotas. */
    trackScaleSet(scaleSetId: string, location: string, vmSize: string): void {
        if (!this.sizes.has(vmSize.toLowerCase())) throw new Error(`the fake knows no VM size ${vmSize}`);
        this.tracked.push({ scaleSetId, location: location.toLowerCase(), vmSize });
    }

    /** What Usage_List would report now for one usage name. */
    usage(location: string, usage: string): { currentValue: number; limit: number } | undefined {
        const q = this.quotas.get(location.toLowerCase())?.get(usage);
        if (!q) return undefined;
        return { currentValue: q.usedElsewhere + this.usedByScaleSets(location.toLowerCase(), usage), limit: q.limit };
    }

    private usedByScaleSets(location: string, usage: string): number {
        let used = 0;
        for (const t of this.tracked.filter((x) => x.location === location)) {
            const size = this.sizes.get(t.vmSize.toLowerCase()) as VmSizeSeed;
            const instances = this.options.compute?.instanceIds(t.scaleSetId).length ?? 0;
            if (usage === "cores" || usage === size.family) used += instances * size.vCPUs;
            else if (usage === "virtualMachines") used += instances;
        }
        return used;
    }

    private displayName(usage: string): string {
        if (usage === "cores") return "Total Regional vCPUs";
        if (usage === "virtualMachines") return "Virtual Machines";
        return [...this.sizes.values()].find((s) => s.family === usage)?.familyDisplayName ?? usage;
    }

    private listUsages(req: FakeRequest): FakeResponse {
        const fake = this.fake as FakeAzure;
        const location = req.params.location.toLowerCase();
        const names = [...(this.quotas.get(location)?.keys() ?? [])];
        const template = (exampleBody("compute/2024-11-01/Usage_List_MaximumSet_Gen.json", "200").value as Array<Record<string, unknown>>)[0];
        return fake.page(req, names, (name) => {
            const u = this.usage(location, name) as { currentValue: number; limit: number };
            return { ...structuredClone(template), unit: "Count", currentValue: u.currentValue, limit: u.limit, name: { value: name, localizedValue: this.displayName(name) } };
        });
    }

    private listSkus(req: FakeRequest): FakeResponse {
        const fake = this.fake as FakeAzure;
        const filter = req.query.get("$filter");
        const m = filter === null ? undefined : /^\s*location\s+eq\s+'([^']+)'\s*$/i.exec(filter);
        if (filter !== null && !m) return fake.error(400, "InvalidFilter", `The filter '${filter}' is not supported: only location is supported.`);
        const location = m ? m[1].toLowerCase() : "westeurope";
        const example = exampleBody("compute-skus/2021-07-01/ListAvailableResourceSkusForARegion.json", "200").value as Array<Record<string, unknown>>;
        const vmTemplate = example[0];
        const items: Array<Record<string, unknown>> = [...this.sizes.values()].map((s) => {
            const restricted = s.restrictedIn?.some((x) => x.toLowerCase() === location) ?? false;
            return {
                ...structuredClone(vmTemplate),
                name: s.name,
                tier: "Standard",
                size: s.name.replace(/^Standard_/, ""),
                family: s.family,
                locations: [location],
                locationInfo: [{ location, zones: ["1", "2", "3"] }],
                capabilities: [
                    { name: "vCPUs", value: String(s.vCPUs) },
                    { name: "vCPUsAvailable", value: String(s.vCPUs) },
                    { name: "HyperVGenerations", value: "V1,V2" },
                ],
                restrictions: restricted
                    ? [{ type: "Location", values: [location], restrictionInfo: { locations: [location] }, reasonCode: "NotAvailableForSubscription" }]
                    : [],
            };
        });
        // The region's list holds other resource types too; a client must pick virtualMachines.
        items.unshift({ resourceType: "availabilitySets", name: "Aligned", locations: [location], capabilities: [{ name: "MaximumPlatformFaultDomainCount", value: "3" }], restrictions: [] });
        return fake.page(req, items);
    }
}
