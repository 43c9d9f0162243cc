// The policy pack over a ring that is a fleet (issue 11): several image templates and several
// host pools in one stack, through the real pack process. Per-resource policies judge each pool and
// template on its own; the stack policies see the ring's whole picture.
import assert from "node:assert/strict";
import { startPolicyPack, type AnalyzeOptions, type PolicyInputResource, type PolicyPackHandle, type PolicyViolation } from "../preview/policyRunner";
import * as fleet from "./fixtures/policy/fleet";
import * as f from "./fixtures/policy/resources";

describe("policy pack over a fleet of images and host pools", () => {
    let pack: PolicyPackHandle;

    before(async function () {
        this.timeout(60_000);
        pack = startPolicyPack();
        await pack.analyze([], { stack: "test", config: null });
    });

    after(() => pack.close());

    async function check(policy: string, stack: string, resources: PolicyInputResource[], options: AnalyzeOptions = {}): Promise<PolicyViolation[]> {
        const all = await pack.analyze([f.stackResource(stack), ...resources], { stack, config: null, ...options });
        return all.filter((v) => v.policy === policy);
    }

    const urnOf = (stack: string, type: string, name: string) => `urn:pulumi:${stack}::${f.PROJECT}::${type}::${name}`;

    /** Three compliant prod pools on two images and the break-glass pool's pinned marketplace image. */
    function prodFleet(overrides: Partial<Record<"office" | "dev" | "breakglass", Partial<fleet.PoolSpec>>> = {}): PolicyInputResource[] {
        return [
            fleet.pool("prod", { pool: "office", prefix: "avdoff", ...overrides.office }),
            fleet.pool("prod", { pool: "dev", prefix: "avddev", imageReference: { id: fleet.galleryImage("avd-win11-dev", "2.0.1") }, ...overrides.dev }),
            fleet.pool("prod", { pool: "breakglass", prefix: "avdbg", imageReference: { ...fleet.MARKETPLACE, version: "26100.2605.241207" }, ...overrides.breakglass }),
        ];
    }

    it("accepts a compliant prod fleet under every mandatory policy", async () => {
        const all = await pack.analyze([f.stackResource("prod"), ...prodFleet()], { stack: "prod", config: null });
        assert.deepEqual(all.filter((v) => v.enforcementLevel === "mandatory"), []);
    });

    it("prod-vmss-manual-upgrade judges each pool: only the Rolling one is refused, by its own URN", async () => {
        const v = await check("prod-vmss-manual-upgrade", "prod", prodFleet({ dev: { mode: "Rolling" } }));
        assert.equal(v.length, 1, JSON.stringify(v, null, 2));
        assert.ok(v[0].message.includes('"dev"') && v[0].message.includes('"Rolling"'), v[0].message);
        assert.equal(v[0].urn, urnOf("prod", fleet.VMSS, "dev"));
    });

    it("os-disk-size-cap names the one pool above the cap", async () => {
        const v = await check("os-disk-size-cap", "prod", prodFleet({ office: { osDiskSizeGb: 256 } }));
        assert.deepEqual(v.map((x) => x.urn), [urnOf("prod", fleet.VMSS, "office")]);
    });

    describe("pinned-image-outside-test and the marketplace break-glass pool", () => {
        const policy = "pinned-image-outside-test";

        it("accepts a marketplace pool pinned to Major.Minor.Build in prod", async () => {
            assert.deepEqual(await check(policy, "prod", prodFleet()), []);
        });

        it("refuses the marketplace pool in prod when its version is latest, naming that pool only", async () => {
            const v = await check(policy, "prod", prodFleet({ breakglass: { imageReference: { ...fleet.MARKETPLACE, version: "latest" } } }));
            assert.equal(v.length, 1, JSON.stringify(v, null, 2));
            assert.equal(v[0].enforcementLevel, "mandatory");
            assert.ok(v[0].message.includes('"breakglass"') && v[0].message.includes('version "latest"') && v[0].message.includes("floats"), v[0].message);
        });

        it("refuses a marketplace reference without a version, and one that is not Major.Minor.Build, in pilot", async () => {
            const noVersion = await check(policy, "pilot", [fleet.pool("pilot", { pool: "bg", prefix: "avdbg", imageReference: fleet.MARKETPLACE })]);
            assert.ok(noVersion.length === 1 && noVersion[0].message.includes("with no version"), JSON.stringify(noVersion, null, 2));
            const odd = await check(policy, "pilot", [fleet.pool("pilot", { pool: "bg", prefix: "avdbg", imageReference: { ...fleet.MARKETPLACE, version: "26100.2605" } })]);
            assert.ok(odd.length === 1 && odd[0].message.includes('version "26100.2605"'), JSON.stringify(odd, null, 2));
        });

        it("lets the test ring's marketplace pool float on latest", async () => {
            assert.deepEqual(await check(policy, "test", [fleet.pool("test", { pool: "bg", prefix: "avdbg", imageReference: { ...fleet.MARKETPLACE, version: "latest" } })]), []);
        });
    });

    describe("policy unique-computer-name-prefix", () => {
        const policy = "unique-computer-name-prefix";

        it("accepts pools with their own prefixes", async () => {
            assert.deepEqual(await check(policy, "prod", prodFleet()), []);
        });

        it("refuses a second pool with the same prefix in another case, at the second pool's URN", async () => {
            const v = await check(policy, "pilot", [fleet.pool("pilot", { pool: "office", prefix: "avdplt" }), fleet.pool("pilot", { pool: "dev", prefix: "AVDPLT" })]);
            assert.equal(v.length, 1, JSON.stringify(v, null, 2));
            assert.equal(v[0].enforcementLevel, "mandatory");
            assert.equal(v[0].urn, urnOf("pilot", fleet.VMSS, "dev"));
            assert.ok(v[0].message.includes('"AVDPLT"') && v[0].message.includes('scale set "office"'), v[0].message);
        });

        it("reports every further pool that shares a prefix, once each", async () => {
            const pools = ["a", "b", "c"].map((p) => fleet.pool("prod", { pool: p, prefix: "avdprd" }));
            const v = await check(policy, "prod", pools);
            assert.deepEqual(v.map((x) => x.urn).sort(), [urnOf("prod", fleet.VMSS, "b"), urnOf("prod", fleet.VMSS, "c")]);
        });

        it("stays mandatory when a prefix is unknown during preview, judging the known ones", async () => {
            const v = await check(policy, "prod", [
                fleet.pool("prod", { pool: "a", prefix: f.UNKNOWN }),
                fleet.pool("prod", { pool: "b", prefix: "avdprd" }),
                fleet.pool("prod", { pool: "c", prefix: "avdprd" }),
            ]);
            assert.equal(v.length, 1, JSON.stringify(v, null, 2));
            assert.equal(v[0].enforcementLevel, "mandatory");
        });
    });

    describe("per-image policies over several templates", () => {
        it("no-avd-agent-in-image names the one template that installs the agent", async () => {
            const v = await check("no-avd-agent-in-image", "test", [
                fleet.imageTemplate("test", "office", "avd-win11-m365"),
                fleet.imageTemplate("test", "dev", "avd-win11-dev", [f.powershell("agent", ["msiexec /i C:\\Temp\\Microsoft.RDInfra.RDAgent.Installer-x64.msi /quiet"])]),
            ]);
            assert.deepEqual(v.map((x) => x.urn), [urnOf("test", fleet.TEMPLATE, "dev")]);
        });

        it("exclude-from-latest-when-floating flags only the template whose definition a pool follows", async () => {
            const v = await check("exclude-from-latest-when-floating", "test", [
                fleet.imageTemplate("test", "office", "avd-win11-m365"),
                fleet.imageTemplate("test", "dev", "avd-win11-dev"),
                fleet.pool("test", { pool: "dev", prefix: "avddev", mode: "Rolling", imageReference: { id: fleet.galleryImage("avd-win11-dev") } }),
            ]);
            assert.deepEqual(v.map((x) => x.urn), [urnOf("test", fleet.TEMPLATE, "dev")]);
        });
    });

    describe("gallery-replicas-for-scale-out over pools sharing an image", () => {
        const policy = "gallery-replicas-for-scale-out";
        // One replica in westeurope serves about 20 concurrent deployments.
        const office = (pool: string, location: string) =>
            fleet.pool("test", { pool, prefix: `avd${pool}`, mode: "Rolling", capacity: 50, maxBatchInstancePercent: 30, location });

        it("adds up the batches of the pools that run one image in one region", async () => {
            const v = await check(policy, "test", [fleet.imageTemplate("test", "office", "avd-win11-m365"), office("a", "westeurope"), office("b", "westeurope")]);
            assert.equal(v.length, 1, JSON.stringify(v, null, 2));
            assert.ok(v[0].message.includes('"a" (15), "b" (15) deploy 30 hosts per batch together') && v[0].message.includes("use at least 2"), v[0].message);
        });

        it("does not add up pools in different regions", async () => {
            assert.deepEqual(await check(policy, "test", [fleet.imageTemplate("test", "office", "avd-win11-m365"), office("a", "westeurope"), office("b", "northeurope")]), []);
        });
    });

    it("rolling-upgrade-health-probe finds each pool's own standalone extension", async () => {
        const bare = (pool: string) => {
            const v = fleet.poolInputs({ pool, prefix: `avd${pool}`, mode: "Rolling" });
            v.virtualMachineProfile!.extensionProfile = { extensions: [] };
            return f.resource("pilot", fleet.VMSS, pool, v);
        };
        const extension = { ...f.healthExtensionInputs({ protocol: "tcp", port: 3389 }), vmScaleSetName: "vmss-office" };
        const v = await check("rolling-upgrade-health-probe", "pilot", [bare("office"), bare("dev"), f.resource("pilot", "azure-native:compute:VirtualMachineScaleSetExtension", "office-health", extension)]);
        assert.deepEqual(v.map((x) => x.urn), [urnOf("pilot", fleet.VMSS, "dev")]);
    });
});
