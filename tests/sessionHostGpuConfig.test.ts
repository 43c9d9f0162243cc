// The sessionHosts.gpu block against the VM size's GPU (src/config/gpu.ts, src/sessionHosts/gpu.ts).
import { strict as assert } from "node:assert";
import { parseSessionHostGpu, poolImageGpuProblem } from "../src/config/gpu";
import { ConfigError, Reader } from "../src/config/reader";
import { GPU_SIZE_FAMILIES, gpuSizeFamily } from "../src/sessionHosts/gpu";

const FILE = "Pulumi.test.yaml";

function gpu(vmSize: string, block?: Record<string, unknown>) {
    const values: Record<string, unknown> = { vmSize, ...(block ? { gpu: block } : {}) };
    const r = new Reader(FILE, "avd-image-rings:sessionHosts", values);
    return parseSessionHostGpu(r, vmSize);
}

function refused(vmSize: string, block: Record<string, unknown> | undefined, key: string, ...fragments: string[]): void {
    assert.throws(
        () => gpu(vmSize, block),
        (e: unknown) => {
            assert.ok(e instanceof ConfigError, String(e));
            assert.equal(e.file, FILE);
            assert.equal(e.key, `avd-image-rings:sessionHosts.${key}`);
            for (const f of fragments) assert.ok(e.message.includes(f), `"${f}" not in: ${e.message}`);
            return true;
        },
    );
}

describe("session-host GPU config (sessionHosts.gpu)", () => {
    describe("VM size -> GPU vendor", () => {
        it("knows the GPU sizes AVD supports, by vendor", () => {
            const cases: Array<[string, string | undefined]> = [
                ["Standard_NV6ads_A10_v5", "nvidia"],
                ["Standard_NV36adms_A10_v5", "nvidia"],
                ["Standard_NC4as_T4_v3", "nvidia"],
                ["Standard_NV12s_v3", "nvidia"],
                ["Standard_NV4ads_V710_v5", "amd"],
                ["Standard_NV28adms_V710_v5", "amd"],
                ["Standard_NV8as_v4", "amd"],
                ["Standard_D4s_v5", undefined],
                ["Standard_NC24ads_A100_v4", undefined],
                ["Standard_NV6ads_A10_v5_Promo", undefined],
            ];
            for (const [size, vendor] of cases) assert.equal(gpuSizeFamily(size)?.vendor, vendor, size);
        });

        it("marks NVv3 and NVv4 retired, with a replacement of the same vendor", () => {
            const retired = GPU_SIZE_FAMILIES.filter((f) => f.retired);
            assert.deepEqual(retired.map((f) => f.series), ["NVv3", "NVv4"]);
            for (const old of retired) {
                const current = GPU_SIZE_FAMILIES.filter((f) => !f.retired && old.replacement?.startsWith(f.series));
                assert.deepEqual(current.map((f) => f.vendor), [old.vendor], old.series);
            }
        });
    });

    describe("driver from the vendor's extension", () => {
        it("takes the NVIDIA extension on an NVIDIA size, optionally pinned to a driver version", () => {
            assert.deepEqual(gpu("Standard_NV12ads_A10_v5", { driver: "nvidia" }), { vendor: "nvidia", install: "extension" });
            assert.deepEqual(gpu("Standard_NC8as_T4_v3", { driver: "nvidia", driverVersion: "538.46" }), { vendor: "nvidia", install: "extension", driverVersion: "538.46" });
        });

        it("takes the AMD extension on an AMD size", () => {
            assert.deepEqual(gpu("Standard_NV12ads_V710_v5", { driver: "amd" }), { vendor: "amd", install: "extension" });
        });

        it("refuses the other vendor's driver, saying which vendor the size has", () => {
            refused("Standard_NV12ads_V710_v5", { driver: "nvidia" }, "gpu.driver", 'is "nvidia"', "Standard_NV12ads_V710_v5 is an AMD GPU size (NVads V710 v5, AMD Radeon Pro V710)", "use driver: amd");
            refused("Standard_NV6ads_A10_v5", { driver: "amd" }, "gpu.driver", "is an NVIDIA GPU size (NVadsA10 v5, NVIDIA A10)", "use driver: nvidia");
        });

        it("refuses a driver version with the AMD extension or a baked-in driver", () => {
            refused("Standard_NV8ads_V710_v5", { driver: "amd", driverVersion: "538.46" }, "gpu.driverVersion", "applies only to driver: nvidia");
            refused("Standard_NV6ads_A10_v5", { driver: "image", driverVersion: "538.46" }, "gpu.driverVersion", "no extension runs");
            refused("Standard_NV6ads_A10_v5", { driver: "nvidia", driverVersion: "latest" }, "gpu.driverVersion", 'such as "538.46"');
        });

        it("refuses an unknown driver or key", () => {
            refused("Standard_NV6ads_A10_v5", { driver: "NVIDIA" }, "gpu.driver", 'did you mean "nvidia"?');
            refused("Standard_NV6ads_A10_v5", { driver: "nvidia", vendor: "nvidia" }, "gpu.vendor");
        });
    });

    describe("driver baked into the image", () => {
        it("takes the vendor from the size and adds no extension", () => {
            assert.deepEqual(gpu("Standard_NV12ads_A10_v5", { driver: "image" }), { vendor: "nvidia", install: "image" });
            assert.deepEqual(gpu("Standard_NV4ads_V710_v5", { driver: "image" }), { vendor: "amd", install: "image" });
        });
    });

    describe("sizes", () => {
        it("has nothing to say about a size without a GPU and no gpu block", () => {
            assert.equal(gpu("Standard_D8s_v5"), undefined);
        });

        it("refuses a GPU size without a gpu block, naming both ways to get the driver", () => {
            refused("Standard_NV12ads_A10_v5", undefined, "vmSize", "Standard_NV12ads_A10_v5 is an NVIDIA GPU size", "gpu: {driver: nvidia}", "NVIDIA GPU Driver Extension", "gpu: {driver: image}");
            refused("Standard_NV4ads_V710_v5", undefined, "vmSize", "gpu: {driver: amd}", "AMD GPU Driver Extension");
        });

        it("refuses a gpu block on a size without a GPU, or with a GPU AVD does not support for desktops", () => {
            refused("Standard_D8s_v5", { driver: "nvidia" }, "gpu", "Standard_D8s_v5 has no GPU", "NVadsA10 v5 (NVIDIA), NCasT4_v3 (NVIDIA), NVads V710 v5 (AMD)");
            refused("Standard_NC24ads_A100_v4", { driver: "nvidia" }, "gpu", "not one of the GPU sizes Azure Virtual Desktop supports", "CUDA");
        });

        it("refuses the retired NVv3 and NVv4 series, naming the replacement", () => {
            refused("Standard_NV12s_v3", { driver: "nvidia" }, "vmSize", "retired the NVv3 series on 2026-09-30", "NVadsA10 v5");
            refused("Standard_NV8as_v4", undefined, "vmSize", "retired the NVv4 series on 2026-09-30", "NVads V710 v5");
        });
    });
    describe("pool driver against the image it runs (build ring)", () => {
        const nvidiaImage = { name: "gpu-cad", buildVmSize: "Standard_NV6ads_A10_v5" };
        const plainImage = { name: "m365", buildVmSize: "Standard_D8s_v5" };

        it("accepts a baked-in driver from a build VM of the pool's GPU series, and the extension on an image built without a GPU", () => {
            assert.equal(poolImageGpuProblem({ vmSize: "Standard_NV36ads_A10_v5", gpu: { vendor: "nvidia", install: "image" } }, nvidiaImage), undefined);
            assert.equal(poolImageGpuProblem({ vmSize: "Standard_NV12ads_A10_v5", gpu: { vendor: "nvidia", install: "extension" } }, plainImage), undefined);
            assert.equal(poolImageGpuProblem({ vmSize: "Standard_D4s_v5" }, nvidiaImage), undefined, "a pool without a GPU may run the GPU image");
        });

        it("refuses driver: image on an image built without a GPU, or on another GPU series", () => {
            assert.match(poolImageGpuProblem({ vmSize: "Standard_NV12ads_A10_v5", gpu: { vendor: "nvidia", install: "image" } }, plainImage) ?? "", /image "m365" is built on Standard_D8s_v5, which has no GPU, so no NVIDIA driver can be baked into it: build it on an NVadsA10 v5 size/);
            assert.match(poolImageGpuProblem({ vmSize: "Standard_NV8ads_V710_v5", gpu: { vendor: "amd", install: "image" } }, nvidiaImage) ?? "", /built on Standard_NV6ads_A10_v5 \(NVadsA10 v5\), so its driver is the one for NVadsA10 v5, not for Standard_NV8ads_V710_v5 \(NVads V710 v5\)/);
            assert.match(poolImageGpuProblem({ vmSize: "Standard_NC8as_T4_v3", gpu: { vendor: "nvidia", install: "image" } }, nvidiaImage) ?? "", /not for Standard_NC8as_T4_v3 \(NCasT4_v3\)/, "Microsoft lists another GRID version for T4");
        });

        it("refuses the extension on an image that already carries a driver", () => {
            assert.match(poolImageGpuProblem({ vmSize: "Standard_NV12ads_A10_v5", gpu: { vendor: "nvidia", install: "extension" } }, nvidiaImage) ?? "", /use driver: image, or the extension would install a second driver/);
        });
    });
});
