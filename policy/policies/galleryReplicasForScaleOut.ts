import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { galleryDistributions, type TargetRegion } from "../lib/aib";
import { capacity, classifyImage, galleryDefinitionKey, imageReference, normaliseRegion, ROLLING_DEFAULTS, rollingUpgradePolicy } from "../lib/compute";
import { readConfig } from "../lib/config";
import { GALLERY_IMAGE_VERSION, IMAGE_TEMPLATE, VMSS } from "../lib/types";
import { asArray, asNumber, asString, getPath } from "../lib/values";

interface Config {
    deploymentsPerReplica: number;
}

const DEFAULTS: Config = { deploymentsPerReplica: 20 };

interface ReplicaSource {
    resource: PolicyResource;
    what: string;
    regions: TargetRegion[];
}

function replicaSources(resources: PolicyResource[]): Map<string, ReplicaSource[]> {
    const byDefinition = new Map<string, ReplicaSource[]>();
    const add = (key: string | undefined, source: ReplicaSource) => {
        if (key) byDefinition.set(key, [...(byDefinition.get(key) ?? []), source]);
    };
    for (const r of resources) {
        if (r.type === IMAGE_TEMPLATE) {
            for (const d of galleryDistributions(r.props)) {
                add(galleryDefinitionKey(d.galleryImageId), { resource: r, what: `distribute[${d.index}].targetRegions`, regions: d.targetRegions });
            }
        } else if (r.type === GALLERY_IMAGE_VERSION) {
            const gallery = asString(r.props.galleryName);
            const image = asString(r.props.galleryImageName);
            const profile = getPath(r.props, "publishingProfile");
            const defaultCount = asNumber(getPath(profile, "replicaCount")) ?? 1;
            const regions = asArray(getPath(profile, "targetRegions")).flatMap((t) => {
                const name = asString(getPath(t, "name"));
                return name ? [{ name, replicaCount: asNumber(getPath(t, "regionalReplicaCount")) ?? defaultCount }] : [];
            });
            const location = asString(r.props.location);
            add(gallery && image ? `${gallery}/${image}`.toLowerCase() : undefined, {
                resource: r,
                what: "publishingProfile",
                regions: regions.length > 0 ? regions : location ? [{ name: location, replicaCount: defaultCount }] : [],
            });
        }
    }
    return byDefinition;
}

/** What the scale sets deploying one image definition into one region deploy at once. */
interface Demand {
    key: string;
    location?: string;
    concurrent: number;
    pools: Array<{ vmss: PolicyResource; concurrent: number }>;
}

/**
 * Batches summed per image definition and region: the pools of a fleet that run one image move
 * in the same `pulumi up` (their rollouts are independent resources, which the engine runs side by
 * side, and Rolling pools start Azure's upgrade as soon as their model changes), so their batches
 * hit the same replicas together.
 */
function demandByDefinitionAndRegion(resources: PolicyResource[], sources: Map<string, ReplicaSource[]>): Demand[] {
    const demand = new Map<string, Demand>();
    for (const vmss of resources.filter((r) => r.type === VMSS)) {
        const key = classifyImage(imageReference(VMSS, vmss.props)).definitionKey;
        if (!key || !sources.has(key)) continue;
        const percent = asNumber(rollingUpgradePolicy(vmss.props)?.maxBatchInstancePercent) ?? ROLLING_DEFAULTS.maxBatchInstancePercent;
        const concurrent = Math.ceil(((capacity(vmss.props) ?? 0) * percent) / 100);
        const location = asString(vmss.props.location);
        const at = `${key}@${location ? normaliseRegion(location) : ""}`;
        const d = demand.get(at) ?? { key, location, concurrent: 0, pools: [] };
        d.concurrent += concurrent;
        d.pools.push({ vmss, concurrent });
        demand.set(at, d);
    }
    return [...demand.values()];
}

function replicasFor(source: ReplicaSource, location: string | undefined): number {
    const here = location ? source.regions.find((r) => normaliseRegion(r.name) === normaliseRegion(location)) : undefined;
    if (here) return here.replicaCount;
    return source.regions.length > 0 ? Math.min(...source.regions.map((r) => r.replicaCount)) : 1;
}

export const galleryReplicasForScaleOut: StackValidationPolicy = {
    name: "gallery-replicas-for-scale-out",
    description:
        "Gallery image versions have enough replicas for the scale sets that deploy from them: Azure guidance is about " +
        "one replica per 20 concurrent VM deployments, and a rolling batch deploys capacity x maxBatchInstancePercent " +
        "hosts at once, and the pools of a fleet that run one image in one region roll in the same update, so " +
        "their batches add up. Too few replicas throttle deployments and slow rollouts and scale-out (seed: 'increase the number " +
        "of replicas as needed to support more concurrent clone/VM creation operations').",
    enforcementLevel: "advisory",
    remediationSteps: "Raise image.distribution.replicaCount (targetRegions[].replicaCount) for the scale set's region.",
    configSchema: {
        properties: {
            deploymentsPerReplica: {
                type: "integer",
                minimum: 1,
                maximum: 1000,
                default: DEFAULTS.deploymentsPerReplica,
                description: "Concurrent VM deployments one replica serves.",
            },
        },
    },
    validateStack: (args, reportViolation) => {
        const sources = replicaSources(args.resources);
        if (sources.size === 0) return;
        const { deploymentsPerReplica } = readConfig(args, DEFAULTS);
        for (const d of demandByDefinitionAndRegion(args.resources, sources)) {
            for (const source of sources.get(d.key) ?? []) {
                const replicas = replicasFor(source, d.location);
                if (replicas * deploymentsPerReplica < d.concurrent) {
                    const who =
                        d.pools.length === 1
                            ? `scale set "${d.pools[0].vmss.name}" deploys ${d.concurrent} hosts per batch`
                            : `scale sets ${d.pools.map((p) => `"${p.vmss.name}" (${p.concurrent})`).join(", ")} deploy ${d.concurrent} hosts per batch together`;
                    reportViolation(
                        `"${source.resource.name}" ${source.what} gives image "${d.key}" ${replicas} replica(s)${d.location ? ` in ${d.location}` : ""}, ` +
                            `serving about ${replicas * deploymentsPerReplica} concurrent deployments, but ${who}; ` +
                            `use at least ${Math.ceil(d.concurrent / deploymentsPerReplica)}.`,
                        source.resource.urn,
                    );
                }
            }
        }
    },
};
