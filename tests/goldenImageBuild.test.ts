import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as authorization from "@pulumi/azure-native/authorization";
import * as virtualmachineimages from "@pulumi/azure-native/virtualmachineimages";
import type { MockResourceArgs } from "@pulumi/pulumi/runtime/mocks";
import { evaluate, EvaluationError, SECRET_MASK, type Evaluation, type RecordedResource } from "../preview/engine";
import { PROJECT } from "../src/config/parse";
import type { FleetImage, ImageConfig, RingConfig } from "../src/config/types";
import { onlyImage } from "./fixtures/fleet";
import { singleImageRing } from "./fixtures/singleImageStacks";
import { ImageGallery } from "../components/imageGallery";
import { BUILD_COMMAND, GoldenImageBuild } from "../components/goldenImageBuild";
import { AIB_IMAGE_ACTIONS, AIB_NETWORK_ACTIONS, AIB_STAGING_ACTIONS } from "../src/aib/roles";
import { TEMPLATE_NAME_PATTERN } from "../src/aib/template";
import { placeholderReleaseNotes } from "../src/lifecycle/releaseNotes";

const SUBSCRIPTION_ID = "8c6f4f2e-3a1b-4d5c-9e7f-2b1a0c9d8e7f";
const SUB = `/subscriptions/${SUBSCRIPTION_ID}`;
const TEMPLATE = "azure-native:virtualmachineimages:VirtualMachineImageTemplate";
const COMMAND = "command:local:Command";
const ROLE_DEFINITION = "azure-native:authorization:RoleDefinition";
const ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment";

/** The shipped build ring, validated like the program does; `change` adjusts its image block. */
function testRing(change: (image: ImageConfig) => ImageConfig = (i) => i): RingConfig & { image: FleetImage } {
    const ring = singleImageRing("test");
    const image = onlyImage(ring);
    return { ...ring, image: { ...image, ...change(image) } };
}

/** What tools/buildImage.ts prints when the build succeeded: progress, then its JSON result. */
function succeededBuild(args: MockResourceArgs): string {
    const env = (args.inputs as { environment: Record<string, string> }).environment;
    const id = env.AVD_GALLERY_IMAGE_VERSION_ID;
    const version = id.split("/").pop() ?? "";
    const result = { imageVersion: version, imageVersionId: id, runState: "Succeeded", reusedExistingVersion: false, publishedImageVersions: ["1.2.0", "1.1.0"], baseImageExactVersion: "26100.2314.241107", releaseNotes: { ...placeholderReleaseNotes(version, id, "test"), baseImageExactVersion: "26100.2314.241107" } };
    return `Running image template\nDistributing\n${JSON.stringify(result)}`;
}

interface Run {
    evaluation: Evaluation;
    /** Resource options as the components passed them, by resource type. */
    options: Map<string, pulumi.CustomResourceOptions[]>;
}

async function build(ring = testRing(), commandStdout: (args: MockResourceArgs) => string = succeededBuild): Promise<Run> {
    const options = new Map<string, pulumi.CustomResourceOptions[]>();
    const record: pulumi.ResourceTransformation = ({ type, opts }) => {
        // Children of a component are custom resources here; their options carry deleteBeforeReplace.
        options.set(type, [...(options.get(type) ?? []), opts as pulumi.CustomResourceOptions]);
        return undefined;
    };
    const evaluation = await evaluate({
        project: PROJECT,
        stack: ring.stack,
        config: {},
        secretKeys: [],
        simulation: { subscriptionId: SUBSCRIPTION_ID, tenantId: "0f1e2d3c-4b5a-4697-8877-665544332211", stackOutputs: () => undefined, commandStdout },
        program: async () => {
            const gallery = new ImageGallery("images", {
                resourceGroupName: ring.resourceGroupName,
                location: ring.location,
                galleryName: ring.image.gallery.name,
                imageDefinitions: { [ring.image.name]: { definition: ring.image.gallery, logicalSuffix: "" } },
                tags: ring.tags,
            });
            const golden = new GoldenImageBuild(
                "golden",
                {
                    resourceGroupName: ring.resourceGroupName,
                    resourceGroupId: `${SUB}/resourceGroups/${ring.resourceGroupName}`,
                    location: ring.location,
                    imageVersion: ring.image.imageVersion,
                    image: ring.image,
                    imageDefinitionId: gallery.imageDefinitionIds[ring.image.name],
                    tags: ring.tags,
                },
                { transformations: [record] },
            );
            return {
                imageVersionId: golden.imageVersionId,
                galleryImageVersionId: golden.galleryImageVersionId,
                templateName: golden.templateName,
                templateId: golden.templateId,
                identityId: golden.identityId,
                buildCommandCli: golden.buildCommandCli,
                buildCommandPowershell: golden.buildCommandPowershell,
                publishedImageVersions: golden.publishedImageVersions,
                baseImageExactVersion: golden.baseImageExactVersion,
                releaseNotes: golden.releaseNotes,
            };
        },
    });
    return { evaluation, options };
}

/** The registered template inputs the assertions below read. */
interface RegisteredTemplate {
    customize: Array<{ type: string; name: string }>;
    source: unknown;
    validate: { continueDistributeOnFailure: boolean };
    vmProfile: unknown;
    autoRun: unknown;
    optimize: unknown;
    buildTimeoutInMinutes: number;
    distribute: Array<{ galleryImageId: string; targetRegions: Array<{ name: string }>; artifactTags: Record<string, string> }>;
    tags: Record<string, string>;
    managedResourceTags: Record<string, string>;
}

const ofType = (e: Evaluation, type: string) => e.resources.filter((r) => r.type === type);
function only(e: Evaluation, type: string): RecordedResource {
    const found = ofType(e, type);
    assert.equal(found.length, 1, `expected one ${type}, got ${found.length}`);
    return found[0];
}
const parentType = (e: Evaluation, r: RecordedResource) => e.resources.find((p) => p.urn === r.parent)?.type;

// --- Microsoft.VirtualMachineImages 2024-02-01, the contract a real deployment is checked against ---

interface Schema {
    $ref?: string;
    type?: string;
    enum?: string[];
    properties?: Record<string, Schema>;
    items?: Schema;
    required?: string[];
    allOf?: Schema[];
    discriminator?: string;
    "x-ms-discriminator-value"?: string;
}
const SPEC_FILE = resolve(
    __dirname,
    "azure-rest-specs/specification/imagebuilder/resource-manager/Microsoft.VirtualMachineImages/stable/2024-02-01/imagebuilder.json",
);

class SpecChecker {
    private readonly docs = new Map<string, { definitions: Record<string, Schema> }>();
    readonly problems: string[] = [];

    private doc(file: string) {
        if (!this.docs.has(file)) this.docs.set(file, JSON.parse(readFileSync(file, "utf8")));
        return this.docs.get(file)!;
    }

    /** Resolves `$ref`s (also across files) to [file, definition name, schema]. */
    definition(file: string, ref: string): [string, string, Schema] {
        const [path, pointer] = ref.split("#");
        const target = path ? resolve(dirname(file), path) : file;
        const name = pointer.replace("/definitions/", "");
        const schema = this.doc(target).definitions[name];
        assert.ok(schema, `no definition ${name} in ${target}`);
        return [target, name, schema];
    }

    /** Own and inherited (allOf) properties and required names of a definition. */
    private flatten(file: string, schema: Schema): { properties: Record<string, [string, Schema]>; required: string[] } {
        const properties: Record<string, [string, Schema]> = {};
        const required = [...(schema.required ?? [])];
        for (const parent of schema.allOf ?? []) {
            if (!parent.$ref) continue;
            const [pf, , ps] = this.definition(file, parent.$ref);
            const inherited = this.flatten(pf, ps);
            Object.assign(properties, inherited.properties);
            required.push(...inherited.required);
        }
        for (const [k, v] of Object.entries(schema.properties ?? {})) properties[k] = [file, v];
        return { properties, required };
    }

    /** The subtype of a polymorphic definition whose discriminator value matches the object's `type`. */
    private subtype(file: string, baseName: string, value: Record<string, unknown>, path: string): [string, Schema] | undefined {
        const defs = this.doc(file).definitions;
        const match = Object.entries(defs).find(
            ([, s]) => s["x-ms-discriminator-value"] === value.type && (s.allOf ?? []).some((p) => p.$ref?.endsWith(`/${baseName}`)),
        );
        if (!match) this.problems.push(`${path}.type: ${JSON.stringify(value.type)} is not a ${baseName} type in the spec`);
        return match ? [file, match[1]] : undefined;
    }

    check(file: string, schema: Schema, value: unknown, path: string): void {
        if (schema.$ref) {
            const [f, name, s] = this.definition(file, schema.$ref);
            if (s.discriminator && value && typeof value === "object") {
                const sub = this.subtype(f, name, value as Record<string, unknown>, path);
                if (sub) this.check(sub[0], sub[1], value, path);
                return;
            }
            this.check(f, s, value, path);
            return;
        }
        if (schema.enum && !schema.enum.includes(value as string)) {
            this.problems.push(`${path}: ${JSON.stringify(value)} is not one of ${schema.enum.join(", ")} (casing matters)`);
        }
        if (schema.type === "integer" && !Number.isInteger(value)) this.problems.push(`${path}: must be an integer`);
        if (schema.type === "boolean" && typeof value !== "boolean") this.problems.push(`${path}: must be a boolean`);
        if (schema.type === "string" && typeof value !== "string") this.problems.push(`${path}: must be a string`);
        if (schema.type === "array") {
            if (!Array.isArray(value)) this.problems.push(`${path}: must be an array`);
            else if (schema.items) value.forEach((item, i) => this.check(file, schema.items!, item, `${path}[${i}]`));
        }
        if (schema.properties || schema.allOf) {
            if (value === null || typeof value !== "object" || Array.isArray(value)) {
                this.problems.push(`${path}: must be an object`);
                return;
            }
            const { properties, required } = this.flatten(file, schema);
            for (const [k, v] of Object.entries(value)) {
                if (!properties[k]) this.problems.push(`${path}.${k}: not a property in the spec (known: ${Object.keys(properties).join(", ")})`);
                else this.check(properties[k][0], properties[k][1], v, `${path}.${k}`);
            }
            for (const k of required) if (!(k in value)) this.problems.push(`${path}.${k}: required by the spec`);
        }
    }
}

describe("GoldenImageBuild (mock engine, Pulumi.test.yaml)", function () {
    let run: Run;
    before(async () => {
        run = await build();
    });

    it("registers the identity, one least-privilege role, the template and the run command under the component", () => {
        const e = run.evaluation;
        const children = e.resources.filter((r) => parentType(e, r) === "avd-image-rings:image:GoldenImageBuild").map((r) => `${r.type} ${r.name}`);
        assert.deepEqual(children.sort(), [
            "azure-native:authorization:RoleAssignment golden-image-role-assignment",
            "azure-native:authorization:RoleDefinition golden-image-role",
            "azure-native:managedidentity:UserAssignedIdentity golden-identity",
            `${TEMPLATE} golden-template`,
            `${COMMAND} golden-build`,
        ]);
        assert.equal(ofType(e, "azure-native:resources:ResourceGroup").length, 0, "no staging group unless configured");
    });

    it("gives the identity a custom role on the gallery's resource group, never a built-in role", () => {
        const e = run.evaluation;
        const definition = only(e, ROLE_DEFINITION);
        const assignment = only(e, ROLE_ASSIGNMENT);
        const rg = `${SUB}/resourceGroups/rg-avd-images-test`;
        assert.equal(definition.inputs.scope, rg);
        assert.deepEqual(definition.inputs.assignableScopes, [rg]);
        assert.equal(definition.inputs.roleType, "CustomRole");
        assert.deepEqual(definition.inputs.permissions, [{ actions: [...AIB_IMAGE_ACTIONS], notActions: [], dataActions: [], notDataActions: [] }]);
        assert.match(String(definition.inputs.roleDefinitionId), /^[0-9a-f-]{36}$/);
        assert.equal(assignment.inputs.scope, rg);
        assert.equal(assignment.inputs.roleDefinitionId, definition.id);
        assert.equal(assignment.inputs.principalType, "ServicePrincipal");
        const identity = only(e, "azure-native:managedidentity:UserAssignedIdentity");
        assert.match(String(assignment.inputs.principalId), /^[0-9a-f-]{36}$/);
        assert.equal(identity.inputs.resourceName, "id-aib-avd-win11-m365");
    });

    it("creates the template only after its role assignments, and never updates it in place", () => {
        const [opts] = run.options.get(TEMPLATE) ?? [];
        assert.ok(opts, "template options were recorded");
        const deps = (opts.dependsOn ?? []) as pulumi.Resource[];
        assert.ok(deps.length > 0 && deps.every((d) => d instanceof authorization.RoleAssignment));
        assert.deepEqual(opts.replaceOnChanges, ["*"]);
        assert.equal(opts.deleteBeforeReplace, false, "the new template is created before the old one is deleted");
    });

    it("sends only properties of Microsoft.VirtualMachineImages 2024-02-01, with its casing", () => {
        const t = only(run.evaluation, TEMPLATE);
        const spec = new SpecChecker();
        const [file, , templateProps] = spec.definition(SPEC_FILE, "#/definitions/ImageTemplateProperties");
        const [, , identity] = spec.definition(SPEC_FILE, "#/definitions/ImageTemplateIdentity");
        const { resourceGroupName, imageTemplateName, location, tags, identity: id, ...properties } = t.inputs;
        assert.equal(resourceGroupName, "rg-avd-images-test");
        assert.match(String(imageTemplateName), TEMPLATE_NAME_PATTERN);
        assert.equal(location, "westeurope");
        assert.ok(tags && typeof tags === "object");
        // azure-native takes the identity ids as a list and sends them as the spec's map.
        spec.check(file, { properties: { type: identity.properties!.type } }, { type: (id as { type: string }).type }, "identity");
        spec.check(file, templateProps, properties, "properties");
        assert.deepEqual(spec.problems, []);
        assert.ok("customize" in properties && "validate" in properties && "distribute" in properties && "vmProfile" in properties);
    });

    it("notices a misspelt or miscased property (the spec check can fail)", () => {
        const spec = new SpecChecker();
        const [file, , templateProps] = spec.definition(SPEC_FILE, "#/definitions/ImageTemplateProperties");
        spec.check(file, templateProps, { vmProfile: { osDiskSizeGb: 127 }, autoRun: { state: "disabled" }, customize: [{ type: "Powershell", name: "x" }] }, "properties");
        const found = spec.problems.join("\n");
        assert.match(found, /properties\.vmProfile\.osDiskSizeGb: not a property in the spec/);
        assert.match(found, /properties\.autoRun\.state: "disabled" is not one of Enabled, Disabled/);
        assert.match(found, /properties\.customize\[0\]\.type: "Powershell" is not a ImageTemplateCustomizer type/);
        assert.match(found, /properties\.source: required by the spec/);
    });

    it("builds the configured customisations in order, validates in the VM and publishes the pinned version", () => {
        const t = only(run.evaluation, TEMPLATE).inputs as unknown as RegisteredTemplate;
        assert.deepEqual(
            t.customize.map((c) => `${c.type}:${c.name}`),
            [
                "WindowsUpdate:windows-update",
                "PowerShell:install-powershell-modules",
                "PowerShell:disable-ie",
                "PowerShell:configure-edge",
                "PowerShell:configure-timezone",
                "PowerShell:harden-os",
                "PowerShell:install-chocolatey-packages",
                "WindowsRestart:restart-after-customization",
                "PowerShell:virtual-desktop-optimization",
                "PowerShell:image-cleanup",
                "PowerShell:image-inventory",
            ],
        );
        assert.deepEqual(t.source, { type: "PlatformImage", publisher: "MicrosoftWindowsDesktop", offer: "office-365", sku: "win11-24h2-avd-m365", version: "latest" });
        assert.equal(t.validate.continueDistributeOnFailure, false);
        assert.deepEqual(t.vmProfile, { vmSize: "Standard_D8s_v5", osDiskSizeGB: 127 });
        assert.deepEqual(t.autoRun, { state: "Disabled" });
        assert.deepEqual(t.optimize, { vmBoot: { state: "Enabled" } });
        assert.equal(t.buildTimeoutInMinutes, 300);
        const [target] = t.distribute;
        assert.equal(
            target.galleryImageId,
            `${SUB}/resourceGroups/rg-avd-images-test/providers/Microsoft.Compute/galleries/avd_golden_images/images/avd-win11-m365/versions/1.2.0`,
        );
        assert.deepEqual(target.targetRegions.map((r) => r.name), ["westeurope", "northeurope"]);
        assert.equal(target.artifactTags.ImageVersion, "1.2.0");
        assert.equal(target.artifactTags.ContentHash, t.tags.ContentHash);
        assert.deepEqual(t.managedResourceTags, { Environment: "Test", CostCenter: "EUC", ImageVersion: "1.2.0" });
    });

    it("runs the build tool with the template, the version, the content hash and the timeout, and nothing secret", () => {
        const e = run.evaluation;
        const cmd = only(e, COMMAND).inputs as { create: string; environment: Record<string, string>; triggers: unknown[] };
        const t = only(e, TEMPLATE);
        assert.equal(cmd.create, BUILD_COMMAND);
        assert.equal(cmd.create, "node_modules/.bin/tsx tools/buildImage.ts");
        assert.deepEqual(cmd.environment, {
            AVD_IMAGE_TEMPLATE_ID: t.id,
            AVD_GALLERY_IMAGE_VERSION_ID: e.outputs.imageVersionId,
            AVD_CONTENT_HASH: (t.inputs.tags as Record<string, string>).ContentHash,
            AVD_BUILD_TIMEOUT_MINUTES: "300",
            PULUMI_STACK: "test",
        });
        assert.ok(!JSON.stringify(cmd).includes(SECRET_MASK), "no secret in the command's inputs");
        assert.deepEqual(cmd.triggers, [t.id, cmd.environment.AVD_CONTENT_HASH]);
        const [opts] = run.options.get(COMMAND) ?? [];
        const deps = (opts.dependsOn ?? []) as pulumi.Resource[];
        assert.ok(deps.some((d) => d instanceof virtualmachineimages.VirtualMachineImageTemplate));
        assert.ok(deps.some((d) => d instanceof authorization.RoleAssignment));
    });

    it("exports the seed outputs and the versions the build tool reported, ascending", () => {
        const o = run.evaluation.outputs;
        const t = only(run.evaluation, TEMPLATE);
        assert.equal(o.galleryImageVersionId, o.imageVersionId);
        assert.match(String(o.imageVersionId), /\/images\/avd-win11-m365\/versions\/1\.2\.0$/);
        assert.equal(o.templateName, t.inputs.imageTemplateName);
        assert.equal(o.templateId, t.id);
        assert.equal(o.identityId, only(run.evaluation, "azure-native:managedidentity:UserAssignedIdentity").id);
        assert.equal(o.buildCommandCli, `az image builder run --resource-group rg-avd-images-test --name ${o.templateName}`);
        assert.equal(o.buildCommandPowershell, `Start-AzImageBuilderTemplate -ResourceGroupName rg-avd-images-test -Name ${o.templateName}`);
        assert.deepEqual(o.publishedImageVersions, ["1.1.0", "1.2.0"]);
        assert.equal(o.baseImageExactVersion, "26100.2314.241107", "the base image version the build tool reported");
        assert.equal((o.releaseNotes as { imageVersion?: string }).imageVersion, "1.2.0", "the release notes the build tool reported");
    });

    it("registers the same template on every run (no clock, no randomness)", async () => {
        const again = await build();
        assert.deepEqual(only(again.evaluation, TEMPLATE).inputs, only(run.evaluation, TEMPLATE).inputs);
        assert.deepEqual(only(again.evaluation, COMMAND).inputs, only(run.evaluation, COMMAND).inputs);
    });

    it("fails the deployment clearly when the build tool's last line is not its JSON result", async () => {
        await assert.rejects(
            build(testRing(), () => "ERROR: template run failed (AuthorizationFailed)"),
            (err: unknown) => {
                assert.ok(err instanceof EvaluationError);
                assert.match(err.message, /tools\/buildImage\.ts: its last stdout line is not JSON/);
                assert.match(err.message, /AuthorizationFailed/);
                return true;
            },
        );
    });
});

describe("GoldenImageBuild with a build VNet and a staging resource group", () => {
    const subnetId = `${SUB}/resourceGroups/rg-avd-network/providers/Microsoft.Network/virtualNetworks/vnet-avd-weu/subnets/snet-aib`;
    let run: Run;
    before(async () => {
        run = await build(
            testRing((image) => ({ ...image, build: { ...image.build, vnet: { subnetId, proxyVmSize: "Standard_A2_v2" }, stagingResourceGroupName: "rg-aib-staging" } })),
        );
    });

    it("assigns the network role on the VNet only, from a definition in the VNet's resource group", () => {
        const e = run.evaluation;
        const definition = e.resources.find((r) => r.type === ROLE_DEFINITION && r.name === "golden-network-role");
        const assignment = e.resources.find((r) => r.type === ROLE_ASSIGNMENT && r.name === "golden-network-role-assignment");
        assert.ok(definition && assignment);
        assert.deepEqual((definition.inputs.permissions as Array<{ actions: string[] }>)[0].actions, [...AIB_NETWORK_ACTIONS]);
        assert.equal(definition.inputs.scope, `${SUB}/resourceGroups/rg-avd-network`);
        assert.equal(assignment.inputs.scope, `${SUB}/resourceGroups/rg-avd-network/providers/Microsoft.Network/virtualNetworks/vnet-avd-weu`);
        assert.equal(assignment.inputs.roleDefinitionId, definition.id);
        assert.equal(assignment.inputs.principalType, "ServicePrincipal");
    });

    it("creates the empty staging group in the build region and a staging role on it, no built-in role", () => {
        const e = run.evaluation;
        const staging = only(e, "azure-native:resources:ResourceGroup");
        assert.equal(staging.inputs.resourceGroupName, "rg-aib-staging");
        assert.equal(staging.inputs.location, "westeurope");
        assert.equal(parentType(e, staging), "avd-image-rings:image:GoldenImageBuild");
        const definition = e.resources.find((r) => r.type === ROLE_DEFINITION && r.name === "golden-staging-role");
        const assignment = e.resources.find((r) => r.type === ROLE_ASSIGNMENT && r.name === "golden-staging-role-assignment");
        assert.ok(definition && assignment);
        assert.deepEqual((definition.inputs.permissions as Array<{ actions: string[] }>)[0].actions, [...AIB_STAGING_ACTIONS]);
        assert.equal(assignment.inputs.scope, staging.id);
        const roleDefinitionIds = new Set(ofType(e, ROLE_DEFINITION).map((r) => r.id));
        for (const a of ofType(e, ROLE_ASSIGNMENT)) assert.ok(roleDefinitionIds.has(String(a.inputs.roleDefinitionId)), `${a.name} uses a role this stack defines`);
        assert.equal(ofType(e, ROLE_ASSIGNMENT).length, 3);
    });

    it("builds in the subnet and stages in that group, deleting the old template first on a change", () => {
        const t = only(run.evaluation, TEMPLATE);
        assert.deepEqual((t.inputs.vmProfile as Record<string, unknown>).vnetConfig, { subnetId, proxyVmSize: "Standard_A2_v2" });
        assert.equal(t.inputs.stagingResourceGroup, only(run.evaluation, "azure-native:resources:ResourceGroup").id);
        const [opts] = run.options.get(TEMPLATE) ?? [];
        assert.equal(opts.deleteBeforeReplace, true, "Image Builder allows one template per staging group");
        const deps = (opts.dependsOn ?? []) as pulumi.Resource[];
        assert.equal(deps.length, 3);
    });
});
