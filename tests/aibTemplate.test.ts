import { strict as assert } from "node:assert";
import { onlyImage } from "./fixtures/fleet";
import { singleImageRing } from "./fixtures/singleImageStacks";
import type { ImageConfig } from "../src/config/types";
import {
    canonicalJson,
    imageTemplateContent,
    imageTemplateName,
    resolveTemplate,
    TEMPLATE_NAME_PATTERN,
    type TemplateIds,
    type TemplateInput,
} from "../src/aib/template";
import { applicationsTag, artifactTags, MAX_TAG_VALUE_LENGTH, runOutputName, targetRegions } from "../src/aib/distribution";

/** The image block of the shipped build ring, validated like the program does. */
function shippedImage(): { image: ImageConfig; location: string; imageVersion: string } {
    const ring = singleImageRing("test");
    const image = onlyImage(ring);
    return { image, location: ring.location, imageVersion: image.imageVersion };
}

const SUB = "/subscriptions/8c6f4f2e-3a1b-4d5c-9e7f-2b1a0c9d8e7f";
const RG = `${SUB}/resourceGroups/rg-avd-images-test`;
const ids = (version: string): TemplateIds<string> => ({
    identityId: `${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib-avd-win11-m365`,
    galleryImageVersionId: `${RG}/providers/Microsoft.Compute/galleries/avd_golden_images/images/avd-win11-m365/versions/${version}`,
});
const RING_TAGS: Record<string, string> = { Environment: "Test", CostCenter: "EUC" };

function withImage(base: TemplateInput, change: (image: ImageConfig) => ImageConfig): TemplateInput {
    return { ...base, image: change(structuredClone(base.image)) };
}

describe("AIB template content", () => {
    const input: TemplateInput = shippedImage();

    it("starts from the configured marketplace image", () => {
        const c = imageTemplateContent(input, ids(input.imageVersion));
        assert.deepEqual(c.source, { type: "PlatformImage", publisher: "MicrosoftWindowsDesktop", offer: "office-365", sku: "win11-24h2-avd-m365", version: "latest" });
    });

    it("uses the user-assigned identity, the build VM settings and the error handling from config", () => {
        const c = imageTemplateContent(input, ids(input.imageVersion));
        assert.deepEqual(c.identity, { type: "UserAssigned", userAssignedIdentities: [ids("x").identityId] });
        assert.deepEqual(c.vmProfile, { vmSize: "Standard_D8s_v5", osDiskSizeGB: 127 });
        assert.equal(c.buildTimeoutInMinutes, 300);
        assert.deepEqual(c.errorHandling, { onCustomizerError: "cleanup", onValidationError: "cleanup" });
        assert.deepEqual(c.optimize, { vmBoot: { state: "Enabled" } });
        assert.deepEqual(c.autoRun, { state: "Disabled" });
        assert.equal("stagingResourceGroup" in c, false);
    });

    it("joins the configured subnet (with its proxy VM size) and stages in the configured group", () => {
        const subnetId = `${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-build/subnets/snet-aib`;
        const changed = withImage(input, (image) => ({ ...image, build: { ...image.build, vnet: { subnetId, proxyVmSize: "Standard_A1_v2" } } }));
        const staging = `${SUB}/resourceGroups/rg-aib-staging`;
        const c = imageTemplateContent(changed, { ...ids("1.2.0"), stagingResourceGroupId: staging });
        assert.deepEqual(c.vmProfile.vnetConfig, { subnetId, proxyVmSize: "Standard_A1_v2" });
        assert.equal(c.stagingResourceGroup, staging);
    });

    it("publishes exactly the configured version to one gallery target", () => {
        const c = imageTemplateContent(input, ids("1.2.0"));
        assert.equal(c.distribute.length, 1);
        assert.deepEqual(c.distribute[0], {
            type: "SharedImage",
            galleryImageId: ids("1.2.0").galleryImageVersionId,
            runOutputName: "avd-win11-m365-1.2.0",
            targetRegions: [
                { name: "westeurope", replicaCount: 2, storageAccountType: "Standard_ZRS" },
                { name: "northeurope", replicaCount: 2, storageAccountType: "Standard_ZRS" },
            ],
            excludeFromLatest: false,
        });
    });
});

describe("AIB distribution", () => {
    const distribution = { replicationRegions: ["northeurope", "westeurope", "swedencentral"], replicaCount: 3, storageAccountType: "Premium_LRS" as const, excludeFromLatest: true };

    it("replicates to the build region first, each region once, with the configured replicas and storage", () => {
        assert.deepEqual(targetRegions(distribution, "westeurope"), [
            { name: "westeurope", replicaCount: 3, storageAccountType: "Premium_LRS" },
            { name: "northeurope", replicaCount: 3, storageAccountType: "Premium_LRS" },
            { name: "swedencentral", replicaCount: 3, storageAccountType: "Premium_LRS" },
        ]);
    });

    it("keeps test versions out of 'latest' when excludeFromLatest is set", () => {
        const input = shippedImage();
        const changed = withImage(input, (image) => ({ ...image, distribution: { ...image.distribution, excludeFromLatest: true } }));
        assert.equal(imageTemplateContent(changed, ids("1.2.0")).distribute[0].excludeFromLatest, true);
    });

    it("keeps run output names within Image Builder's 64 characters", () => {
        const name = runOutputName("d".repeat(80), "2147483647.2147483647.2147483647");
        assert.ok(name.length <= 64, name);
        assert.match(name, /^[A-Za-z0-9_.-]{1,64}$/);
        assert.ok(name.endsWith("-2147483647.2147483647.2147483647"));
    });

    it("tags the version with the seed's tagging strategy and the content hash, without a build date", () => {
        const { image } = shippedImage();
        assert.deepEqual(artifactTags(image, "1.2.0", "c0ffee"), {
            PatchLevel: "2026-11",
            TestedBy: "AVD-Team",
            ImageVersion: "1.2.0",
            BaseImage: "MicrosoftWindowsDesktop:office-365:win11-24h2-avd-m365:latest",
            Applications: "googlechrome,7zip,adobereader,microsoft-teams-new-bootstrapper",
            ContentHash: "c0ffee",
        });
    });

    it("does not let configured tags override the generated ones", () => {
        const { image } = shippedImage();
        const tags = artifactTags({ ...image, tags: { ImageVersion: "9.9.9", ContentHash: "forged" } }, "1.2.0", "c0ffee");
        assert.equal(tags.ImageVersion, "1.2.0");
        assert.equal(tags.ContentHash, "c0ffee");
    });

    it("shortens a long application list at a package boundary to fit Azure's 256-character tag value", () => {
        const ids = Array.from({ length: 40 }, (_, i) => `package-number-${i}`);
        const tag = applicationsTag(ids);
        assert.ok(tag.length <= MAX_TAG_VALUE_LENGTH, `${tag.length}`);
        const m = /^(.*),\+(\d+) more$/.exec(tag);
        assert.ok(m, tag);
        const kept = m[1].split(",");
        assert.deepEqual(kept, ids.slice(0, kept.length));
        assert.equal(kept.length + Number(m[2]), ids.length);
    });
});

describe("AIB content hash and template name", () => {
    const input: TemplateInput = shippedImage();
    const resolve = (i: TemplateInput, tags = RING_TAGS, version = i.imageVersion) => resolveTemplate(i, tags, ids(version));

    it("hashes the content as SHA-256 hex, the same for the same content", () => {
        const a = resolve(input);
        const b = resolve(shippedImage());
        assert.match(a.contentHash, /^[0-9a-f]{64}$/);
        assert.equal(a.contentHash, b.contentHash);
        assert.equal(a.name, b.name);
    });

    it("does not depend on object key order", () => {
        assert.equal(canonicalJson({ b: 1, a: { d: [2, 1], c: null } }), canonicalJson({ a: { c: null, d: [2, 1] }, b: 1 }));
        assert.notEqual(canonicalJson([1, 2]), canonicalJson([2, 1]));
    });

    it("ignores tags: ring tags and image tags leave the content hash alone", () => {
        const retagged = withImage(input, (image) => ({ ...image, tags: { ...image.tags, WindowsUpdates: "2026-12" } }));
        assert.equal(resolve(retagged, { Environment: "Other" }).contentHash, resolve(input).contentHash);
    });

    it("changes with any content: a customisation, a region, the build VM, the base image", () => {
        const base = resolve(input).contentHash;
        const changes: Array<(image: ImageConfig) => ImageConfig> = [
            (i) => ({ ...i, customizations: { ...i.customizations, inlineScripts: [...i.customizations.inlineScripts].reverse() } }),
            (i) => ({ ...i, customizations: { ...i.customizations, chocolateyPackages: [{ name: "7zip", version: "24.8.0" }] } }),
            (i) => ({ ...i, distribution: { ...i.distribution, replicationRegions: ["westeurope"] } }),
            (i) => ({ ...i, build: { ...i.build, vmSize: "Standard_D4s_v5" } }),
            (i) => ({ ...i, baseImage: { ...i.baseImage, version: "26100.2605.241207" } }),
        ];
        const hashes = changes.map((change) => resolve(withImage(input, change)).contentHash);
        for (const h of hashes) assert.notEqual(h, base);
        assert.equal(new Set(hashes).size, hashes.length);
    });

    it("names the template it-<definition>-<X-Y-Z>-<hash8>", () => {
        const r = resolve(input);
        assert.match(r.name, /^it-avd-win11-m365-1-2-0-[0-9a-f]{8}$/);
        assert.match(r.name, TEMPLATE_NAME_PATTERN);
    });

    it("gives a new name for a new version, new content or new tags (Image Builder cannot update a template), the same name otherwise", () => {
        const name = resolve(input).name;
        assert.equal(resolve(shippedImage()).name, name);
        assert.notEqual(resolve({ ...input, imageVersion: "1.3.0" }, RING_TAGS, "1.3.0").name, name);
        assert.notEqual(resolve(withImage(input, (i) => ({ ...i, build: { ...i.build, timeoutMinutes: 301 } }))).name, name);
        assert.notEqual(resolve(input, { ...RING_TAGS, Owner: "euc-team" }).name, name);
    });

    it("stays within 64 characters of [A-Za-z0-9-_.] for the longest definition and version", () => {
        const name = imageTemplateName(`${"a".repeat(78)}.b`, "2147483647.2147483647.2147483647", "0123456789abcdef");
        assert.ok(name.length <= 64, `${name} (${name.length})`);
        assert.match(name, TEMPLATE_NAME_PATTERN);
        assert.ok(name.endsWith("-2147483647-2147483647-2147483647-01234567"), name);
    });

    it("puts the content hash and version on the template, and ring tags on Image Builder's temporary resources", () => {
        const r = resolve(input);
        assert.deepEqual(r.tags.tags, { ...RING_TAGS, PatchLevel: "2026-11", TestedBy: "AVD-Team", ImageVersion: "1.2.0", ContentHash: r.contentHash });
        assert.deepEqual(r.tags.managedResourceTags, { ...RING_TAGS, ImageVersion: "1.2.0" });
        assert.equal(r.tags.artifactTags.ContentHash, r.contentHash);
    });

    it("reads no clock: the same template at two different times", () => {
        const RealDate = Date;
        const at = (iso: string) => {
            class FixedDate extends RealDate {
                constructor(...args: [] | [string | number | Date]) {
                    super(args.length === 0 ? iso : args[0]);
                }
                static now() {
                    return new RealDate(iso).getTime();
                }
            }
            globalThis.Date = FixedDate as DateConstructor;
            try {
                return resolve(shippedImage());
            } finally {
                globalThis.Date = RealDate;
            }
        };
        const first = at("2026-01-01T00:00:00Z");
        const second = at("2031-07-15T12:34:56Z");
        assert.deepEqual(second, first);
        assert.doesNotMatch(canonicalJson(first), /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/);
    });
});
