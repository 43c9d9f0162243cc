// Builds one golden image version with Azure Image Builder and publishes it to the gallery: the
// build identity and its least-privilege roles, the (immutable) image template, and the command
// that runs the build, waits for it and reports the published versions.
import * as pulumi from "@pulumi/pulumi";
import * as authorization from "@pulumi/azure-native/authorization";
import * as managedidentity from "@pulumi/azure-native/managedidentity";
import * as resources from "@pulumi/azure-native/resources";
import * as virtualmachineimages from "@pulumi/azure-native/virtualmachineimages";
import * as local from "@pulumi/command/local";
import type { ImageConfig } from "../src/config/types";
import { checkBuildResult, parseBuildResult } from "../src/aib/buildResult";
import type { ReleaseNotes } from "../src/lifecycle/releaseNotes";
import { imageBuilderRunCommands } from "../src/aib/commands";
import { imageVersionId as galleryImageVersionId } from "../src/aib/gallery";
import {
    aibIdentityName,
    aibRoleScopes,
    customRoleDefinition,
    roleAssignmentGuid,
    ROLE_ACTIONS,
    type AibRolePurpose,
    type AibRoleScope,
} from "../src/aib/roles";
import { imageTemplateContent, resolveTemplate, type TemplateIds, type TemplateInput } from "../src/aib/template";
import { TOOL_COMMAND_SETTINGS } from "../src/tools/commandSettings";
import { stackProviderCredentials } from "../src/tools/providerCredentials";

export interface GoldenImageBuildArgs {
    /** The build ring's resource group: holds the identity and the template; the image role is granted on it. */
    resourceGroupName: pulumi.Input<string>;
    resourceGroupId: pulumi.Input<string>;
    location: string;
    /** MAJOR.MINOR.PATCH version this build publishes. */
    imageVersion: string;
    /** The image block: base image, build VM, customizations, distribution, tags and the definition's name. */
    image: ImageConfig;
    /** `.../galleries/{g}/images/{def}`: the definition the version is published to. */
    imageDefinitionId: pulumi.Input<string>;
    /** Tags of the identity, template and staging group (the ring's tags). */
    tags: Record<string, string>;
    /**
     * Derive the custom roles' GUIDs from the image too, so several images built in one resource
     * group each get their own roles. Default false: the single-image form's GUIDs (purpose and scope only).
     */
    perImageRoles?: boolean;
    /** Notification entries of the command's environment (notificationEnvironment, src/config/notifications.ts); default none. */
    notificationEnvironment?: Record<string, pulumi.Input<string>>;
}

/** The deploy-time tool that runs the template and waits for the version (docs/ARCHITECTURE.md). */
export const BUILD_COMMAND = "node_modules/.bin/tsx tools/buildImage.ts";

export class GoldenImageBuild extends pulumi.ComponentResource {
    readonly imageVersionId: pulumi.Output<string>;
    /** Alias of imageVersionId (seed output name). */
    readonly galleryImageVersionId: pulumi.Output<string>;
    readonly templateName: pulumi.Output<string>;
    readonly templateId: pulumi.Output<string>;
    readonly identityId: pulumi.Output<string>;
    /** Starts the template's build by hand (seed output). */
    readonly buildCommandCli: pulumi.Output<string>;
    readonly buildCommandPowershell: pulumi.Output<string>;
    /** Versions published in the image definition, ascending, as the build tool reported them. */
    readonly publishedImageVersions: pulumi.Output<string[]>;
    /** The version id once the build has published it: consumers that need the image to exist use this. */
    readonly builtImageVersionId: pulumi.Output<string>;
    /** The marketplace version the build started from (Image Builder's source.exactVersion); undefined when Azure did not report it. */
    readonly baseImageExactVersion: pulumi.Output<string | undefined>;
    /** What the version contains and what changed from the previous one (docs/release-notes.md). */
    readonly releaseNotes: pulumi.Output<ReleaseNotes>;

    constructor(name: string, args: GoldenImageBuildArgs, opts?: pulumi.ComponentResourceOptions) {
        super("avd-image-rings:image:GoldenImageBuild", name, {}, opts);
        const { image, imageVersion } = args;
        const build = image.build;
        const definitionName = image.gallery.imageDefinitionName;

        const identity = new managedidentity.UserAssignedIdentity(
            `${name}-identity`,
            { resourceGroupName: args.resourceGroupName, resourceName: aibIdentityName(definitionName), location: args.location, tags: args.tags },
            { parent: this },
        );

        // Created empty here, so Image Builder finds the dedicated group it requires.
        const staging = build.stagingResourceGroupName
            ? new resources.ResourceGroup(
                  `${name}-staging`,
                  { resourceGroupName: build.stagingResourceGroupName, location: args.location, tags: args.tags },
                  { parent: this },
              )
            : undefined;

        const assignmentScope = (role: AibRoleScope): pulumi.Input<string> => {
            switch (role.purpose) {
                case "image":
                    return args.resourceGroupId;
                case "network":
                    return role.virtualNetworkId;
                case "staging":
                    if (!staging) throw new Error(`the staging role needs the staging resource group ${role.resourceGroupName}`);
                    return staging.id;
            }
        };
        const assignments = aibRoleScopes(build).map((role) =>
            this.grant(`${name}-${role.purpose}`, role.purpose, assignmentScope(role), identity.principalId, definitionName, args.perImageRoles ?? false),
        );

        const imageVersionId = galleryImageVersionId(args.imageDefinitionId, imageVersion);
        const input: TemplateInput = { image, location: args.location, imageVersion };
        const ids: TemplateIds<pulumi.Output<string>> = {
            identityId: identity.id,
            galleryImageVersionId: imageVersionId,
            ...(staging ? { stagingResourceGroupId: staging.id } : {}),
        };
        // Config-derived parts stay plain values, known at preview for the policy pack; only ids wait on Azure.
        const content = imageTemplateContent(input, ids);
        const resolved = pulumi.output(ids).apply((known) => resolveTemplate(input, args.tags, known));
        const contentHash = resolved.apply((r) => r.contentHash);
        const templateName = resolved.apply((r) => r.name);

        const template = new virtualmachineimages.VirtualMachineImageTemplate(
            `${name}-template`,
            {
                resourceGroupName: args.resourceGroupName,
                imageTemplateName: templateName,
                location: content.location,
                identity: content.identity,
                source: content.source,
                customize: content.customize,
                validate: content.validate,
                optimize: content.optimize,
                vmProfile: content.vmProfile,
                buildTimeoutInMinutes: content.buildTimeoutInMinutes,
                stagingResourceGroup: content.stagingResourceGroup,
                errorHandling: content.errorHandling,
                autoRun: content.autoRun,
                distribute: content.distribute.map((target) => ({ ...target, artifactTags: resolved.apply((r) => r.tags.artifactTags) })),
                managedResourceTags: resolved.apply((r) => r.tags.managedResourceTags),
                tags: resolved.apply((r) => r.tags.tags),
            },
            {
                parent: this,
                dependsOn: assignments,
                // Image Builder refuses any update of a template: every change is a new template (its
                // name carries a hash of everything it is created with), created before the old one
                // is deleted. Except with a staging group: Image Builder lets one group serve only one
                // template at a time, so the old template must be gone before the new one is created.
                replaceOnChanges: ["*"],
                deleteBeforeReplace: staging !== undefined,
            },
        );

        const run = new local.Command(
            `${name}-build`,
            {
                create: BUILD_COMMAND,
                ...TOOL_COMMAND_SETTINGS,
                // Ids and numbers, plus the provider's credential settings from the stack config
                // (secrets stay Pulumi secrets: encrypted in state, [secret] in every preview).
                environment: {
                    ...stackProviderCredentials(),
                    ...args.notificationEnvironment,
                    AVD_IMAGE_TEMPLATE_ID: template.id,
                    AVD_GALLERY_IMAGE_VERSION_ID: imageVersionId,
                    AVD_CONTENT_HASH: contentHash,
                    AVD_BUILD_TIMEOUT_MINUTES: String(build.timeoutMinutes),
                    // Lets the tool name the stack file in "bump imageVersion" messages.
                    PULUMI_STACK: pulumi.getStack(),
                },
                // Runs again only for a new template or new content, never on an unrelated `pulumi up`.
                triggers: [template.id, contentHash],
            },
            { parent: this, dependsOn: [template, ...assignments] },
        );

        this.imageVersionId = imageVersionId;
        this.galleryImageVersionId = imageVersionId;
        this.templateName = templateName;
        this.templateId = template.id;
        this.identityId = identity.id;
        const buildCommands = pulumi.all([args.resourceGroupName, templateName]).apply(([rg, template]) => imageBuilderRunCommands(rg, template));
        this.buildCommandCli = buildCommands.apply((c) => c.cli);
        this.buildCommandPowershell = buildCommands.apply((c) => c.powershell);
        const result = run.stdout.apply((stdout) => checkBuildResult(parseBuildResult(stdout), imageVersion));
        this.publishedImageVersions = result.publishedImageVersions;
        this.builtImageVersionId = pulumi.all([result, imageVersionId]).apply(([, id]) => id);
        this.baseImageExactVersion = result.apply((r) => r.baseImageExactVersion);
        this.releaseNotes = result.apply((r) => r.releaseNotes);
        this.registerOutputs({
            imageVersionId: this.imageVersionId,
            galleryImageVersionId: this.galleryImageVersionId,
            templateName: this.templateName,
            templateId: this.templateId,
            identityId: this.identityId,
            buildCommandCli: this.buildCommandCli,
            buildCommandPowershell: this.buildCommandPowershell,
            publishedImageVersions: this.publishedImageVersions,
            builtImageVersionId: this.builtImageVersionId,
            baseImageExactVersion: this.baseImageExactVersion,
            releaseNotes: this.releaseNotes,
        });
    }

    /** A custom role with exactly the purpose's actions, assigned to the identity as a service principal. */
    private grant(
        name: string,
        purpose: AibRolePurpose,
        scope: pulumi.Input<string>,
        principalId: pulumi.Output<string>,
        definitionName: string,
        perImage: boolean,
    ): authorization.RoleAssignment {
        const role = pulumi.output(scope).apply((s) => customRoleDefinition(purpose, s, definitionName, perImage));
        const definition = new authorization.RoleDefinition(
            `${name}-role`,
            {
                scope: role.apply((r) => r.scope),
                roleDefinitionId: role.apply((r) => r.roleDefinitionId),
                roleName: role.apply((r) => r.roleName),
                description: role.apply((r) => r.description),
                roleType: "CustomRole",
                permissions: [{ actions: [...ROLE_ACTIONS[purpose]], notActions: [], dataActions: [], notDataActions: [] }],
                assignableScopes: [role.apply((r) => r.scope)],
            },
            { parent: this },
        );
        return new authorization.RoleAssignment(
            `${name}-role-assignment`,
            {
                scope: role.apply((r) => r.assignmentScope),
                roleAssignmentName: pulumi.all([role, principalId]).apply(([r, p]) => roleAssignmentGuid(r.assignmentScope, r.roleDefinitionId, p)),
                roleDefinitionId: definition.id,
                principalId,
                // Skips the directory lookup that fails while a new identity is still replicating.
                principalType: "ServicePrincipal",
                description: `Azure Image Builder identity for ${definitionName} (avd-image-rings)`,
            },
            { parent: this },
        );
    }
}
