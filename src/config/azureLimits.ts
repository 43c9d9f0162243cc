// Azure's limits that the vendored REST specs do not encode: tags, names the program composes from
// the stack name, and the inner segments of resource IDs. Each check returns the problem in words
// (for "<file>: <key> <problem>") or undefined.
import { ROLLOUT_DRAINED_TAG, ROLLOUT_LOCK_TAG } from "../rollout/markerTags";
import { sessionHostResourceNames } from "../sessionHosts/naming";
import { controlCharacterProblem } from "../tools/environment";

// Azure Resource Manager, "Use tags to organize your Azure resources", Limitations: at most 50 tag
// name-value pairs per resource, names up to 512 and values up to 256 characters, names without
// < > % & \ ? /, the prefixes microsoft, azure and windows reserved, names case-insensitive.
export const TAG_LIMITS = { maxTags: 50, maxNameLength: 512, maxValueLength: 256 } as const;
const TAG_NAME_FORBIDDEN = /[<>%&\\?/]/;
const RESERVED_TAG_PREFIXES = ["microsoft", "azure", "windows"] as const;

/**
 * The release-notes summary the build trigger merges onto each published version after the build
 * (src/lifecycle/releaseNotes.ts summaryTags, tools/build/releaseNotes.ts).
 */
export const RELEASE_NOTES_TAGS = ["BaseImageVersion", "OsBuild", "Hotfixes", "Packages", "Steps"] as const;

/** Tags the program sets itself (src/sessionHosts/naming.ts, src/aib/template.ts, src/aib/distribution.ts, the release notes). */
export const PROGRAM_TAGS = ["Ring", "ImageVersion", "ContentHash", "BaseImage", "Applications", ...RELEASE_NOTES_TAGS] as const;

/**
 * Tags the drain-aware rollout may add to the scale set while it runs (its lock and its progress
 * marker): their slots are kept free so the rollout's own tag write never breaks Azure's limit.
 */
export const ROLLOUT_SCALE_SET_TAGS = [ROLLOUT_LOCK_TAG, ROLLOUT_DRAINED_TAG] as const;

/** How many tags the program adds to each kind of resource, beside the configured ones. */
export const PROGRAM_TAG_COUNT = {
    /** Resource group, host pool, application group, workspace: `Ring`. */
    sessionHostResource: 1,
    /** Scale set: `Ring` plus the rollout's two. */
    scaleSet: 1 + ROLLOUT_SCALE_SET_TAGS.length,
    /** Image template: ring tags and image tags, plus `ImageVersion`, `ContentHash`. */
    imageTemplate: 2,
    /** Published image version: image tags plus `ImageVersion`, `BaseImage`, `Applications`, `ContentHash`, and the release-notes summary. */
    imageVersion: 4 + RELEASE_NOTES_TAGS.length,
} as const;

export function tagNameProblem(name: string): string | undefined {
    if (name.trim() === "") return "is an empty tag name";
    const control = controlCharacterProblem(name);
    if (control) return `is a tag name that ${control}`;
    if (name.length > TAG_LIMITS.maxNameLength) return `is a tag name of ${name.length} characters; Azure allows at most ${TAG_LIMITS.maxNameLength}`;
    const bad = TAG_NAME_FORBIDDEN.exec(name);
    if (bad) return `is a tag name with "${bad[0]}", which Azure does not allow in tag names (< > % & \\ ? /)`;
    const prefix = RESERVED_TAG_PREFIXES.find((p) => name.toLowerCase().startsWith(p));
    if (prefix) return `is a tag name starting with "${prefix}", a prefix Azure reserves for its own tag names; choose another (e.g. "PatchLevel" rather than "WindowsUpdates")`;
    const program = [...PROGRAM_TAGS, ...ROLLOUT_SCALE_SET_TAGS].find((t) => t.toLowerCase() === name.toLowerCase());
    if (program) return `is the tag "${program}" the program sets itself${program === name ? "" : " (Azure treats tag names case-insensitively)"}; choose another name`;
    return undefined;
}

export function tagValueProblem(value: string): string | undefined {
    return value.length > TAG_LIMITS.maxValueLength ? `is a tag value of ${value.length} characters; Azure allows at most ${TAG_LIMITS.maxValueLength}` : undefined;
}

/** Two names of one tag map that Azure would read as the same tag. */
export function caseClash(names: readonly string[]): [string, string] | undefined {
    const seen = new Map<string, string>();
    for (const n of names) {
        const other = seen.get(n.toLowerCase());
        if (other !== undefined && other !== n) return [other, n];
        seen.set(n.toLowerCase(), n);
    }
    return undefined;
}

export interface ComposedName {
    /** What it names, in words. */
    what: string;
    name: string;
    maxLength: number;
    pattern: RegExp;
    rule: string;
}

// Naming rules and restrictions for Azure resources (Microsoft.DesktopVirtualization: 3-64,
// alphanumerics, '@', '.', '-', '_', ' ' as in the REST spec's path pattern; Microsoft.Compute
// virtualMachineScaleSets: 1-64 with a computer-name prefix set, alphanumerics, '_', '.', '-',
// start alphanumeric, end alphanumeric or '_'; network interfaces 1-80, same characters).
const AVD_NAME = /^[A-Za-z0-9@._ -]{3,64}$/;
const SCALE_SET_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?$/;
const NIC_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$/;

/** The session-host names the program composes from the stack name, with Azure's rule for each. */
export function composedNames(stack: string, pool?: string): ComposedName[] {
    const n = sessionHostResourceNames(stack, pool);
    return [
        { what: "host pool", name: n.hostPool, maxLength: 64, pattern: AVD_NAME, rule: "3-64 letters, digits, '@', '.', '-', '_' or spaces" },
        { what: "application group", name: n.applicationGroup, maxLength: 64, pattern: AVD_NAME, rule: "3-64 letters, digits, '@', '.', '-', '_' or spaces" },
        { what: "workspace", name: n.workspace, maxLength: 64, pattern: AVD_NAME, rule: "3-64 letters, digits, '@', '.', '-', '_' or spaces" },
        { what: "scale set", name: n.scaleSet, maxLength: 64, pattern: SCALE_SET_NAME, rule: "1-64 letters, digits, '_', '.' or '-', ending in a letter, digit or '_'" },
        { what: "network interface", name: n.networkInterface, maxLength: 80, pattern: NIC_NAME, rule: "1-80 letters, digits, '_', '.' or '-', ending in a letter, digit or '_'" },
    ];
}

/** The first composed name Azure would refuse, in words naming the stack file; undefined when all fit. */
export function stackNameProblem(stack: string): string | undefined {
    for (const c of composedNames(stack)) {
        if (c.name.length > c.maxLength) {
            const room = c.maxLength - (c.name.length - stack.length);
            return `the stack name "${stack}" (taken from this file's name) makes the ${c.what} name "${c.name}" ${c.name.length} characters long; Azure allows at most ${c.maxLength}, so the stack name can have at most ${room} characters`;
        }
        if (!c.pattern.test(c.name)) {
            return `the stack name "${stack}" (taken from this file's name) makes the ${c.what} name "${c.name}", which Azure refuses: it must be ${c.rule}`;
        }
    }
    return undefined;
}

/** The first pool-scoped name Azure would refuse for pool `pool` of ring `stack`; undefined when all fit. */
export function poolNameProblem(stack: string, pool: string): string | undefined {
    for (const c of composedNames(stack, pool)) {
        if (c.name.length > c.maxLength) {
            const room = c.maxLength - (c.name.length - pool.length);
            return `makes the ${c.what} name "${c.name}" ${c.name.length} characters long; Azure allows at most ${c.maxLength}, so in ring "${stack}" a pool name can have at most ${room} characters`;
        }
        if (!c.pattern.test(c.name)) return `makes the ${c.what} name "${c.name}", which Azure refuses: it must be ${c.rule}`;
    }
    return undefined;
}

// Naming rules: resource groups 1-90 of letters, digits, '_', '-', '.', '(' and ')', not ending in
// '.'; virtual networks 2-64 and subnets 1-80 of letters, digits, '_', '.', '-', starting with a
// letter or digit and ending with a letter, digit or '_'. Subscription IDs are GUIDs.
export const RESOURCE_GROUP_NAME = /^[-\w.()]{0,89}[-\w()]$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const VNET_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}[A-Za-z0-9_]$/;
const SUBNET_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$/;
const SUBNET_ID = /^\/subscriptions\/([^/]*)\/resourceGroups\/([^/]*)\/providers\/Microsoft\.Network\/virtualNetworks\/([^/]*)\/subnets\/([^/]*)$/i;

export function subnetIdProblem(id: string): string | undefined {
    const m = SUBNET_ID.exec(id);
    const shape = "must be a subnet resource ID (/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>)";
    if (!m) return `${shape}, got ${JSON.stringify(id)}`;
    const [, subscription, group, vnet, subnet] = m;
    if (!GUID.test(subscription)) return `${shape}: the subscription segment ${JSON.stringify(subscription)} is not a subscription ID (a GUID)`;
    if (!RESOURCE_GROUP_NAME.test(group)) return `${shape}: the resource-group segment ${JSON.stringify(group)} is not a valid resource group name`;
    if (!VNET_NAME.test(vnet)) return `${shape}: the virtual-network segment ${JSON.stringify(vnet)} is not a valid virtual network name (2-64 letters, digits, '_', '.', '-')`;
    if (!SUBNET_NAME.test(subnet)) return `${shape}: the subnet segment ${JSON.stringify(subnet)} is not a valid subnet name (1-80 letters, digits, '_', '.', '-')`;
    return undefined;
}
