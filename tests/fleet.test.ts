// A ring as a fleet: several images and host pools per stack, each image promoted on its own, and
// the single-image form of earlier releases planning exactly what it planned before.
import { strict as assert } from "node:assert";
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { runPreview } from "../preview/cli";
import { ConfigError } from "../src/config/reader";
import { parseRingConfig } from "../src/config/parse";
import { validatedByAll } from "../src/fleet";
import { SINGLE_IMAGE_DIR, singleImageValues } from "./fixtures/singleImageStacks";

const ROOT = join(__dirname, "..");
const SNAPSHOT_DIR = join(__dirname, "fixtures", "singleForm");
// The names Azure knows a resource by: a change of any of them is a replacement in Azure.
const NAME_KEYS = ["resourceGroupName", "galleryName", "galleryImageName", "imageTemplateName", "resourceName", "hostPoolName", "applicationGroupName", "workspaceName", "vmScaleSetName", "roleDefinitionId", "roleAssignmentName", "roleName"];

/** A scratch copy of `from`'s stack files (the shipped fleet by default), with edits at config paths. */
function scratch(edits: Array<[stack: string, path: string[], value: unknown]>, from = ROOT): string {
    const dir = mkdtempSync(join(tmpdir(), "avd-fleet-"));
    for (const f of readdirSync(from).filter((f) => /^Pulumi\..+\.yaml$/.test(f))) cpSync(join(from, f), join(dir, f));
    for (const [stack, path, value] of edits) {
        const file = join(dir, `Pulumi.${stack}.yaml`);
        const doc = parseDocument(readFileSync(file, "utf8"));
        if (value === undefined) doc.deleteIn(["config", ...path]);
        else doc.setIn(["config", ...path], value);
        writeFileSync(file, doc.toString());
    }
    return dir;
}

function configError(values: Record<string, unknown>, stack = "prod"): string {
    try {
        parseRingConfig({ stack, values, secret: () => undefined });
    } catch (err) {
        assert.ok(err instanceof ConfigError, `a ConfigError, got ${String(err)}`);
        return err.message;
    }
    return assert.fail("expected a configuration error");
}

/** The shipped prod ring's values, keyed without the project prefix. */
function prodValues(): Record<string, unknown> {
    const doc = parseDocument(readFileSync(join(ROOT, "Pulumi.prod.yaml"), "utf8")).toJS() as { config: Record<string, unknown> };
    return Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k.replace(/^avd-image-rings:/, ""), v]));
}

describe("fleet: several images and host pools per ring", function () {
    this.timeout(180_000);

    describe("the single-image form of earlier releases", () => {
        for (const stack of ["test", "pilot", "prod"]) {
            it(`${stack}: plans the same resources with the same URNs and Azure names as the release before fleets`, async () => {
                const { reports, exitCode } = await runPreview({ stacks: [stack], format: "json", dir: ROOT, stackDir: SINGLE_IMAGE_DIR, policies: false });
                assert.equal(exitCode, 0, JSON.stringify(reports[0].error));
                const snapshot = JSON.parse(readFileSync(join(SNAPSHOT_DIR, `${stack}.json`), "utf8")) as Array<{ urn: string; names: Record<string, string> }>;
                const planned = reports[0].resources.map((r) => ({
                    urn: r.urn,
                    names: Object.fromEntries(NAME_KEYS.filter((k) => typeof r.inputs[k] === "string").map((k) => [k, r.inputs[k] as string])),
                }));
                assert.deepEqual(
                    planned.map((p) => p.urn).sort(),
                    snapshot.map((s) => s.urn).sort(),
                    "no resource is added, removed or renamed",
                );
                for (const s of snapshot) assert.deepEqual(planned.find((p) => p.urn === s.urn)?.names, s.names, s.urn);
            });
        }

        it("keeps today's top-level outputs and adds the fleet's images and hostPools maps", async () => {
            const { reports } = await runPreview({ stacks: ["prod"], format: "json", dir: ROOT, stackDir: SINGLE_IMAGE_DIR, policies: false });
            const out = reports[0].outputs as Record<string, unknown>;
            for (const key of ["imageVersion", "imageVersionId", "galleryImageVersionId", "imageDefinitionId", "publishedImageVersions", "validatedImageVersion", "hostPoolId", "vmssId", "upgradeMode"]) {
                assert.ok(out[key] !== undefined, `top-level ${key}`);
            }
            const images = out.images as Record<string, { imageVersion: string; validatedImageVersion: string }>;
            assert.deepEqual(Object.keys(images), ["default"]);
            assert.equal(images.default.validatedImageVersion, "1.2.0");
            assert.equal((out.hostPools as Record<string, { vmssId: string }>).default.vmssId, out.vmssId);
        });

        it("refuses a stack file mixing the single-image and the fleet form, naming both keys", () => {
            const message = configError({ ...singleImageValues("prod"), hostPools: {} });
            assert.match(message, /^Pulumi\.prod\.yaml: avd-image-rings:hostPools cannot be combined with avd-image-rings:imageVersion: a stack file uses either the single-image form/);
        });
    });

    describe("the shipped fleet", () => {
        it("previews every ring with exit 0: two images, two pools per ring, prod pinned per image", async () => {
            const { reports, exitCode } = await runPreview({ stacks: ["test", "pilot", "prod"], format: "json", dir: ROOT });
            assert.equal(exitCode, 0, JSON.stringify(reports.map((r) => r.error ?? r.violations)));
            const test = reports.find((r) => r.stack === "test")!;
            const definitions = test.resources.filter((r) => r.type === "azure-native:compute:GalleryImage").map((r) => r.inputs.galleryImageName);
            assert.deepEqual(definitions.sort(), ["avd-win11-dev", "avd-win11-m365"], "one gallery, one definition per image");
            assert.equal(test.resources.filter((r) => r.type === "azure-native:compute:Gallery").length, 1);
            for (const estate of test.resources.filter((r) => r.type === "azure-native:compute:Gallery" || r.type === "azure-native:compute:GalleryImage")) {
                assert.deepEqual([estate.options.protect, estate.options.retainOnDelete], [true, true], `${estate.name} is protected and retained on delete`);
            }
            for (const report of reports) {
                const scaleSets = report.resources.filter((r) => r.type === "azure-native:compute:VirtualMachineScaleSet").map((r) => r.inputs.vmScaleSetName);
                assert.deepEqual(scaleSets.sort(), [`vmss-avd-${report.stack}-dev`, `vmss-avd-${report.stack}-office`]);
            }
            const prod = reports.find((r) => r.stack === "prod")!;
            const pools = prod.outputs.hostPools as Record<string, { image: string; imageVersion: string }>;
            assert.deepEqual({ office: pools.office.imageVersion, dev: pools.dev.imageVersion }, { office: "1.2.0", dev: "1.0.0" });
        });

        it("gives each image's build its own custom roles: no two images share a role definition GUID", async () => {
            const { reports } = await runPreview({ stacks: ["test"], format: "json", dir: ROOT, policies: false });
            const roles = reports[0].resources.filter((r) => r.type === "azure-native:authorization:RoleDefinition").map((r) => r.inputs.roleDefinitionId as string);
            assert.equal(roles.length, 2);
            assert.equal(new Set(roles).size, roles.length);
        });

        it("refuses prod moving one image ahead of pilot, naming that image; the other image's version is allowed", async () => {
            const dir = scratch([["prod", ["avd-image-rings:imageVersions", "dev"], "1.1.0"], ["pilot", ["avd-image-rings:imageVersions", "dev"], "1.0.0"]]);
            const { reports, exitCode } = await runPreview({ stacks: ["prod"], format: "json", dir: ROOT, stackDir: dir, policies: false });
            assert.equal(exitCode, 1);
            const error = reports[0].error!;
            assert.equal(error.kind, "promotion");
            assert.match(error.message, /^Pulumi\.prod\.yaml: avd-image-rings:imageVersions\.dev 1\.1\.0 is refused: contoso\/avd-image-rings\/pilot has validated 1\.0\.0 of image dev/);
            assert.match(error.message, /the other images' versions are allowed: m365 1\.2\.0 \(promotion\)/);
        });

        it("moving one image forward in prod leaves the other image's pools exactly as they were", async () => {
            const before = await runPreview({ stacks: ["prod"], format: "json", dir: ROOT, policies: false });
            const dir = scratch([["prod", ["avd-image-rings:imageVersions", "dev"], "1.1.0"]]);
            const after = await runPreview({ stacks: ["prod"], format: "json", dir: ROOT, stackDir: dir, policies: false });
            assert.equal(after.exitCode, 0, JSON.stringify(after.reports[0].error));
            const office = (r: typeof before) => r.reports[0].resources.filter((x) => x.name.includes("-office")).map((x) => ({ urn: x.urn, inputs: x.inputs }));
            assert.deepEqual(office(after), office(before));
            const dev = after.reports[0].resources.find((x) => x.name === "session-hosts-dev-vmss")!;
            assert.match(JSON.stringify(dev.inputs), /avd-win11-dev\/versions\/1\.1\.0/);
        });
    });

    describe("the marketplace break-glass pool (seed 001, marketplace image rollback)", () => {
        const marketplace = { publisher: "MicrosoftWindowsDesktop", offer: "office-365", sku: "win11-24h2-avd-m365", version: "26100.2605.241207" };

        it("previews in prod with a pinned version: the scale set references the marketplace image, the gate validates that version", async () => {
            const dir = scratch([
                ["prod", ["avd-image-rings:hostPools", "dev", "image"], undefined],
                ["prod", ["avd-image-rings:hostPools", "dev", "marketplaceImage"], marketplace],
                ["prod", ["avd-image-rings:imageVersions", "dev"], undefined],
            ]);
            const { reports, exitCode } = await runPreview({ stacks: ["prod"], format: "json", dir: ROOT, stackDir: dir, policies: false });
            assert.equal(exitCode, 0, JSON.stringify(reports[0].error));
            const vmss = reports[0].resources.find((r) => r.name === "session-hosts-dev-vmss")!;
            const profile = vmss.inputs.virtualMachineProfile as { storageProfile: { imageReference: Record<string, string> } };
            assert.deepEqual(profile.storageProfile.imageReference, marketplace);
            const pools = reports[0].outputs.hostPools as Record<string, { image: string; validatedImageVersion: string }>;
            assert.equal(pools.dev.image, "marketplace:MicrosoftWindowsDesktop:office-365:win11-24h2-avd-m365:26100.2605.241207");
            assert.equal(pools.dev.validatedImageVersion, "26100.2605.241207");
        });

        it("is refused in prod with a floating version, naming the key and the command that lists versions", () => {
            const values = prodValues();
            const pools = values.hostPools as Record<string, Record<string, unknown>>;
            const { image: _image, ...dev } = pools.dev;
            const message = configError({ ...values, imageVersions: { m365: "1.2.0" }, hostPools: { ...pools, dev: { ...dev, marketplaceImage: { ...marketplace, version: "latest" } } } });
            assert.match(message, /^Pulumi\.prod\.yaml: avd-image-rings:hostPools\.dev\.marketplaceImage\.version is "latest", which floats/);
            assert.match(message, /az vm image list --publisher MicrosoftWindowsDesktop --offer office-365 --sku win11-24h2-avd-m365 --all/);
        });

        it("refuses a pool naming both a fleet image and a marketplace image", () => {
            const values = prodValues();
            const pools = values.hostPools as Record<string, Record<string, unknown>>;
            const message = configError({ ...values, hostPools: { ...pools, dev: { ...pools.dev, marketplaceImage: marketplace } } });
            assert.match(message, /avd-image-rings:hostPools\.dev\.marketplaceImage cannot be set together with image/);
        });
    });

    describe("fleet configuration errors name the file and the key", () => {
        it("a pool whose image has no version", () => {
            const values = prodValues();
            assert.match(configError({ ...values, imageVersions: { m365: "1.2.0" } }), /avd-image-rings:hostPools\.dev\.image names the image "dev", which has no version in avd-image-rings:imageVersions \(known: m365\)/);
        });

        it("a version no pool runs, which the ring could never validate for the next ring", () => {
            const values = prodValues();
            assert.match(configError({ ...values, imageVersions: { ...(values.imageVersions as object), cad: "1.0.0" } }), /avd-image-rings:imageVersions\.cad is a version no pool of this ring runs/);
        });

        it("two pools with one computer-name prefix", () => {
            const values = prodValues();
            const pools = values.hostPools as Record<string, Record<string, unknown>>;
            const message = configError({ ...values, hostPools: { ...pools, dev: { ...pools.dev, computerNamePrefix: "AVDPRD" } } });
            assert.match(message, /avd-image-rings:hostPools\.dev\.computerNamePrefix repeats the computer-name prefix "AVDPRD" of hostPools\.office\.computerNamePrefix/);
        });

        it("a pool name that would make an Azure name too long", () => {
            const values = prodValues();
            const pools = values.hostPools as Record<string, Record<string, unknown>>;
            const long = "a".repeat(24);
            // `vdpool-avd-<stack>-<pool>` fits 64 characters; a longer stack name leaves less room for the pool.
            const stack = "production-west-europe-ring-nine-a";
            const message = configError({ ...values, hostPools: { [long]: pools.office } }, stack);
            assert.match(message, new RegExp(`avd-image-rings:hostPools\\.${long} is not a valid pool name: it makes the host pool name "vdpool-avd-${stack}-${long}" \\d+ characters long; Azure allows at most 64`));
        });

        it("an image built without a version, and a version for an image the build ring does not build", () => {
            const doc = parseDocument(readFileSync(join(ROOT, "Pulumi.test.yaml"), "utf8")).toJS() as { config: Record<string, unknown> };
            const values = Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k.replace(/^avd-image-rings:/, ""), v]));
            assert.match(configError({ ...values, imageVersions: { m365: "1.2.0" } }, "test"), /avd-image-rings:images\.dev has no version: add avd-image-rings:imageVersions\.dev/);
        });
    });

    describe("an image counts as validated only when every pool running it passed", () => {
        it("takes the oldest pool version, and none while any pool has not passed", () => {
            assert.equal(validatedByAll(["1.3.0", "1.3.0"]), "1.3.0");
            assert.equal(validatedByAll(["1.3.0", "1.2.0"]), "1.2.0");
            assert.equal(validatedByAll(["1.3.0", undefined]), undefined);
            assert.equal(validatedByAll([]), undefined);
        });
    });
});
