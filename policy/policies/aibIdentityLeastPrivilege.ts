import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { readConfig } from "../lib/config";
import { known } from "../lib/known";
import { IMAGE_TEMPLATE, ROLE_ASSIGNMENT, ROLE_DEFINITION, USER_ASSIGNED_IDENTITY } from "../lib/types";
import { asArray, asString, getPath } from "../lib/values";

interface Config {
    forbiddenRoleDefinitionIds: string[];
}

const BUILT_IN_NAMES: Record<string, string> = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-47dd-b520-0b8fc8c9e467": "Contributor",
    "18d7d88d-d35e-4fb1-a5c3-7773c2a72d9c": "User Access Administrator",
};

const DEFAULTS: Config = { forbiddenRoleDefinitionIds: Object.keys(BUILT_IN_NAMES) };

/** Actions that let the identity do anything, or grant itself (or anyone) more rights. */
const ESCALATING_ACTIONS = [
    /^\*$/,
    /^\*\/write$/,
    /^microsoft\.authorization\/\*$/,
    /^microsoft\.authorization\/\*\/write$/,
    /^microsoft\.authorization\/roleassignments\/(?:\*|write)$/,
    /^microsoft\.authorization\/roledefinitions\/(?:\*|write)$/,
];

const lower = (s: string | undefined) => s?.toLowerCase();
const lastSegment = (id: string) => id.split("/").filter(Boolean).pop()?.toLowerCase() ?? "";

function dependsOn(resource: PolicyResource, property: string, target: PolicyResource): boolean {
    return (resource.propertyDependencies[property] ?? []).some((d) => d.urn === target.urn);
}

/** Whether ARM id `id` names the user-assigned identity `uai` (by its id, or by resource group and name). */
function namesIdentity(id: string, uai: PolicyResource): boolean {
    const wanted = id.toLowerCase().replace(/\/$/, "");
    const own = lower(known(() => asString(uai.props.id)));
    if (own) return own === wanted;
    const name = lower(known(() => asString(uai.props.resourceName) ?? asString(uai.props.name)));
    if (!name) return false;
    const rg = lower(known(() => asString(uai.props.resourceGroupName)));
    const suffix = `${rg ? `/resourcegroups/${rg}` : ""}/providers/microsoft.managedidentity/userassignedidentities/${name}`;
    return wanted.endsWith(suffix);
}

/** User-assigned identities an image template runs as. */
function templateIdentities(resources: PolicyResource[]): PolicyResource[] {
    const identities = resources.filter((r) => r.type === USER_ASSIGNED_IDENTITY);
    const result = new Set<PolicyResource>();
    for (const template of resources.filter((r) => r.type === IMAGE_TEMPLATE)) {
        const ids = known(() => asArray(getPath(template.props, "identity", "userAssignedIdentities")).map(asString)) ?? [];
        for (const uai of identities) {
            if (dependsOn(template, "identity", uai) || ids.some((id) => id !== undefined && namesIdentity(id, uai))) result.add(uai);
        }
    }
    return [...result];
}

function assignedTo(assignment: PolicyResource, identities: PolicyResource[]): PolicyResource | undefined {
    const principalId = lower(known(() => asString(assignment.props.principalId)));
    return identities.find(
        (uai) => dependsOn(assignment, "principalId", uai) || (principalId !== undefined && principalId === lower(known(() => asString(uai.props.principalId)))),
    );
}

function customRoles(assignment: PolicyResource, roleDefinitionId: string, resources: PolicyResource[]): PolicyResource[] {
    const guid = lastSegment(roleDefinitionId);
    return resources.filter(
        (r) =>
            r.type === ROLE_DEFINITION &&
            (dependsOn(assignment, "roleDefinitionId", r) ||
                lower(known(() => asString(r.props.roleDefinitionId))) === guid ||
                lower(known(() => asString(r.props.id))) === roleDefinitionId.toLowerCase()),
    );
}

function escalatingActions(roleDefinition: PolicyResource): string[] {
    return asArray(roleDefinition.props.permissions).flatMap((p) =>
        asArray(getPath(p, "actions"))
            .filter((a): a is string => typeof a === "string")
            .filter((a) => ESCALATING_ACTIONS.some((re) => re.test(a.toLowerCase()))),
    );
}

export const aibIdentityLeastPrivilege: StackValidationPolicy = {
    name: "aib-identity-least-privilege",
    description:
        "The managed identity an Image Builder template runs as is not assigned Owner, Contributor or User Access " +
        "Administrator, nor a custom role with '*' actions or Microsoft.Authorization write rights. The identity runs " +
        "every build and its scripts; it needs only to read the source, write image versions to the gallery and manage " +
        "its staging resource group. The seed's 'Contributor on the resource group' lets any build script change or " +
        "delete everything in that group, and Authorization writes let it grant itself more.",
    enforcementLevel: "mandatory",
    remediationSteps:
        "Assign the template identity a custom role limited to Microsoft.Compute/galleries/images/versions/* (read/write), " +
        "Microsoft.Compute/images/* and Microsoft.VirtualMachineImages/imageTemplates/run/action on the resources it builds.",
    configSchema: {
        properties: {
            forbiddenRoleDefinitionIds: {
                type: "array",
                items: { type: "string", pattern: "^[0-9a-fA-F-]{36}$" },
                default: DEFAULTS.forbiddenRoleDefinitionIds,
                description: "Role definition GUIDs an Image Builder identity must not hold.",
            },
        },
    },
    validateStack: (args, reportViolation) => {
        const identities = templateIdentities(args.resources);
        if (identities.length === 0) return;
        const forbidden = new Set(readConfig(args, DEFAULTS).forbiddenRoleDefinitionIds.map((g) => g.toLowerCase()));
        for (const assignment of args.resources.filter((r) => r.type === ROLE_ASSIGNMENT)) {
            const uai = assignedTo(assignment, identities);
            if (!uai) continue;
            const roleDefinitionId = asString(assignment.props.roleDefinitionId) ?? "";
            const guid = lastSegment(roleDefinitionId);
            const scope = asString(assignment.props.scope) ?? "its scope";
            if (forbidden.has(guid)) {
                const role = BUILT_IN_NAMES[guid] ?? `role ${guid}`;
                reportViolation(`Role assignment "${assignment.name}" gives Image Builder identity "${uai.name}" ${role} on ${scope}.`, assignment.urn);
                continue;
            }
            for (const definition of customRoles(assignment, roleDefinitionId, args.resources)) {
                const actions = escalatingActions(definition);
                if (actions.length > 0) {
                    reportViolation(
                        `Role assignment "${assignment.name}" gives Image Builder identity "${uai.name}" custom role "${definition.name}" ` +
                            `with ${actions.map((a) => `"${a}"`).join(", ")} on ${scope}.`,
                        assignment.urn,
                    );
                }
            }
        }
    },
};
