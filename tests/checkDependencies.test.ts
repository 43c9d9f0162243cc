import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { judge, pinsOf, providerPlugin, releaseUrl, type RegistryAnswer } from "../scripts/checkDependencies";

/** A registry answer recorded with `npm view <pkg>@<version> --json`, trimmed to the fields the check reads. */
function recorded(file: string): RegistryAnswer {
    return JSON.parse(readFileSync(join(__dirname, "fixtures/registry", file), "utf8")) as RegistryAnswer;
}

const pin = (name: string, spec: string) => ({ manifest: "package.json", name, spec });

describe("dependency check (npm run check-deps), over recorded registry answers", () => {
    it("fails @pulumi/command 4.5.0: deprecated, and newer than the latest release 1.2.1", () => {
        const f = judge(pin("@pulumi/command", "4.5.0"), recorded("pulumi-command-4.5.0.json"));
        assert.equal(f.ok, false);
        assert.ok(f.problems.some((p) => p.includes("deprecated") && p.includes("npm marks this version deprecated.")));
        assert.ok(f.problems.some((p) => p.includes("newer than the registry's latest release 1.2.1")));
    });

    it("passes @pulumi/command 1.2.1: not deprecated, installs plugin v1.2.1, is the latest release", () => {
        const f = judge(pin("@pulumi/command", "1.2.1"), recorded("pulumi-command-1.2.1.json"));
        assert.deepEqual(f.problems, []);
        assert.equal(f.ok, true);
        assert.deepEqual(f.plugin, { name: "command", version: "1.2.1", server: undefined });
    });

    it("reads the plugin version from the install script when the manifest's pulumi field has none", () => {
        assert.deepEqual(providerPlugin(recorded("pulumi-command-4.5.0.json")), { name: "command", version: "4.5.0", server: undefined });
        assert.equal(providerPlugin(recorded("semver-7.8.6.json")), undefined, "a plain library is no provider");
    });

    it("fails a provider package whose plugin version differs from its own", () => {
        const answer = recorded("pulumi-azure-native-3.28.0.json");
        const f = judge(pin("@pulumi/azure-native", "3.28.0"), { ...answer, pulumi: { resource: true, name: "azure-native", version: "3.27.0" } });
        assert.equal(f.ok, false);
        assert.match(f.problems.join("\n"), /installs the azure-native plugin v3\.27\.0, not v3\.28\.0/);
    });

    it("fails a pin that is a range, without asking the registry", () => {
        const f = judge(pin("semver", "^7.8.6"), undefined);
        assert.equal(f.ok, false);
        assert.match(f.problems[0], /not an exact version/);
    });

    it("fails a version the registry does not have", () => {
        const f = judge(pin("@pulumi/command", "9.9.9"), undefined);
        assert.equal(f.ok, false);
        assert.match(f.problems[0], /no version 9\.9\.9/);
    });

    it("passes a plain library that is published and not deprecated", () => {
        assert.equal(judge(pin("semver", "7.8.6"), recorded("semver-7.8.6.json")).ok, true);
    });

    it("points --releases at the provider's own repository, tag v<plugin version>", () => {
        const f = judge(pin("@pulumi/azure-native", "3.28.0"), recorded("pulumi-azure-native-3.28.0.json"));
        assert.equal(releaseUrl(f), "https://github.com/pulumi/pulumi-azure-native/releases/tag/v3.28.0");
        assert.equal(releaseUrl(judge(pin("semver", "7.8.6"), recorded("semver-7.8.6.json"))), undefined);
    });

    it("checks both manifests' dependencies and devDependencies, and every one of them is pinned exactly", () => {
        const root = join(__dirname, "..");
        const pins = ["package.json", "policy/package.json"].flatMap((m) => pinsOf(m, JSON.parse(readFileSync(join(root, m), "utf8"))));
        assert.ok(pins.some((p) => p.manifest === "policy/package.json" && p.name === "@pulumi/pulumi"));
        assert.ok(pins.some((p) => p.name === "mocha"), "devDependencies are included");
        const loose = pins.filter((p) => judge(p, undefined).problems.some((x) => x.includes("not an exact version")));
        assert.deepEqual(loose, []);
    });
});
