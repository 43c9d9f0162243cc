import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { galleryVersionProblem, parseRingConfig } from "../src/config/parse";
import { ConfigError } from "../src/config/reader";
import { readStackConfig } from "../preview/stackConfig";

const ROOT = `${__dirname}/..`;

/** The raw values a shipped stack file gives the program (objects parsed from JSON). */
function shipped(stack: string): Record<string, unknown> {
    const cfg = readStackConfig(ROOT, stack).config;
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
            assert.equal(ring.imageVersion, "1.2.0");
            assert.equal(ring.promoteFrom, undefined);
            assert.ok(ring.image);
            assert.equal(ring.image.gallery.name, "avd_golden_images");
            assert.deepEqual(
                ring.image.customizations.inlineScripts.map((s) => s.name),
                ["disable-ie", "configure-edge", "configure-timezone"],
                "inline scripts keep the order of the stack file",
            );
            assert.deepEqual(ring.image.customizations.chocolateyPackages[1], { name: "7zip", version: "24.9.0" });
            assert.deepEqual(ring.image.distribution.replicationRegions, ["westeurope", "northeurope"]);
            assert.equal(ring.sessionHosts.upgradeMode, "Rolling");
        });

        it("parse pilot and prod as promoted rings without an image block", () => {
            const pilot = parse("pilot", shipped("pilot"));
            const prod = parse("prod", shipped("prod"));
            assert.equal(pilot.promoteFrom, "contoso/avd-image-rings/test");
            assert.equal(prod.promoteFrom, "contoso/avd-image-rings/pilot");
            assert.equal(prod.image, undefined);
            assert.equal(prod.sessionHosts.upgradeMode, "Manual");
            assert.equal(prod.sessionHosts.rollingUpgrade.pauseTimeBetweenBatches, "PT15M");
        });

        it("fill in the documented defaults", () => {
            const ring = parse("test", withValue(shipped("test"), "image.build", undefined));
            assert.equal(ring.image?.build.vmSize, "Standard_D4s_v5");
            assert.equal(ring.image?.build.osDiskSizeGb, 127);
            assert.equal(ring.image?.build.timeoutMinutes, 240);
            assert.equal(ring.sessionHosts.hostPool.registrationTokenValidityDays, 27);
            assert.deepEqual(ring.image?.customizations.windowsUpdate.filters, ["exclude:$_.Title -like '*Preview*'", "include:$true"]);
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

        it("requires the secret password for an Active Directory join", () => {
            const values = withValue(shipped("prod"), "sessionHosts.domainJoin", { type: "ActiveDirectory", domainName: "corp.contoso.com", username: "svc-join" });
            expectError("prod", values, /avd-image-rings:domainJoinPassword is required .* pulumi config set --secret avd-image-rings:domainJoinPassword/);
        });

        it("takes the AD join password only as a secret", () => {
            const values = withValue(shipped("prod"), "sessionHosts.domainJoin", { type: "ActiveDirectory", domainName: "corp.contoso.com", username: "svc-join" });
            const ring = parse("prod", { ...values, domainJoinPassword: "plain" }, (k) => (k === "domainJoinPassword" ? pulumi.secret("s3cret") : undefined));
            assert.equal(ring.sessionHosts.domainJoin.type, "ActiveDirectory");
        });

        it("reads integers written as strings by `pulumi config set`", () => {
            const ring = parse("prod", withValue(shipped("prod"), "sessionHosts.capacity", "42"));
            assert.equal(ring.sessionHosts.capacity, 42);
        });
    });
});
