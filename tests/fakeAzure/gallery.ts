// Microsoft.Compute gallery image versions (api-version 2024-03-03): GET (with
// $expand=ReplicationStatus), LIST by image definition (nextLink), DELETE (LRO with
// Azure-AsyncOperation + Location on capsOperations, as the example shows; refused with 409 while
// safetyProfile.blockDeletionBeforeEndOfLife holds and endOfLifeDate has not passed). Bodies start
// from GalleryImageVersion_Get_WithReplicationStatus.json.
import { parseResourceId, parentId } from "../../tools/azure/ids";
import { exampleBody, type FakeAzure, type FakeRequest, type FakeResponse, type ResourceProviderModule } from "./server";

export const GALLERY_API_VERSION = "2024-03-03";
/** Microsoft.Resources Tags at scope (Tags_UpdateAtScope): the build trigger merges the release-notes summary with it. */
export const TAGS_API_VERSION = "2021-04-01";
/** The api-version on Compute's capsOperations status URLs in the Delete example. */
const CAPS_OPERATION_API_VERSION = "2022-01-03";

export type GalleryProvisioningState = "Creating" | "Updating" | "Failed" | "Succeeded" | "Deleting" | "Migrating";
export type ReplicationState = "Unknown" | "Replicating" | "Completed" | "Failed";

export interface RegionReplication {
    /** Programmatic region name, e.g. "westeurope". */
    region: string;
    state: ReplicationState;
    progress: number;
    details?: string;
}

export interface GalleryImageVersionSeed {
    /** `/subscriptions/../resourceGroups/../providers/Microsoft.Compute/galleries/{g}/images/{def}/versions/{X.Y.Z}` */
    id: string;
    location?: string;
    provisioningState?: GalleryProvisioningState;
    tags?: Record<string, string>;
    /** Target regions (programmatic names); the first is the version's home region. */
    regions?: string[];
    replicaCount?: number;
    storageAccountType?: string;
    excludeFromLatest?: boolean;
    /** Per-region replication; defaults to Completed/100 for Succeeded, Failed for Failed versions. */
    replication?: RegionReplication[];
    /** Source the version was captured from. */
    sourceId?: string;
    /** publishingProfile.endOfLifeDate (ISO 8601). */
    endOfLifeDate?: string;
    /** safetyProfile.blockDeletionBeforeEndOfLife (api-version 2024-03-03): DELETE is refused until endOfLifeDate. */
    blockDeletionBeforeEndOfLife?: boolean;
    /** safetyProfile.allowDeletionOfReplicatedLocations (governs removing target regions, not deleting the version). */
    allowDeletionOfReplicatedLocations?: boolean;
}

interface VersionState {
    id: string;
    location: string;
    provisioningState: GalleryProvisioningState;
    tags: Record<string, string>;
    regions: string[];
    replicaCount: number;
    storageAccountType: string;
    excludeFromLatest: boolean;
    replication: RegionReplication[];
    sourceId: string;
    publishedDate: string;
    endOfLifeDate?: string;
    blockDeletionBeforeEndOfLife: boolean;
    allowDeletionOfReplicatedLocations: boolean;
}

const DISPLAY_NAMES: Record<string, string> = {
    westeurope: "West Europe",
    northeurope: "North Europe",
    eastus: "East US",
    eastus2: "East US 2",
    westus: "West US",
    westus2: "West US 2",
    uksouth: "UK South",
    swedencentral: "Sweden Central",
    germanywestcentral: "Germany West Central",
    francecentral: "France Central",
};

/** ARM answers target-region names in display form ("West Europe"). */
export function regionDisplayName(region: string): string {
    return DISPLAY_NAMES[region.toLowerCase()] ?? region;
}

export class GalleryModule implements ResourceProviderModule {
    private fake?: FakeAzure;
    private readonly definitions = new Set<string>();
    private readonly versions = new Map<string, VersionState>();
    /** Polls a DELETE's operation takes. */
    deletePolls = 2;
    /** Versions (by name) whose next DELETE operation ends Failed, the version left Failed, as a broken delete leaves it. */
    readonly failingDeletes = new Set<string>();
    /** Versions (by name) whose DELETE operation never finishes. */
    readonly hangingDeletes = new Set<string>();

    install(fake: FakeAzure): void {
        this.fake = fake;
        const definition = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/galleries/{galleryName}/images/{galleryImageName}";
        const version = `${definition}/versions/{galleryImageVersionName}`;
        fake.route({ method: "GET", pattern: `${definition}/versions`, apiVersion: GALLERY_API_VERSION, handler: (req) => this.list(req) });
        fake.route({ method: "GET", pattern: version, apiVersion: GALLERY_API_VERSION, handler: (req) => this.get(req) });
        fake.route({ method: "DELETE", pattern: version, apiVersion: GALLERY_API_VERSION, handler: (req) => this.delete(req) });
        fake.route({ method: "PATCH", pattern: `${version}/providers/Microsoft.Resources/tags/default`, apiVersion: TAGS_API_VERSION, handler: (req) => this.patchTags(req) });
    }

    addImageDefinition(id: string): void {
        this.definitions.add(id.toLowerCase());
    }

    /** Seeds a version (and its image definition). */
    addVersion(seed: GalleryImageVersionSeed): void {
        const parsed = parseResourceId(seed.id);
        this.addImageDefinition(parentId(parsed));
        const state = seed.provisioningState ?? "Succeeded";
        const regions = seed.regions ?? [seed.location ?? "westeurope"];
        const location = seed.location ?? regions[0];
        const replication =
            seed.replication ??
            regions.map((region): RegionReplication => (state === "Failed" ? { region, state: "Failed", progress: 0, details: "Replication failed: the operation was aborted" } : state === "Succeeded" ? { region, state: "Completed", progress: 100 } : { region, state: "Replicating", progress: 0 }));
        this.versions.set(seed.id.toLowerCase(), {
            id: canonicalVersionId(seed.id),
            location,
            provisioningState: state,
            tags: { ...seed.tags },
            regions,
            replicaCount: seed.replicaCount ?? 1,
            storageAccountType: seed.storageAccountType ?? "Standard_LRS",
            excludeFromLatest: seed.excludeFromLatest ?? false,
            replication,
            sourceId: seed.sourceId ?? `/subscriptions/${parsed.subscriptionId}/resourceGroups/${parsed.resourceGroupName}/providers/Microsoft.Compute/images/source-image`,
            publishedDate: this.fake ? this.fake.isoNow() : new Date().toISOString(),
            endOfLifeDate: seed.endOfLifeDate,
            blockDeletionBeforeEndOfLife: seed.blockDeletionBeforeEndOfLife ?? false,
            allowDeletionOfReplicatedLocations: seed.allowDeletionOfReplicatedLocations ?? false,
        });
    }

    /** Current state of a version, or undefined. */
    version(id: string): Readonly<VersionState> | undefined {
        return this.versions.get(id.toLowerCase());
    }

    /** Changes a version's state (used by the Image Builder module while it distributes). */
    update(id: string, change: Partial<Pick<VersionState, "provisioningState" | "replication" | "tags">>): void {
        const v = this.versions.get(id.toLowerCase());
        if (!v) throw new Error(`no gallery image version ${id}`);
        Object.assign(v, change);
    }

    remove(id: string): void {
        this.versions.delete(id.toLowerCase());
    }

    private get fakeAzure(): FakeAzure {
        if (!this.fake) throw new Error("GalleryModule is not installed");
        return this.fake;
    }

    private body(v: VersionState, withReplication: boolean): Record<string, unknown> {
        const body = exampleBody("compute-gallery/2024-03-03/GalleryImageVersion_Get_WithReplicationStatus.json", "200", parseResourceId(v.id).subscriptionId);
        const props = body.properties as Record<string, unknown>;
        const publishing = props.publishingProfile as Record<string, unknown>;
        const targetTemplate = (publishing.targetRegions as Array<Record<string, unknown>>)[1];
        publishing.targetRegions = v.regions.map((region) => ({
            ...targetTemplate,
            name: regionDisplayName(region),
            regionalReplicaCount: v.replicaCount,
            storageAccountType: v.storageAccountType,
            excludeFromLatest: v.excludeFromLatest,
        }));
        publishing.replicaCount = v.replicaCount;
        publishing.storageAccountType = v.storageAccountType;
        publishing.excludeFromLatest = v.excludeFromLatest;
        publishing.publishedDate = v.publishedDate;
        if (v.endOfLifeDate) publishing.endOfLifeDate = v.endOfLifeDate;
        else delete publishing.endOfLifeDate;
        const storage = props.storageProfile as Record<string, unknown>;
        storage.source = { id: v.sourceId };
        delete storage.dataDiskImages;
        props.safetyProfile = {
            allowDeletionOfReplicatedLocations: v.allowDeletionOfReplicatedLocations,
            reportedForPolicyViolation: false,
            policyViolations: [],
            blockDeletionBeforeEndOfLife: v.blockDeletionBeforeEndOfLife,
        };
        props.provisioningState = v.provisioningState;
        if (withReplication) {
            const failed = v.replication.some((r) => r.state === "Failed");
            const done = v.replication.every((r) => r.state === "Completed");
            props.replicationStatus = {
                aggregatedState: failed ? "Failed" : done ? "Completed" : "InProgress",
                summary: v.replication.map((r) => ({ region: regionDisplayName(r.region), state: r.state, details: r.details ?? "", progress: r.progress })),
            };
        } else {
            delete props.replicationStatus;
        }
        const parsed = parseResourceId(v.id);
        return { ...body, id: v.id, name: parsed.name, type: "Microsoft.Compute/galleries/images/versions", location: v.location, tags: { ...v.tags } };
    }

    private get(req: FakeRequest): FakeResponse {
        const v = this.versions.get(req.path.toLowerCase());
        if (!v) return this.fakeAzure.notFound("Microsoft.Compute/galleries/images/versions", `${req.params.galleryName}/${req.params.galleryImageName}/${req.params.galleryImageVersionName}`, req.params.resourceGroupName);
        const expand = (req.query.get("$expand") ?? "").toLowerCase();
        return { status: 200, body: this.body(v, expand === "replicationstatus") };
    }

    private list(req: FakeRequest): FakeResponse {
        const definition = req.path.replace(/\/versions$/i, "").toLowerCase();
        if (!this.definitions.has(definition)) {
            return this.fakeAzure.notFound("Microsoft.Compute/galleries/images", `${req.params.galleryName}/${req.params.galleryImageName}`, req.params.resourceGroupName);
        }
        const items = [...this.versions.entries()].filter(([key]) => key.startsWith(`${definition}/versions/`)).map(([, v]) => this.body(v, false));
        return this.fakeAzure.page(req, items);
    }

    /**
     * Tags_UpdateAtScope (resources 2021-04-01): `{operation: Merge|Replace|Delete, properties: {tags}}`,
     * answered synchronously with the TagsResource `{id, name: "default", type, properties: {tags}}`.
     * Azure refuses more than 50 tags or a value over 256 characters (its error code for that is not
     * in the spec or the examples; the fake answers 400 InvalidTag).
     */
    private patchTags(req: FakeRequest): FakeResponse {
        const fake = this.fakeAzure;
        const scope = req.path.replace(/\/providers\/Microsoft\.Resources\/tags\/default$/i, "");
        const v = this.versions.get(scope.toLowerCase());
        if (!v) return fake.notFound("Microsoft.Compute/galleries/images/versions", `${req.params.galleryName}/${req.params.galleryImageName}/${req.params.galleryImageVersionName}`, req.params.resourceGroupName);
        const body = (typeof req.body === "object" && req.body !== null ? req.body : {}) as { operation?: unknown; properties?: { tags?: unknown } };
        const tags = body.properties?.tags;
        if (!["Merge", "Replace", "Delete"].includes(String(body.operation)) || typeof tags !== "object" || tags === null) {
            return fake.error(400, "InvalidRequestContent", "The request content was invalid: operation must be Merge, Replace or Delete and properties.tags an object.");
        }
        const given = Object.entries(tags as Record<string, unknown>).map(([k, value]) => [k, String(value)] as const);
        const next: Record<string, string> = body.operation === "Replace" ? {} : { ...v.tags };
        for (const [k, value] of given) {
            const existing = Object.keys(next).find((n) => n.toLowerCase() === k.toLowerCase());
            if (existing !== undefined) delete next[existing];
            if (body.operation !== "Delete") next[k] = value;
        }
        const tooLong = Object.entries(next).find(([, value]) => value.length > 256);
        if (Object.keys(next).length > 50 || tooLong) {
            return fake.error(400, "InvalidTag", tooLong ? `The tag value of '${tooLong[0]}' exceeds 256 characters.` : "A resource can have at most 50 tags.");
        }
        v.tags = next;
        return { status: 200, body: { id: `${v.id}/providers/Microsoft.Resources/tags/default`, name: "default", type: "Microsoft.Resources/tags", properties: { tags: { ...next } } } };
    }

    private delete(req: FakeRequest): FakeResponse {
        const key = req.path.toLowerCase();
        const v = this.versions.get(key);
        if (!v) return { status: 204 };
        // The spec says only that deletion "is blocked ... if its End Of Life has not expired"; the
        // code and wording of the refusal are this fake's (a 409 Conflict, as ARM answers a refused change).
        if (v.blockDeletionBeforeEndOfLife && !(v.endOfLifeDate && Date.parse(v.endOfLifeDate) <= this.fakeAzure.clock.now())) {
            return this.fakeAzure.error(
                409,
                "OperationNotAllowed",
                `Gallery image version '${parseResourceId(v.id).name}' cannot be deleted before its end of life date (${v.endOfLifeDate ?? "not set"}) because blockDeletionBeforeEndOfLife is set in its safety profile.`,
            );
        }
        // Azure deletes a version that scale sets or VMs still use (they keep running; scale-out and
        // reimage fail afterwards: azure-docs shared-image-galleries FAQ), so nothing here refuses that.
        v.provisioningState = "Deleting";
        const fake = this.fakeAzure;
        const name = parseResourceId(v.id).name;
        const failing = this.failingDeletes.delete(name);
        const hanging = this.hangingDeletes.has(name);
        const op = fake.startOperation({
            namespace: "Microsoft.Compute",
            location: v.location,
            apiVersion: CAPS_OPERATION_API_VERSION,
            collection: "capsOperations",
            advance: (poll) => {
                if (hanging || poll < this.deletePolls) return undefined;
                if (failing) {
                    v.provisioningState = "Failed";
                    return { status: "Failed", error: { code: "InternalOperationError", message: `Deleting gallery image version '${name}' failed in region ${regionDisplayName(v.location)}.` } };
                }
                this.versions.delete(key);
                return { status: "Succeeded" };
            },
        });
        return fake.accepted(op, { asyncOperation: true, location: true });
    }
}

/** ARM's canonical casing for a version id (ids from users may differ in case). */
function canonicalVersionId(id: string): string {
    const p = parseResourceId(id);
    const [g, img, ver] = p.types;
    return `/subscriptions/${p.subscriptionId}/resourceGroups/${p.resourceGroupName}/providers/Microsoft.Compute/galleries/${g.name}/images/${img.name}/versions/${ver.name}`;
}
