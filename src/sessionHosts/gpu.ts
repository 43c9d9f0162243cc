// GPU session hosts: which Azure VM sizes carry which vendor's GPU, and the driver extension
// Microsoft documents for each vendor. Pure data and functions; the config edge (src/config/gpu.ts)
// validates against it and sessionHostExtensions adds the extension.
//
// Sources (Microsoft Learn):
// - AVD "Enable GPU acceleration" (virtual-desktop/graphics-enable-gpu-acceleration): the sizes AVD
//   supports as GPU session hosts (NVv3, NVv4, NVadsA10 v5, NCasT4_v3); NC/ND sizes are not suited.
// - "Install AMD GPU drivers on N-series VMs running Windows" (virtual-machines/windows/n-series-amd-driver-setup):
//   the AMD GPU Driver Extension installs on NVads V710 v5 and NVv4.
// - "Install NVIDIA GPU drivers on N-series VMs running Windows" (n-series-driver-setup): GRID drivers
//   for NVv3, NCasT4_v3 and NVadsA10_v5 (only GRID, not CUDA, accelerates desktops).
// - "Retired Azure VM size series" (sizes/retirement/retired-sizes-list): NVv3 and NVv4 retire 2026-09-30.
// - NVIDIA GPU Driver Extension for Windows (extensions/hpccompute-gpu-windows): Microsoft.HpcCompute /
//   NvidiaGpuDriverWindows 1.10, optional setting driverVersion (e.g. "538.46").
// - AMD GPU Driver Extension for Windows (extensions/hpccompute-amd-gpu-windows): Microsoft.HpcCompute /
//   AmdGpuDriverWindows 1.1, no settings.

import type { GPU_VENDORS } from "../tools/environment";

/** The vendors the tool contract knows (AVD_GPU_VENDOR). */
export type GpuVendor = (typeof GPU_VENDORS)[number];

export interface GpuSizeFamily {
    /** The series as Microsoft names it. */
    series: string;
    vendor: GpuVendor;
    gpu: string;
    /** Size names of the series, e.g. Standard_NV12ads_A10_v5. */
    pattern: RegExp;
    /** The date Azure retired the series: it no longer creates these VMs. */
    retired?: string;
    /** What to move to when retired. */
    replacement?: string;
}

/** The GPU sizes AVD documents for GPU-accelerated session hosts, with their vendor. */
export const GPU_SIZE_FAMILIES: readonly GpuSizeFamily[] = [
    { series: "NVadsA10 v5", vendor: "nvidia", gpu: "NVIDIA A10", pattern: /^Standard_NV\d+adm?s_A10_v5$/i },
    { series: "NCasT4_v3", vendor: "nvidia", gpu: "NVIDIA Tesla T4", pattern: /^Standard_NC\d+as_T4_v3$/i },
    {
        series: "NVv3",
        vendor: "nvidia",
        gpu: "NVIDIA Tesla M60",
        pattern: /^Standard_NV\d+s_v3$/i,
        retired: "2026-09-30",
        replacement: "NVadsA10 v5 (Standard_NV*ads_A10_v5)",
    },
    { series: "NVads V710 v5", vendor: "amd", gpu: "AMD Radeon Pro V710", pattern: /^Standard_NV\d+adm?s_V710_v5$/i },
    {
        series: "NVv4",
        vendor: "amd",
        gpu: "AMD Radeon Instinct MI25",
        pattern: /^Standard_NV\d+as_v4$/i,
        retired: "2026-09-30",
        replacement: "NVads V710 v5 (Standard_NV*ads_V710_v5)",
    },
];

export const VENDOR_NAMES: Record<GpuVendor, string> = { nvidia: "NVIDIA", amd: "AMD" };

/** The GPU family of a VM size, or undefined for a size without one AVD supports. */
export function gpuSizeFamily(vmSize: string): GpuSizeFamily | undefined {
    return GPU_SIZE_FAMILIES.find((f) => f.pattern.test(vmSize));
}

/** "NVadsA10 v5 (NVIDIA), NCasT4_v3 (NVIDIA), NVads V710 v5 (AMD)": the families a new pool can use. */
export function supportedGpuSeries(): string {
    return GPU_SIZE_FAMILIES.filter((f) => !f.retired)
        .map((f) => `${f.series} (${VENDOR_NAMES[f.vendor]})`)
        .join(", ");
}

/** The vendor's driver extension, in the shape of virtualMachineProfile.extensionProfile.extensions[]. */
export interface GpuDriverExtensionSpec {
    name: string;
    publisher: "Microsoft.HpcCompute";
    type: string;
    typeHandlerVersion: string;
    settings?: Record<string, string>;
}

export const NVIDIA_EXTENSION_NAME = "NvidiaGpuDriverWindows";
export const AMD_EXTENSION_NAME = "AmdGpuDriverWindows";

/**
 * The driver extension for the vendor. The NVIDIA extension installs the GRID driver on NV and
 * NCasT4_v3 sizes and the latest one unless `driverVersion` pins it; the AMD extension takes no settings.
 */
export function gpuDriverExtensionSpec(vendor: GpuVendor, driverVersion?: string): GpuDriverExtensionSpec {
    if (vendor === "nvidia") {
        return {
            name: NVIDIA_EXTENSION_NAME,
            publisher: "Microsoft.HpcCompute",
            type: "NvidiaGpuDriverWindows",
            typeHandlerVersion: "1.10",
            ...(driverVersion !== undefined ? { settings: { driverVersion } } : {}),
        };
    }
    return { name: AMD_EXTENSION_NAME, publisher: "Microsoft.HpcCompute", type: "AmdGpuDriverWindows", typeHandlerVersion: "1.1" };
}
