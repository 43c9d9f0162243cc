// ARM resource ids: `/subscriptions/{s}/resourceGroups/{rg}/providers/{Namespace}/{type}/{name}[/{type}/{name}...]`.
// Segment names are matched case-insensitively, as ARM does.

export interface ResourceId {
    /** The id as given, without a trailing slash. */
    id: string;
    subscriptionId: string;
    resourceGroupName?: string;
    /** Provider namespace, e.g. `Microsoft.Compute`; undefined for subscription and resource-group ids. */
    provider?: string;
    /** Type/name pairs below the provider, outermost first: galleries/g, images/def, versions/1.0.0. */
    types: Array<{ type: string; name: string }>;
    /** Full type, e.g. `Microsoft.Compute/galleries/images/versions`. */
    resourceType?: string;
    /** Name of the innermost resource (or the resource group / subscription). */
    name: string;
}

export class ResourceIdError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ResourceIdError";
    }
}

export function parseResourceId(id: string): ResourceId {
    const trimmed = id.trim().replace(/\/+$/, "");
    const parts = trimmed.split("/");
    if (parts[0] !== "" || parts.length < 3 || parts[1].toLowerCase() !== "subscriptions" || !parts[2]) {
        throw new ResourceIdError(`"${id}" is not an ARM resource id (expected /subscriptions/<id>/resourceGroups/<name>/providers/...)`);
    }
    const result: ResourceId = { id: trimmed, subscriptionId: parts[2], types: [], name: parts[2] };
    let i = 3;
    if (i < parts.length) {
        if (parts[i].toLowerCase() !== "resourcegroups" || !parts[i + 1]) {
            throw new ResourceIdError(`"${id}" is not an ARM resource id: expected "resourceGroups/<name>" after the subscription`);
        }
        result.resourceGroupName = parts[i + 1];
        result.name = parts[i + 1];
        i += 2;
    }
    if (i < parts.length) {
        if (parts[i].toLowerCase() !== "providers" || !parts[i + 1]) {
            throw new ResourceIdError(`"${id}" is not an ARM resource id: expected "providers/<Namespace>" after the resource group`);
        }
        result.provider = parts[i + 1];
        i += 2;
        const rest = parts.slice(i);
        if (rest.length === 0 || rest.length % 2 !== 0 || rest.some((p) => p === "")) {
            throw new ResourceIdError(`"${id}" is not an ARM resource id: the part after "providers/${result.provider}" must be type/name pairs`);
        }
        for (let j = 0; j < rest.length; j += 2) result.types.push({ type: rest[j], name: rest[j + 1] });
        result.resourceType = [result.provider, ...result.types.map((t) => t.type)].join("/");
        result.name = result.types[result.types.length - 1].name;
    }
    return result;
}

/** True when `id` is a resource of `resourceType` (case-insensitive, e.g. `Microsoft.Compute/galleries/images/versions`). */
export function isResourceType(id: ResourceId, resourceType: string): boolean {
    return id.resourceType?.toLowerCase() === resourceType.toLowerCase();
}

/** Parses an id and checks its type, naming `what` in the error. */
export function parseTypedResourceId(id: string, resourceType: string, what: string): ResourceId {
    let parsed: ResourceId;
    try {
        parsed = parseResourceId(id);
    } catch (e) {
        throw new ResourceIdError(`${what}: ${(e as Error).message}`);
    }
    if (!parsed.resourceGroupName || !isResourceType(parsed, resourceType)) {
        throw new ResourceIdError(`${what}: "${id}" is not a ${resourceType} resource id`);
    }
    return parsed;
}

/** The id of the resource group that holds `id`. */
export function resourceGroupId(id: ResourceId): string {
    if (!id.resourceGroupName) throw new ResourceIdError(`"${id.id}" is not inside a resource group`);
    return `/subscriptions/${id.subscriptionId}/resourceGroups/${id.resourceGroupName}`;
}

/** The id of the parent resource (`.../images/def` for `.../images/def/versions/1.0.0`). */
export function parentId(id: ResourceId): string {
    if (id.types.length === 0) throw new ResourceIdError(`"${id.id}" has no parent resource below its resource group`);
    return id.id.split("/").slice(0, -2).join("/");
}

/** ARM ids compare case-insensitively and without a trailing slash. */
export function normalizeResourceId(id: string): string {
    return id.replace(/\/+$/, "").toLowerCase();
}

export function sameResourceId(a: string, b: string): boolean {
    return normalizeResourceId(a) === normalizeResourceId(b);
}
