// The `gpu` block of a sessionHosts block: how a GPU pool's hosts get their graphics driver,
// checked against the VM size's GPU (src/sessionHosts/gpu.ts). See docs/gpu.md.
//
//   gpu:
//     driver: nvidia | amd | image   # the vendor's driver extension, or a driver baked into the image
//     driverVersion: "538.46"        # nvidia only: the NVIDIA extension's driverVersion setting
import { gpuSizeFamily, supportedGpuSeries, VENDOR_NAMES, type GpuSizeFamily, type GpuVendor } from "../sessionHosts/gpu";
import { ConfigError, type Reader } from "./reader";
import type { RingConfig } from "./types";

export interface GpuConfig {
    /** The GPU's vendor, from the VM size. */
    vendor: GpuVendor;
    /**
     * `extension`: Microsoft's driver extension for the vendor installs the driver on every new or
     * reimaged host. `image`: the image has the driver baked in (built on a GPU build VM), so no
     * extension runs: both together would install two drivers, the extension's possibly another
     * version than the one the image was validated with.
     */
    install: "extension" | "image";
    /** NVIDIA extension only: the GRID driver version it installs; absent = the latest the extension offers. */
    driverVersion?: string;
}

const DRIVERS = ["nvidia", "amd", "image"] as const;
/** NVIDIA Windows driver versions as the extension's driverVersion setting takes them ("538.46"). */
const NVIDIA_DRIVER_VERSION = { pattern: /^\d{3}\.\d{2}$/, hint: 'must be an NVIDIA Windows driver version such as "538.46"' };

function describeSize(vmSize: string, family: GpuSizeFamily): string {
    return `${vmSize} is an ${VENDOR_NAMES[family.vendor]} GPU size (${family.series}, ${family.gpu})`;
}

/**
 * The pool's GPU setup, or undefined for a size without a GPU. `r` is the sessionHosts reader;
 * `vmSize` its validated vmSize. Refuses a retired GPU series, a GPU size without a `gpu` block
 * (its hosts would render on the CPU with the basic display adapter, and only the user knows
 * whether the image carries the driver), a `gpu` block on a size without a supported GPU, and a
 * driver of the other vendor.
 */
export function parseSessionHostGpu(r: Reader, vmSize: string): GpuConfig | undefined {
    const family = gpuSizeFamily(vmSize);
    if (family?.retired) {
        r.fail(
            "vmSize",
            `(${vmSize}) is an ${family.series} size (${family.gpu}); Azure retired the ${family.series} series on ${family.retired} and no longer creates these VMs: use ${family.replacement}`,
        );
    }
    const g = r.optObj("gpu");
    if (!g) {
        if (family) {
            const vendor = family.vendor;
            r.fail(
                "vmSize",
                `(${describeSize(vmSize, family)}) needs a graphics driver on every host: add gpu: {driver: ${vendor}} to install it with the ${VENDOR_NAMES[vendor]} GPU Driver Extension, or gpu: {driver: image} if the pool's image has the driver baked in`,
            );
        }
        return undefined;
    }
    if (!family) {
        const why = /^Standard_N/i.test(vmSize)
            ? `${vmSize} is not one of the GPU sizes Azure Virtual Desktop supports for GPU-accelerated session hosts (NC and ND sizes are for compute workloads; their CUDA drivers do not accelerate desktops)`
            : `${vmSize} has no GPU`;
        r.fail("gpu", `is set, but ${why}; use one of ${supportedGpuSeries()}, or remove gpu`);
    }
    const driver = g.oneOf("driver", DRIVERS);
    if (driver !== "image" && driver !== family.vendor) {
        g.fail(
            "driver",
            `is "${driver}", but ${describeSize(vmSize, family)}; the ${VENDOR_NAMES[driver]} driver does not run on it: use driver: ${family.vendor} (the ${VENDOR_NAMES[family.vendor]} GPU Driver Extension) or driver: image`,
        );
    }
    const driverVersion = g.optStr("driverVersion", NVIDIA_DRIVER_VERSION);
    if (driverVersion !== undefined && driver !== "nvidia") {
        g.fail(
            "driverVersion",
            driver === "image"
                ? "is set with driver: image; the image's driver is the one it was built with, and no extension runs to install another"
                : "applies only to driver: nvidia (the NVIDIA GPU Driver Extension's driverVersion setting); the AMD extension takes no settings",
        );
    }
    g.done();
    return { vendor: family.vendor, install: driver === "image" ? "image" : "extension", ...(driverVersion !== undefined ? { driverVersion } : {}) };
}

/**
 * Whether a pool's driver choice fits the image it runs, when the build ring knows how that image
 * is built. `driver: image` needs an image built on a size of the pool's GPU series: a driver
 * installer refuses to install without its GPU, and Microsoft lists the driver version per series
 * (n-series-driver-setup: GRID 18.x for NVadsA10 v5, 20.x for NCasT4_v3). The extension must not
 * add a second driver to an image built on a GPU size, which carries one (its install step, or
 * Windows Update on that VM). Returns the problem, or undefined.
 */
export function poolImageGpuProblem(pool: { vmSize: string; gpu?: GpuConfig }, image: { name: string; buildVmSize: string }): string | undefined {
    const built = gpuSizeFamily(image.buildVmSize);
    const gpu = pool.gpu;
    if (!gpu) return undefined;
    if (gpu.install === "image") {
        const series = gpuSizeFamily(pool.vmSize)?.series;
        if (!built) {
            return `is driver: image, but image "${image.name}" is built on ${image.buildVmSize}, which has no GPU, so no ${VENDOR_NAMES[gpu.vendor]} driver can be baked into it: build it on an ${series} size or use driver: ${gpu.vendor}`;
        }
        if (built.series !== series) {
            return `is driver: image, but image "${image.name}" is built on ${image.buildVmSize} (${built.series}), so its driver is the one for ${built.series}, not for ${pool.vmSize} (${series}): build the image on an ${series} size or use driver: ${gpu.vendor}`;
        }
        return undefined;
    }
    if (built) {
        return `is driver: ${gpu.vendor}, but image "${image.name}" is built on the GPU size ${image.buildVmSize} and so carries a GPU driver already; use driver: image, or the extension would install a second driver over the image's`;
    }
    return undefined;
}

/** Every pool of a build ring against the image it runs (poolImageGpuProblem); the key is the pool's `gpu`. */
export function checkPoolGpuDrivers(ring: RingConfig): void {
    for (const pool of Object.values(ring.hostPools)) {
        const image = pool.source.kind === "gallery" ? ring.images[pool.source.image] : undefined;
        if (!image) continue;
        const problem = poolImageGpuProblem(pool.sessionHosts, { name: image.name, buildVmSize: image.build.vmSize });
        const key = `${pool.configKey}.gpu`;
        if (problem) throw new ConfigError(`${ring.stackFile}: ${key} ${problem}`, { file: ring.stackFile, key });
    }
}
