import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { onlyImage, onlyPool } from "./fixtures/fleet";
import { galleryVersionProblem, nearMissNamespaceProblem, parseRingConfig } from "../src/config/parse";
import { ConfigError } from "../src/config/reader";
import { readStackConfig } from "../preview/stackConfig";
import { SINGLE_IMAGE_DIR } from "./fixtures/singleImageStacks";

const ROOT = `${__dirname}/..`;

/** The raw values a single-image example stack file gives the program (objects parsed from JSON). */
function shipped(stack: string): Record<string, unknown> {
    const cfg = readStackConfig(ROOT, stack, SINGLE_IMAGE_DIR).config;
    const values: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(cfg)) {
        const key = k.replace(/^avd-image-rings:/, "");
        values[key] = /^[[{]/.test(v) ? JSON.parse(v) : v;
    }
    return values;
}

const noSecrets = () => undefined;

function parse(stack: string, values: Record<string, unknown>, secret: (k: string) => pulumi.Output<string> | undefined = noSecrets) {
    return parseRingConfig({ stack, values, secret });
}

/** Applies a change at a dotted path of a deep copy. */
function withValue(values: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
    const copy = JSON.parse(JSON.stringify(values)) as Record<string, unknown>;
    const keys = path.split(".");
    let node = copy;
    for (const k of keys.slice(0, -1)) node = node[k] as Record<string, unknown>;
    if (value === undefined) delete node[keys[keys.length - 1]];
    else node[keys[keys.length - 1]] = value;
    return copy;
}

function expectError(stack: string, values: Record<string, unknown>, message: string | RegExp): void {
    assert.throws(
        () => parse(stack, values),
        (err: unknown) => {
            assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
            if (typeof message === "string") assert.equal(err.message, message);
            else assert.match(err.message, message);
            return true;
        },
    );
}

describe("ring configuration", () => {
    describe("the shipped stack files", () => {
        it("parse the test ring as the build ring with the full image block", () => {
            const ring = parse("test", shipped("test"));
            assert.equal(ring.imageVersions.default, "1.2.0");
            assert.equal(ring.promoteFrom, undefined);
            assert.ok(onlyImage(ring));
            assert.equal(onlyImage(ring).gallery.name, "avd_golden_images");
            assert.deepEqual(
                onlyImage(ring).customizations.inlineScripts.map((s) => s.name),
                ["disable-ie", "configure-edge", "configure-timezone"],
                "inline scripts keep the order of the stack file",
            );
            assert.deepEqual(onlyImage(ring).customizations.chocolateyPackages[1], { name: "7zip", version: "24.9.0" });
            assert.deepEqual(onlyImage(ring).distribution.replicationRegions, ["westeurope", "northeurope"]);
            assert.equal(onlyPool(ring).sessionHosts.upgradeMode, "Rolling");
        });

        it("parse pilot and prod as promoted rings without an image block", () => {
            const pilot = parse("pilot", shipped("pilot"));
            const prod = parse("prod", shipped("prod"));
            assert.equal(pilot.promoteFrom, "contoso/avd-image-rings/test");
            assert.equal(prod.promoteFrom, "contoso/avd-image-rings/pilot");
            assert.deepEqual(prod.images, {}, "a promoted ring builds no image");
            assert.equal(onlyPool(prod).sessionHosts.upgradeMode, "Manual");
            assert.equal(onlyPool(prod).sessionHosts.rollingUpgrade.pauseTimeBetweenBatches, "PT15M");
        });

        it("fill in the documented defaults", () => {
            const ring = parse("test", withValue(shipped("test"), "image.build", undefined));
            assert.equal(onlyImage(ring)?.build.vmSize, "Standard_D4s_v5");
            assert.equal(onlyImage(ring)?.build.osDiskSizeGb, 127);
            assert.equal(onlyImage(ring)?.build.timeoutMinutes, 240);
            assert.equal(onlyPool(ring).sessionHosts.hostPool.registrationTokenValidityDays, 27);
            assert.deepEqual(onlyImage(ring)?.customizations.windowsUpdate.filters, ["exclude:$_.Title -like '*Preview*'", "include:$true"]);
        });
    });

    describe("image versions", () => {
        it("accept semver and date-based versions", () => {
            for (const v of ["1.0.0", "2.1.0", "2026.1.0", "0.0.1", "2147483647.0.0"]) assert.equal(galleryVersionProblem(v), undefined, v);
        });

        it("refuse the seed's 1.1.0-beta and say why", () => {
            expectError(
                "test",
                { ...shipped("test"), imageVersion: "1.1.0-beta" },
                /^Pulumi\.test\.yaml: avd-image-rings:imageVersion is not a valid gallery image version: .*no pre-release or build suffix such as "-beta"/,
            );
        });

        it("refuse leading zeros with the corrected version", () => {
            expectError("test", { ...shipped("test"), imageVersion: "2026.01.0" }, /write "2026\.1\.0" without leading zeros/);
        });

        it("refuse two-part, four-part and oversized versions", () => {
            expectError("prod", { ...shipped("prod"), imageVersion: "1.2" }, /must be a MAJOR\.MINOR\.PATCH version/);
            expectError("prod", { ...shipped("prod"), imageVersion: "1.2.3.4" }, /must be a MAJOR\.MINOR\.PATCH version/);
            expectError("prod", { ...shipped("prod"), imageVersion: "2147483648.0.0" }, /larger than Azure's limit of 2147483647/);
        });
    });

    describe("bad input names the stack file and the key", () => {
        const cases: Array<[string, string, unknown, string | RegExp]> = [
            ["prod", "sessionHosts.osDiskSizeGb", "abc", 'Pulumi.prod.yaml: avd-image-rings:sessionHosts.osDiskSizeGb must be an integer, got "abc"'],
            ["prod", "sessionHosts.osDiskSizeGb", 12.5, "Pulumi.prod.yaml: avd-image-rings:sessionHosts.osDiskSizeGb must be an integer, got 12.5"],
            ["prod", "sessionHosts.upgradeMode", "manual", /upgradeMode must be one of "Manual", "Rolling", "Automatic", got "manual" \(did you mean "Manual"\?/],
            ["prod", "sessionHosts.capacity", 1001, "Pulumi.prod.yaml: avd-image-rings:sessionHosts.capacity must be between 1 and 1000, got 1001"],
            ["prod", "sessionHosts.computerNamePrefix", "avd-prod-hosts", /computerNamePrefix must be 1-9 letters/],
            ["prod", "sessionHosts.subnetId", "snet-avd", /subnetId must be a subnet resource ID/],
            ["prod", "sessionHosts.zones", ["1", "4"], /sessionHosts\.zones\[1\] must be an availability zone/],
            ["prod", "sessionHosts.rollingUpgrade.pauseTimeBetweenBatches", "5m", /pauseTimeBetweenBatches is not an ISO 8601 duration such as "PT5M".*, got "5m"/],
            ["prod", "sessionHosts.rollingUpgrade.maxBatchInstancePercent", 0, /maxBatchInstancePercent must be between 5 and 100, got 0/],
            ["prod", "sessionHosts.adminUsername", "administrator", /adminUsername is a name Azure reserves/],
            ["prod", "sessionHosts.osDiskSizeGB", 128, /sessionHosts\.osDiskSizeGB is not a known key \(did you mean "osDiskSizeGb"\?\)/],
            ["prod", "sessionHosts", "big", 'Pulumi.prod.yaml: avd-image-rings:sessionHosts must be an object, got "big"'],
            ["prod", "location", "West Europe", /location must be an Azure region's programmatic name/],
            ["prod", "promoteFrom", "pilot", /promoteFrom must be a fully-qualified stack name/],
            ["test", "image.gallery.name", "avd-golden-images", /image\.gallery\.name must be 1-80 letters, digits, '_' or '\.' \(no '-'/],
            ["test", "image.gallery.hyperVGeneration", "V3", /hyperVGeneration must be one of "V1", "V2"/],
            ["test", "image.build.timeoutMinutes", 961, /image\.build\.timeoutMinutes must be between 0 and 960, got 961/],
            ["test", "image.distribution.replicaCount", 0, /replicaCount must be between 1 and 100, got 0/],
            ["test", "image.distribution.replicationRegions", ["northeurope", "northeurope"], /replicationRegions lists "northeurope" twice/],
            ["test", "image.customizations.scriptUris.harden-os", "https://example.org/h.ps1", /scriptUris\.harden-os must be \{uri, sha256\}/],
            ["test", "image.customizations.scriptUris.harden-os.uri", "http://example.org/h.ps1", /harden-os\.uri must be an https:\/\/ URL/],
            ["test", "image.customizations.scriptUris.harden-os.sha256", "abc", /harden-os\.sha256 must be the script's SHA-256 checksum/],
            ["test", "image.customizations.chocolateyPackages", ["7zip@1@2"], /chocolateyPackages\[0\] must be "<package>" or "<package>@<version>"/],
            ["test", "image.customizations.inlineScripts.disable-ie", [], /inlineScripts\.disable-ie must be a non-empty list of PowerShell lines/],
        ];
        for (const [stack, path, value, message] of cases) {
            it(`${stack}: ${path} = ${JSON.stringify(value)}`, () => expectError(stack, withValue(shipped(stack), path, value), message));
        }

        const azureCases: Array<[string, string, unknown, RegExp]> = [
            ["prod", "tags", { "cost/center": "EUC" }, /^Pulumi\.prod\.yaml: avd-image-rings:tags\.cost\/center is a tag name with "\/", which Azure does not allow/],
            ["prod", "tags", { azureOwner: "x" }, /tags\.azureOwner is a tag name starting with "azure", a prefix Azure reserves/],
            ["prod", "tags", { ["K".repeat(513)]: "x" }, /is a tag name of 513 characters; Azure allows at most 512/],
            ["prod", "tags", { Owner: "v".repeat(257) }, /tags\.Owner is a tag value of 257 characters; Azure allows at most 256/],
            ["prod", "tags", { CostCenter: "a", costcenter: "b" }, /tags\.costcenter differs from the tag "CostCenter" only in case/],
            ["prod", "tags", { ring: "x" }, /tags\.ring is the tag "Ring" the program sets itself \(Azure treats tag names case-insensitively\)/],
            ["test", "image.tags", { contenthash: "x" }, /image\.tags\.contenthash is the tag "ContentHash" the program sets itself/],
            ["test", "image.tags", { environment: "x" }, /image\.tags\.environment differs from the ring tag "Environment" .* only in case/],
            ["prod", "tags", Object.fromEntries(Array.from({ length: 48 }, (_, i) => [`T${i}`, "x"])), /avd-image-rings:tags has 48 tags; .* at most 47 tags fit here/],
            ["test", "image.tags", Object.fromEntries(Array.from({ length: 47 }, (_, i) => [`T${i}`, "x"])), /image\.tags has 47 tags; the published image version gets them plus 9 the program sets, .* at most 41 fit here/],
            ["prod", "sessionHosts.subnetId", "/subscriptions/not-a-guid-at-all-0000000000000000000/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v1/subnets/s", /subnetId .*the subscription segment "not-a-guid.*" is not a subscription ID/],
            ["prod", "sessionHosts.subnetId", "/subscriptions/8c6f4f2e-3a1b-4d5c-9e7f-2b1a0c9d8e7f/resourceGroups/rg./providers/Microsoft.Network/virtualNetworks/v1/subnets/s", /the resource-group segment "rg\." is not a valid resource group name/],
            ["prod", "sessionHosts.subnetId", "/subscriptions/8c6f4f2e-3a1b-4d5c-9e7f-2b1a0c9d8e7f/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s", /the virtual-network segment "v" is not a valid virtual network name/],
            ["prod", "sessionHosts.rollingUpgrade.maxBatchInstancePercent", 50, /maxBatchInstancePercent \(50\) is above maxUnhealthyInstancePercent \(10\); Azure refuses/],
            ["prod", "sessionHosts.capacity", 0, /sessionHosts\.capacity must be between 1 and 1000, got 0/],
            ["prod", "sessionHosts.drain.messageTitle", "Maintenance\u0000", /drain\.messageTitle holds the control character U\+0000/],
            ["prod", "sessionHosts.drain.messageTitle", "two\nlines", /drain\.messageTitle holds the control character U\+000A .*one line/],
            ["test", "image.customizations.inlineScripts.disable-ie", ["Write-Host ok", "Write-Host \u001b[31m"], /inlineScripts\.disable-ie\[1\] holds the control character U\+001B/],
            ["prod", "promoteFrom", "contoso/avd-image-rings-old/pilot", /promoteFrom must be a fully-qualified stack name of this project/],
            ["prod", "promoteFrom", "contoso/avd-image-rings/prod", /promoteFrom names this ring itself/],
            ["test", "image.build.stagingResourceGroupName", "RG-AVD-IMAGES-TEST", /stagingResourceGroupName is the ring's own resource group \(rg-avd-images-test\); Image Builder needs an empty group/],
            ["prod", "sessionHosts.healthGate.probeTimeoutMinutes", 91, /probeTimeoutMinutes must be between 1 and 90, got 91/],
            ["prod", "sessionHosts.rollout", { maxRunMinute: 60 }, /rollout\.maxRunMinute is not a known key \(did you mean "maxRunMinutes"\?\)/],
            ["prod", "sessionHosts.rollout", { strategy: "blue-green" }, /avd-image-rings:sessionHosts\.rollout\.strategy must be one of "reimage", "surge", got "blue-green"/],
            ["prod", "sessionHosts.rollout", { pacing: "lockstep" }, /avd-image-rings:sessionHosts\.rollout\.pacing must be one of "host", "batch", got "lockstep"/],
            ["prod", "sessionHosts.rollout", { strategy: "surge", pacing: "batch" }, /sessionHosts\.rollout\.pacing is batch, but a surge is always paced by host .*use strategy: reimage for lockstep batches/],
            ["prod", "sessionHosts.rollingUpgrade.pauseTimeBetweenBatches", "P1W", /uses years or months \(or weeks\)/],
        ];
        for (const [stack, path, value, message] of azureCases) {
            it(`Azure's rules: ${stack}: ${path} = ${JSON.stringify(value).slice(0, 60)}`, () => expectError(stack, withValue(shipped(stack), path, value), message));
        }

        it("refuses a stack name that makes a composed Azure name too long, naming the file", () => {
            const stack = "p".repeat(54);
            expectError(stack, shipped("prod"), new RegExp(`^Pulumi\\.${stack}\\.yaml: the stack name "${stack}" \\(taken from this file's name\\) makes the host pool name "vdpool-avd-p+" 65 characters long; Azure allows at most 64, so the stack name can have at most 53`));
            assert.equal(parse("p".repeat(53), shipped("prod")).stack.length, 53, "53 characters fit");
            expectError("prod.", shipped("prod"), /makes the scale set name "vmss-avd-prod\.", which Azure refuses/);
        });

        it("never echoes the value of a secret key", () => {
            const values = { ...shipped("prod"), sessionHosts: "hunter2-secret-value" };
            assert.throws(
                () => parseRingConfig({ stack: "prod", values, secret: noSecrets, secretKeys: ["sessionHosts"] }),
                (err: unknown) => err instanceof ConfigError && /sessionHosts must be an object, got a secret value/.test(err.message) && !err.message.includes("hunter2"),
            );
        });

        it("refuses near-miss namespaces and project keys used as namespaces, but not providers'", () => {
            assert.match(nearMissNamespaceProblem("avd-image-ring:tags") ?? "", /did you mean "avd-image-rings:tags"/);
            assert.match(nearMissNamespaceProblem("avd-imagerings:sessionHosts") ?? "", /did you mean "avd-image-rings:sessionHosts"/);
            assert.match(nearMissNamespaceProblem("sessionHosts:capacity") ?? "", /did you mean "avd-image-rings:sessionHosts"/);
            for (const ok of ["azure-native:location", "pulumi:tags", "command:shell", "avd-image-rings:tags", "random:seed"]) assert.equal(nearMissNamespaceProblem(ok), undefined, ok);
        });

        it("takes the new rollout, drain and probe settings with their defaults", () => {
            const ring = parse("prod", withValue(shipped("prod"), "sessionHosts.rollout", {}));
            assert.equal(onlyPool(ring).sessionHosts.rollout.maxRunMinutes, undefined);
            assert.equal(onlyPool(ring).sessionHosts.rollout.strategy, "reimage", "today's in-place reimage unless a ring asks for surge");
            assert.equal(onlyPool(parse("prod", withValue(shipped("prod"), "sessionHosts.rollout", { strategy: "surge" }))).sessionHosts.rollout.strategy, "surge");
            assert.equal(onlyPool(ring).sessionHosts.rollout.pacing, "host", "paced by host unless a ring asks for lockstep batches");
            assert.equal(onlyPool(parse("prod", withValue(shipped("prod"), "sessionHosts.rollout", { pacing: "batch" }))).sessionHosts.rollout.pacing, "batch");
            assert.equal(onlyPool(ring).sessionHosts.drain.logOffDisconnectedSessions, false);
            assert.equal(onlyPool(ring).sessionHosts.healthGate.probeTimeoutMinutes, 10);
            const set = parse("prod", withValue(withValue(shipped("prod"), "sessionHosts.rollout", { maxRunMinutes: 600 }), "sessionHosts.drain.logOffDisconnectedSessions", true));
            assert.equal(onlyPool(set).sessionHosts.rollout.maxRunMinutes, 600);
            assert.equal(onlyPool(set).sessionHosts.drain.logOffDisconnectedSessions, true);
        });

        it("refuses an image block in a promoted ring", () => {
            expectError("prod", { ...shipped("prod"), image: shipped("test").image }, /avd-image-rings:image is only allowed in the build ring/);
        });

        it("requires an image block in the build ring", () => {
            expectError("test", withValue(shipped("test"), "image", undefined), /avd-image-rings:image is required in the build ring/);
        });

        it("refuses a forced logoff without a message to users", () => {
            const values = withValue(withValue(shipped("prod"), "sessionHosts.drain.forceLogoffAfterTimeout", true), "sessionHosts.drain.messageBody", undefined);
            expectError("prod", values, /forceLogoffAfterTimeout needs drain\.messageBody/);
        });

        it("refuses a Manual ring that follows the image definition's latest version, which the rollout could never move", () => {
            expectError("prod", withValue(shipped("prod"), "sessionHosts.useLatestImage", true), /^Pulumi\.prod\.yaml: avd-image-rings:sessionHosts\.useLatestImage cannot be true with upgradeMode Manual/);
            const rolling = parse("test", withValue(shipped("test"), "sessionHosts.useLatestImage", true));
            assert.equal(onlyPool(rolling).sessionHosts.useLatestImage, true, "a Rolling test ring may follow latest");
        });

        it("requires the secret password for an Active Directory join", () => {
            const values = withValue(shipped("prod"), "sessionHosts.domainJoin", { type: "ActiveDirectory", domainName: "corp.contoso.com", username: "svc-join" });
            expectError("prod", values, /avd-image-rings:domainJoinPassword is required .* pulumi config set --secret avd-image-rings:domainJoinPassword/);
        });

        it("takes the AD join password only as a secret", () => {
            const values = withValue(shipped("prod"), "sessionHosts.domainJoin", { type: "ActiveDirectory", domainName: "corp.contoso.com", username: "svc-join" });
            const ring = parse("prod", { ...values, domainJoinPassword: "plain" }, (k) => (k === "domainJoinPassword" ? pulumi.secret("s3cret") : undefined));
            assert.equal(onlyPool(ring).sessionHosts.domainJoin.type, "ActiveDirectory");
        });

        it("reads integers written as strings by `pulumi config set`", () => {
            const ring = parse("prod", withValue(shipped("prod"), "sessionHosts.capacity", "42"));
            assert.equal(onlyPool(ring).sessionHosts.capacity, 42);
        });
    });
});
