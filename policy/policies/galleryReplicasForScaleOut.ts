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

interface Demand {
    vmss: PolicyResource;
    concurrent: number;
    location?: string;
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
        "hosts at once. Too few replicas throttle deployments and slow rollouts and scale-out (seed: 'increase the number " +
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
        const demand = new Map<string, Demand>();
        for (const vmss of args.resources.filter((r) => r.type === VMSS)) {
            const key = classifyImage(imageReference(VMSS, vmss.props)).definitionKey;
            if (!key || !sources.has(key)) continue;
            const percent = asNumber(rollingUpgradePolicy(vmss.props)?.maxBatchInstancePercent) ?? ROLLING_DEFAULTS.maxBatchInstancePercent;
            const concurrent = Math.ceil(((capacity(vmss.props) ?? 0) * percent) / 100);
            const current = demand.get(key);
            if (!current || concurrent > current.concurrent) demand.set(key, { vmss, concurrent, location: asString(vmss.props.location) });
        }
        for (const [key, d] of demand) {
            for (const source of sources.get(key) ?? []) {
                const replicas = replicasFor(source, d.location);
                if (replicas * deploymentsPerReplica < d.concurrent) {
                    reportViolation(
                        `"${source.resource.name}" ${source.what} gives image "${key}" ${replicas} replica(s)${d.location ? ` in ${d.location}` : ""}, ` +
                            `serving about ${replicas * deploymentsPerReplica} concurrent deployments, but scale set "${d.vmss.name}" ` +
                            `deploys ${d.concurrent} hosts per batch; use at least ${Math.ceil(d.concurrent / deploymentsPerReplica)}.`,
                        source.resource.urn,
                    );
                }
            }
        }
    },
};
