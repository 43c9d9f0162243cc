// The GPU image and pool of docs/gpu.md, previewed offline with the policy pack beside the shipped
// fleet's images and pools (test ring): the image builds on its NV build
// VM with the driver step, restart and GPU validation; the pool runs it with the driver baked in;
// the gate checks the NVIDIA driver. Variants: the driver extension instead, and the refusals.
import { strict as assert } from "node:assert";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, parseDocument } from "yaml";
import { runPreview } from "../preview/cli";
import type { StackReport } from "../preview/render";

const ROOT = join(__dirname, "..");
const P = "avd-image-rings";

/** The fleet block of docs/gpu.md ("A GPU image and pool, ready to paste"). */
function docsFleetBlock(): Record<string, Record<string, unknown>> {
    const md = readFileSync(join(ROOT, "docs/gpu.md"), "utf8");
    const blocks = [...md.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]).filter((b) => b.includes(`${P}:images:`));
    assert.equal(blocks.length, 1, "docs/gpu.md has one fleet block");
    return parse(blocks[0]) as Record<string, Record<string, unknown>>;
}

type Mutate = (config: Record<string, unknown>) => void;

/** Changes the `config:` of a stack file in `dir`, keeping the rest of the file. */
function editStack(dir: string, stack: string, edit: (config: Record<string, Record<string, unknown>>) => void): void {
    const file = join(dir, `Pulumi.${stack}.yaml`);
    const doc = parseDocument(readFileSync(file, "utf8"));
    const config = (doc.toJS() as { config: Record<string, Record<string, unknown>> }).config;
    edit(config);
    doc.set("config", config);
    writeFileSync(file, doc.toString());
}

/** A scratch project whose test ring is the shipped fleet plus the docs' GPU image and pool, changed by `mutate`. */
function gpuProject(mutate: Mutate = () => {}): string {
    const dir = mkdtempSync(join(tmpdir(), "avd-gpu-"));
    for (const f of readdirSync(ROOT).filter((f) => /^Pulumi(\..+)?\.yaml$/.test(f))) cpSync(join(ROOT, f), join(dir, f));
    const docs = docsFleetBlock();
    editStack(dir, "test", (config) => {
        for (const key of [`${P}:images`, `${P}:imageVersions`, `${P}:hostPools`]) config[key] = { ...config[key], ...docs[key] };
        mutate(config);
    });
    return dir;
}

const cadPool = (c: Record<string, unknown>) => (c[`${P}:hostPools`] as Record<string, Record<string, unknown>>).cad;
const gpuImage = (c: Record<string, unknown>) => (c[`${P}:images`] as Record<string, Record<string, Record<string, unknown>>>)["gpu-cad"];

async function previewTest(dir: string): Promise<{ report: StackReport; exitCode: number }> {
    const { reports, exitCode } = await runPreview({ stacks: ["test"], format: "json", dir });
    return { report: reports[0], exitCode };
}

type Inputs = Record<string, unknown>;
const byType = (r: StackReport, type: string) => r.resources.filter((x) => x.type === type);
const extensionsOf = (vmss: { inputs: Inputs }) =>
    ((vmss.inputs.virtualMachineProfile as Inputs).extensionProfile as { extensions: Array<Record<string, unknown>> }).extensions;

describe("GPU fleet (docs/gpu.md), offline preview with the policy pack", function () {
    this.timeout(120_000);
    let dir: string | undefined;
    afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

    it("builds the GPU image on its NV build VM and runs the CAD pool with the driver baked in, with no violation", async () => {
        dir = gpuProject();
        const { report, exitCode } = await previewTest(dir);
        assert.equal(exitCode, 0, JSON.stringify({ error: report.error, violations: report.violations }, null, 2));
        assert.deepEqual(report.violations.filter((v) => v.enforcementLevel === "mandatory"), []);

        const templates = byType(report, "azure-native:virtualmachineimages:VirtualMachineImageTemplate");
        const gpuTemplate = templates.find((t) => (t.inputs.vmProfile as Inputs).vmSize === "Standard_NV6ads_A10_v5");
        assert.ok(gpuTemplate, `a template builds on Standard_NV6ads_A10_v5 (${templates.map((t) => (t.inputs.vmProfile as Inputs).vmSize).join(", ")})`);
        const steps = (gpuTemplate.inputs.customize as Array<{ name: string; type: string }>).map((s) => `${s.type}:${s.name}`);
        const at = (name: string) => steps.findIndex((s) => s.endsWith(`:${name}`));
        assert.ok(at("install-nvidia-grid-driver") >= 0 && at("gpu-remote-desktop-policies") >= 0, steps.join(", "));
        assert.ok(at("restart-after-customization") > at("install-nvidia-grid-driver"), "the restart comes after the driver install");
        const validators = ((gpuTemplate.inputs.validate as Inputs).inVMValidations as Array<{ name: string }>).map((v) => v.name);
        assert.ok(validators.includes("validate-gpu-driver"), validators.join(", "));
        const others = templates.filter((t) => t !== gpuTemplate);
        assert.ok(others.length >= 2, "the shipped images are built too");
        for (const t of others) {
            assert.ok(!((t.inputs.validate as Inputs).inVMValidations as Array<{ name: string }>).some((v) => v.name === "validate-gpu-driver"), "images built without a GPU are not checked for one");
        }

        const scaleSets = byType(report, "azure-native:compute:VirtualMachineScaleSet");
        const cad = scaleSets.find((s) => (s.inputs.sku as Inputs).name === "Standard_NV12ads_A10_v5");
        assert.ok(cad, "the CAD pool runs on NVadsA10 v5");
        assert.ok(!extensionsOf(cad).some((e) => e.publisher === "Microsoft.HpcCompute"), "no driver extension over the image's driver");
        assert.equal(((cad.inputs.virtualMachineProfile as Inputs).securityProfile as Inputs).securityType, "TrustedLaunch");

        const gates = byType(report, "command:local:Command").filter((c) => JSON.stringify(c.inputs).includes("tools/healthGate.ts"));
        const envs = gates.map((g) => g.inputs.environment as Record<string, string>);
        const cadGate = envs.find((e) => e.AVD_VMSS_ID?.endsWith("/vmss-avd-test-cad"));
        assert.ok(cadGate, `a gate for the CAD pool (${envs.map((e) => e.AVD_VMSS_ID).join(", ")})`);
        assert.equal(cadGate.AVD_GPU_VENDOR, "nvidia");
        assert.ok(envs.filter((e) => e !== cadGate).every((e) => e.AVD_GPU_VENDOR === undefined), "only the GPU pool's gate checks a GPU");
    });

    it("installs the driver with the NVIDIA extension when the pool runs an image without one", async () => {
        dir = gpuProject((c) => {
            const pool = cadPool(c);
            pool.image = "m365";
            pool.gpu = { driver: "nvidia", driverVersion: "574.24" };
            // The GPU image is still built; keep a pool on it so its version is validated.
            (c[`${P}:hostPools`] as Record<string, unknown>)["cad-baked"] = { ...pool, image: "gpu-cad", gpu: { driver: "image" }, computerNamePrefix: "avdtcadb" };
        });
        const { report, exitCode } = await previewTest(dir);
        assert.equal(exitCode, 0, JSON.stringify({ error: report.error, violations: report.violations }, null, 2));
        const cad = byType(report, "azure-native:compute:VirtualMachineScaleSet").find((s) => s.name === "session-hosts-cad-vmss");
        assert.ok(cad, report.resources.map((r) => r.name).join(", "));
        const names = extensionsOf(cad).map((e) => e.name);
        assert.deepEqual(names, ["AADLoginForWindows", "NvidiaGpuDriverWindows", "AvdAgentRegistration", "ApplicationHealth"]);
        const driver = extensionsOf(cad)[1];
        assert.deepEqual({ publisher: driver.publisher, type: driver.type, typeHandlerVersion: driver.typeHandlerVersion, settings: driver.settings }, {
            publisher: "Microsoft.HpcCompute",
            type: "NvidiaGpuDriverWindows",
            typeHandlerVersion: "1.10",
            settings: { driverVersion: "574.24" },
        });
    });

    it("refuses the driver extension on the GPU image, and a baked-in driver from an image without a GPU build, naming the pool's key", async () => {
        dir = gpuProject((c) => (cadPool(c).gpu = { driver: "nvidia" }));
        let { report, exitCode } = await previewTest(dir);
        assert.equal(exitCode, 2);
        assert.equal(report.error?.kind, "config");
        assert.match(report.error?.message ?? "", /Pulumi\.test\.yaml: avd-image-rings:hostPools\.cad\.gpu is driver: nvidia, but image "gpu-cad" is built on the GPU size Standard_NV6ads_A10_v5/);
        rmSync(dir, { recursive: true, force: true });

        dir = gpuProject((c) => (gpuImage(c).build.vmSize = "Standard_D8s_v5"));
        ({ report, exitCode } = await previewTest(dir));
        assert.equal(exitCode, 2);
        assert.match(report.error?.message ?? "", /hostPools\.cad\.gpu is driver: image, but image "gpu-cad" is built on Standard_D8s_v5, which has no GPU/);
    });

    it("refuses a GPU pool without a gpu block, naming both ways to get the driver", async () => {
        dir = gpuProject((c) => delete cadPool(c).gpu);
        const { report, exitCode } = await previewTest(dir);
        assert.equal(exitCode, 2);
        assert.match(report.error?.message ?? "", /avd-image-rings:hostPools\.cad\.vmSize \(Standard_NV12ads_A10_v5 is an NVIDIA GPU size \(NVadsA10 v5, NVIDIA A10\)\) needs a graphics driver on every host: add gpu: \{driver: nvidia\}.*or gpu: \{driver: image\}/);
    });
    it("promotes the GPU image through pilot to prod, whose CAD pools run it Manual with the gate checking the driver", async () => {
        dir = gpuProject();
        const docsPool = docsFleetBlock()[`${P}:hostPools`].cad as Record<string, unknown>;
        const { validationEnvironment: _test, ...hostPool } = docsPool.hostPool as Record<string, unknown>;
        const rings = [
            ["pilot", "avdlcad", "Rolling", { maxBatchInstancePercent: 50, maxUnhealthyInstancePercent: 50, maxUnhealthyUpgradedInstancePercent: 50, pauseTimeBetweenBatches: "PT5M" }],
            ["prod", "avdpcad", "Manual", { maxBatchInstancePercent: 20, maxUnhealthyInstancePercent: 20, maxUnhealthyUpgradedInstancePercent: 10, pauseTimeBetweenBatches: "PT15M" }],
        ] as const;
        for (const [stack, prefix, upgradeMode, rollingUpgrade] of rings) {
            editStack(dir, stack, (config) => {
                config[`${P}:imageVersions`]["gpu-cad"] = "1.0.0";
                const subnetId = String(docsPool.subnetId).replace(/snet-avd-test$/, `snet-avd-${stack}`);
                config[`${P}:hostPools`].cad = { ...docsPool, hostPool, computerNamePrefix: prefix, upgradeMode, rollingUpgrade, subnetId };
            });
        }
        const { reports, exitCode } = await runPreview({ stacks: ["test", "pilot", "prod"], format: "json", dir });
        assert.equal(exitCode, 0, JSON.stringify(reports.map((r) => ({ stack: r.stack, error: r.error, violations: r.violations })), null, 2));
        const prod = reports[2];
        const gate = byType(prod, "command:local:Command").find(
            (c) => JSON.stringify(c.inputs).includes("tools/healthGate.ts") && (c.inputs.environment as Record<string, string> | undefined)?.AVD_VMSS_ID?.endsWith("/vmss-avd-prod-cad"),
        );
        assert.ok(gate, "prod has a gate for its CAD pool");
        assert.equal((gate.inputs.environment as Record<string, string>).AVD_GPU_VENDOR, "nvidia");
        assert.equal((gate.inputs.environment as Record<string, string>).AVD_UPGRADE_MODE, "Manual");
    });
});
