import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { evaluate, type Evaluation, type RecordedResource } from "../preview/engine";
import { PROJECT } from "../src/config/parse";
import { imageVersionId, latestImageReference } from "../src/aib/gallery";
import { onlyImage } from "./fixtures/fleet";
import { singleImageRing } from "./fixtures/singleImageStacks";
import type { GalleryConfig } from "../src/config/types";
import { ImageGallery } from "../components/imageGallery";

const SUBSCRIPTION_ID = "8c6f4f2e-3a1b-4d5c-9e7f-2b1a0c9d8e7f";
const RG = "rg-avd-images-test";
/** The gallery block of the shipped build ring, validated like the program does. */
function shippedGallery(): GalleryConfig {
    return onlyImage(singleImageRing("test")).gallery;
}
const GALLERY = shippedGallery();
const TAGS = { Environment: "Test", CostCenter: "EUC" };

async function deploy(gallery: GalleryConfig = GALLERY, versions: string[] = ["1.2.0"]): Promise<Evaluation> {
    return evaluate({
        project: PROJECT,
        stack: "test",
        config: {},
        secretKeys: [],
        simulation: {
            subscriptionId: SUBSCRIPTION_ID,
            tenantId: "0f1e2d3c-4b5a-4697-8877-665544332211",
            stackOutputs: () => undefined,
            commandStdout: () => "",
        },
        program: async () => {
            const g = new ImageGallery("images", {
                resourceGroupName: RG,
                location: "westeurope",
                galleryName: gallery.name,
                imageDefinitions: { m365: { definition: gallery, logicalSuffix: "" } },
                tags: TAGS,
            });
            const definitionId = g.imageDefinitionIds.m365;
            return {
                galleryId: g.galleryId,
                galleryName: g.galleryName,
                imageDefinitionId: definitionId,
                latestImageReference: latestImageReference(definitionId),
                ...Object.fromEntries(versions.map((v) => [`version ${v}`, imageVersionId(definitionId, v)])),
            };
        },
    });
}

function only(e: Evaluation, type: string): RecordedResource {
    const found = e.resources.filter((r) => r.type === type);
    assert.equal(found.length, 1, `expected one ${type}`);
    return found[0];
}

const GALLERY_SPEC = resolve(__dirname, "azure-rest-specs/specification/compute/resource-manager/Microsoft.Compute/GalleryRP/stable/2024-03-03/gallery.json");

describe("ImageGallery (mock engine, Pulumi.test.yaml)", () => {
    let e: Evaluation;
    before(async () => {
        e = await deploy();
    });

    it("creates the gallery and the image definition under the component", () => {
        const component = only(e, "avd-image-rings:image:ImageGallery");
        const gallery = only(e, "azure-native:compute:Gallery");
        const definition = only(e, "azure-native:compute:GalleryImage");
        assert.equal(gallery.parent, component.urn);
        assert.equal(definition.parent, component.urn);
        assert.equal(gallery.inputs.galleryName, "avd_golden_images");
        assert.equal(gallery.inputs.resourceGroupName, RG);
        assert.deepEqual(gallery.inputs.tags, TAGS);
    });

    it("protects the gallery and the image definition and keeps them in Azure when the stack is torn down", () => {
        for (const type of ["azure-native:compute:Gallery", "azure-native:compute:GalleryImage"]) {
            const r = only(e, type);
            assert.equal(r.options.protect, true, `${type} is protected`);
            assert.equal(r.options.retainOnDelete, true, `${type} is retained on delete`);
        }
    });

    it("defines a generalized Windows image with its publisher/offer/sku, generation 2 and Trusted Launch", () => {
        const d = only(e, "azure-native:compute:GalleryImage").inputs;
        assert.equal(d.galleryName, "avd_golden_images");
        assert.equal(d.galleryImageName, "avd-win11-m365");
        assert.deepEqual(d.identifier, { publisher: "Contoso", offer: "AVD-GoldenImage", sku: "Win11-24H2-M365" });
        assert.equal(d.osType, "Windows");
        assert.equal(d.osState, "Generalized");
        assert.equal(d.hyperVGeneration, "V2");
        assert.deepEqual(d.features, [{ name: "SecurityType", value: "TrustedLaunchSupported" }]);
        assert.equal(d.description, "Windows 11 Enterprise multi-session 24H2 with Microsoft 365 Apps for AVD session hosts");
        assert.deepEqual(d.tags, TAGS);
    });

    it("uses only image definition properties of the 2024-03-03 gallery API, with its enum casing", () => {
        const spec = JSON.parse(readFileSync(GALLERY_SPEC, "utf8")) as {
            definitions: Record<string, { properties: Record<string, { enum?: string[] }> }>;
        };
        const props = spec.definitions.GalleryImageProperties.properties;
        const { resourceGroupName, galleryName, galleryImageName, location, tags, ...properties } = only(e, "azure-native:compute:GalleryImage").inputs;
        assert.ok(resourceGroupName && galleryName && galleryImageName && location && tags);
        assert.deepEqual(Object.keys(properties).sort(), ["description", "features", "hyperVGeneration", "identifier", "osState", "osType"]);
        for (const [key, value] of Object.entries(properties)) {
            assert.ok(props[key], `${key} is not a GalleryImageProperties property`);
            const allowed = props[key].enum;
            if (allowed) assert.ok(allowed.includes(value as string), `${key}: ${String(value)} is not one of ${allowed.join(", ")}`);
        }
    });

    it("exports the gallery, the definition and the floating 'latest' reference", () => {
        const o = e.outputs;
        const galleryId = `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/${RG}/providers/Microsoft.Compute/galleries/avd_golden_images`;
        assert.equal(o.galleryId, galleryId);
        assert.equal(o.galleryName, "avd_golden_images");
        assert.equal(o.imageDefinitionId, `${galleryId}/images/avd-win11-m365`);
        assert.equal(o.latestImageReference, `${galleryId}/images/avd-win11-m365/versions/latest`);
        assert.equal(o["version 1.2.0"], `${galleryId}/images/avd-win11-m365/versions/1.2.0`);
    });

    it("omits Trusted Launch for a generation 1 definition, which Azure refuses it on", async () => {
        const v1 = await deploy({ ...GALLERY, hyperVGeneration: "V1" });
        const d = only(v1, "azure-native:compute:GalleryImage").inputs;
        assert.equal(d.hyperVGeneration, "V1");
        assert.equal("features" in d, false);
    });

    it("refuses a version id for anything but MAJOR.MINOR.PATCH, such as 1.1.0-beta", async () => {
        await assert.rejects(deploy(GALLERY, ["1.1.0-beta"]), /take no pre-release or build suffix/);
    });
});
