// The offline preview's policy runner: what it sends through the analyzer interface (checked with
// a test pack that echoes what it receives), how it configures the pack like the CLI does, and how
// it reports failures.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
    defaultPolicyConfigPath,
    PolicyConfigError,
    PolicyPackError,
    POLICY_CONFIG_DIR,
    startPolicyPack,
    type PolicyInputResource,
    type PolicyPackConfig,
    type PolicyPackHandle,
    type PolicyViolation,
} from "../preview/policyRunner";
import * as f from "./fixtures/policy/resources";

const FIXTURES = path.join(__dirname, "fixtures", "policy");

interface EchoedResource {
    type: string;
    name: string;
    parent: string | null;
    props: Record<string, unknown>;
    config: Record<string, unknown>;
}

interface EchoedStackResource {
    urn: string;
    parent: string | null;
    propertyDependencies: Record<string, string[]>;
    props: Record<string, unknown>;
}

/** The JSON a test-pack policy reported (after the policy description line). */
function echoed<T>(v: PolicyViolation): T {
    return JSON.parse(v.message.slice(v.message.indexOf("\n") + 1)) as T;
}

const component: PolicyInputResource = {
    urn: "urn:pulumi:pilot::avd-image-rings::avd:index:SessionHostPool::hosts",
    type: "avd:index:SessionHostPool",
    name: "hosts",
    parent: f.stackResource("pilot").urn,
    inputs: {},
};
const scaleSet: PolicyInputResource = {
    urn: "urn:pulumi:pilot::avd-image-rings::avd:index:SessionHostPool$azure-native:compute:VirtualMachineScaleSet::vmss",
    type: "azure-native:compute:VirtualMachineScaleSet",
    name: "vmss",
    parent: component.urn,
    inputs: { upgradePolicy: { mode: "Rolling" }, virtualMachineProfile: { osProfile: { adminPassword: "[secret]", computerNamePrefix: "avdplt" } }, zones: ["1", "2"] },
    outputs: { upgradePolicy: { mode: "Rolling" }, uniqueId: "4d1e5c1a-0000-4000-a000-000000000001", zones: ["1", "2"] },
    propertyDependencies: { virtualMachineProfile: [component.urn] },
};
const stackResources = [f.stackResource("pilot"), component, scaleSet];

describe("policy runner: what reaches the analyzer", () => {
    let echo: PolicyPackHandle;

    before(async function () {
        this.timeout(60_000);
        echo = startPolicyPack({ packDir: path.join(FIXTURES, "echo-pack") });
        await echo.analyze([], { stack: "pilot", config: null });
    });

    after(() => echo.close());

    it("analyzes every resource, the Stack and components included, with its parent and inputs", async () => {
        const v = await echo.analyze(stackResources, { config: null });
        const resources = v.filter((x) => x.policy === "echo-resource");
        assert.deepEqual(
            resources.map((x) => x.urn),
            stackResources.map((r) => r.urn).sort(),
        );
        const vmss = echoed<EchoedResource>(resources.find((x) => x.urn === scaleSet.urn)!);
        assert.equal(vmss.type, "azure-native:compute:VirtualMachineScaleSet");
        assert.equal(vmss.parent, component.urn);
        assert.deepEqual(vmss.props, scaleSet.inputs);
        assert.ok(resources.every((x) => x.policyPack === "echo-pack" && x.enforcementLevel === "advisory"));
    });

    it("analyzes the stack with outputs where known, parents and property dependencies", async () => {
        const v = (await echo.analyze(stackResources, { config: null })).filter((x) => x.policy === "echo-stack");
        assert.equal(v.length, 1);
        assert.equal(v[0].urn, f.stackResource("pilot").urn, "a stack-wide violation is reported against the Stack");
        const seen = echoed<EchoedStackResource[]>(v[0]);
        const vmss = seen.find((r) => r.urn === scaleSet.urn)!;
        assert.deepEqual(vmss.props, scaleSet.outputs);
        assert.equal(vmss.parent, component.urn);
        assert.deepEqual(vmss.propertyDependencies, { virtualMachineProfile: [component.urn] });
        assert.deepEqual(seen.find((r) => r.urn === component.urn)!.props, {});
    });

    it("sends schema defaults, then the configuration's values, like --policy-pack-config", async () => {
        const tagOf = (v: PolicyViolation[]) => echoed<EchoedResource>(v.find((x) => x.policy === "echo-resource")!).config;
        assert.deepEqual(tagOf(await echo.analyze(stackResources, { config: null })), { tag: "none" });
        assert.deepEqual(tagOf(await echo.analyze(stackResources, { config: { "echo-resource": { tag: "pilot" } } })), { tag: "pilot" });
        const mandatory = await echo.analyze(stackResources, { config: { "echo-resource": { enforcementLevel: "mandatory" } } });
        assert.ok(mandatory.filter((x) => x.policy === "echo-resource").every((x) => x.enforcementLevel === "mandatory"));
        const disabled = await echo.analyze(stackResources, { config: { "echo-resource": "disabled" } });
        assert.deepEqual([...new Set(disabled.map((x) => x.policy))], ["echo-stack"]);
        assert.deepEqual(await echo.analyze(stackResources, { config: { all: "disabled" } }), []);
    });

    it("reads the configuration from a file", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "policy-config-"));
        try {
            const file = path.join(dir, "ring.json");
            fs.writeFileSync(file, JSON.stringify({ "echo-stack": "advisory", "echo-resource": { tag: "from-file" } }));
            const v = await echo.analyze(stackResources, { config: file });
            assert.ok(v.every((x) => x.enforcementLevel === "advisory"));
            assert.equal(echoed<EchoedResource>(v.find((x) => x.policy === "echo-resource")!).config.tag, "from-file");
            fs.writeFileSync(file, "{ not json");
            await assert.rejects(echo.analyze(stackResources, { config: file }), (err: unknown) => err instanceof PolicyConfigError && err.message.includes(file));
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("rejects configuration the pack's schemas do not allow, naming each problem", async () => {
        await assert.rejects(
            echo.analyze(stackResources, {
                config: JSON.parse('{"echo-resource": {"tag": 5, "colour": "red"}, "echo-stak": "mandatory", "echo-stack": "strict"}') as PolicyPackConfig,
            }),
            (err: unknown) => {
                assert.ok(err instanceof PolicyConfigError);
                assert.match(err.message, /"echo-stack": "strict" is not an enforcement level/);
                assert.match(err.message, /"echo-stak": no such policy/);
                assert.match(err.message, /"echo-resource"\.tag: expected string, got 5/);
                assert.match(err.message, /unknown property "colour"/);
                return true;
            },
        );
    });

    it("serves several stacks from one process, each with its own configuration", async () => {
        const test = stackResources.map((r) => ({ ...r, urn: r.urn.replace(":pilot::", ":test::") }));
        const [pilot, testRun] = await Promise.all([
            echo.analyze(stackResources, { config: { "echo-resource": { tag: "pilot" } } }),
            echo.analyze(test, { config: { "echo-resource": { tag: "test" } } }),
        ]);
        const tags = (v: PolicyViolation[]) => [...new Set(v.filter((x) => x.policy === "echo-resource").map((x) => echoed<EchoedResource>(x).config.tag))];
        assert.deepEqual(tags(pilot), ["pilot"]);
        assert.deepEqual(tags(testRun), ["test"]);
    });

    it("sorts mandatory violations first, then by policy, URN and message", async () => {
        const v = await echo.analyze(stackResources, { config: null });
        assert.equal(v[0].policy, "echo-stack");
        const rest = v.slice(1).map((x) => x.urn);
        assert.deepEqual(rest, [...rest].sort());
    });
});

describe("policy runner: failures", () => {
    it("fails the analysis when a policy throws, naming the policy and the resource", async function () {
        this.timeout(60_000);
        const echo = startPolicyPack({ packDir: path.join(FIXTURES, "echo-pack") });
        try {
            const boom: PolicyInputResource = { urn: "urn:pulumi:test::avd-image-rings::test:index:Boom::b", type: "test:index:Boom", name: "b", inputs: {} };
            await assert.rejects(echo.analyze([boom], { config: null }), (err: unknown) => {
                assert.ok(err instanceof PolicyPackError);
                assert.match(err.message, /Analyze\(urn:pulumi:test::avd-image-rings::test:index:Boom::b\) failed/);
                assert.match(err.message, /fail-on-boom/);
                assert.match(err.message, /policy bug: cannot read property of Boom/);
                return true;
            });
            assert.equal((await echo.analyze(stackResources, { config: null })).length, 4, "the pack keeps serving after a failed analysis");
        } finally {
            await echo.close();
        }
    });

    it("reports a pack that fails to start with its error output", async function () {
        this.timeout(60_000);
        const broken = startPolicyPack({ packDir: path.join(FIXTURES, "broken-pack") });
        try {
            await assert.rejects(broken.analyze(stackResources), (err: unknown) => {
                assert.ok(err instanceof PolicyPackError);
                assert.match(err.message, /exited during start-up/);
                assert.match(err.message, /broken-pack: cannot load the policies/);
                return true;
            });
        } finally {
            await broken.close();
        }
    });
});

describe("policy runner: lifecycle", () => {
    it("keeps a plain node process alive through close(), so work after it still runs", async function () {
        this.timeout(60_000);
        const script = [
            "const { startPolicyPack } = require('./preview/policyRunner');",
            "(async () => {",
            "  const pack = startPolicyPack({ packDir: 'tests/fixtures/policy/echo-pack' });",
            "  const v = await pack.analyze([], { stack: 'test', config: null });",
            "  await pack.close();",
            "  await new Promise((resolve) => setImmediate(resolve));",
            "  console.log('closed after ' + v.length + ' violations');",
            "})();",
        ].join("\n");
        const out = execFileSync(process.execPath, ["--require", require.resolve("tsx/cjs"), "-e", script], { cwd: path.join(__dirname, ".."), encoding: "utf8" });
        assert.equal(out.trim(), "closed after 1 violations");
    });
});

describe("policy runner: ring configuration files", () => {
    it("picks policy/config/<stack>.json, or the ring of a prod-*/pilot-*/test-* stack", () => {
        assert.equal(defaultPolicyConfigPath("prod"), path.join(POLICY_CONFIG_DIR, "prod.json"));
        assert.equal(defaultPolicyConfigPath("contoso/avd-image-rings/pilot"), path.join(POLICY_CONFIG_DIR, "pilot.json"));
        assert.equal(defaultPolicyConfigPath("prod-northeurope"), path.join(POLICY_CONFIG_DIR, "prod.json"));
        assert.equal(defaultPolicyConfigPath("test-feature-x"), path.join(POLICY_CONFIG_DIR, "test.json"));
        assert.equal(defaultPolicyConfigPath("dev"), undefined);
        assert.equal(defaultPolicyConfigPath("../secrets"), undefined);
    });
});
