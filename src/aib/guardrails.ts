// Organisational limits the image build enforces inside the build VM (in-VM validation), beside the
// policy pack that enforces them on the resources: the same constants serve both.

/** Largest OS disk a golden image may carry (seed: keep the image under 128 GB). */
export const MAX_IMAGE_OS_DISK_GB = 128;

/**
 * What the AVD agent leaves on a machine. The agent is installed when a host registers with its
 * host pool; baked into an image it registers every host with a stale token and identity.
 */
export const AVD_AGENT = {
    services: ["RDAgent", "RDAgentBootLoader"],
    registryKeys: ["HKLM:\\SOFTWARE\\Microsoft\\RDInfraAgent", "HKLM:\\SOFTWARE\\Microsoft\\RDAgentBootLoader"],
    /** Display names in the Windows "installed programs" registry (wildcards allowed). */
    productNames: ["Remote Desktop Services Infrastructure Agent*", "Remote Desktop Agent Boot Loader*"],
    /** File names of the agent and boot loader installers. */
    installerPatterns: ["Microsoft.RDInfra.RDAgent*.msi", "Microsoft.RDInfra.RDAgentBootLoader*.msi"],
} as const;
