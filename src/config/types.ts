// The validated, typed model of one ring's stack configuration. Everything below
// index.ts consumes these types; nothing deeper re-reads or re-validates raw config.
import type * as pulumi from "@pulumi/pulumi";
import type { GpuConfig } from "./gpu";
import type { InsightsConfig } from "./insights";
import type { NotificationsConfig } from "./notifications";
import type { ROLLOUT_PACINGS, ROLLOUT_STRATEGIES } from "../tools/environment";
import type { PromotionPolicy, SignOffs } from "./promotion";
import type { RetentionConfig } from "./retention";
import type { RolloutWindow } from "../rollout/window";

export type UpgradeMode = "Manual" | "Rolling" | "Automatic";
export type HyperVGeneration = "V1" | "V2";
export type StorageAccountType = "Standard_LRS" | "Standard_ZRS" | "Premium_LRS";
export type OsDiskType = "Standard_LRS" | "StandardSSD_LRS" | "Premium_LRS" | "StandardSSD_ZRS" | "Premium_ZRS";
export type LoadBalancerType = "BreadthFirst" | "DepthFirst";
/** What AIB does with the build VM when a customizer or in-VM validation fails. */
export type AibErrorAction = "cleanup" | "abort";

export interface MarketplaceImage {
    publisher: string;
    offer: string;
    sku: string;
    version: string;
}

export interface GalleryConfig {
    /** Azure Compute Gallery name: letters, digits, `_` and `.`; no `-`. */
    name: string;
    imageDefinitionName: string;
    publisher: string;
    offer: string;
    sku: string;
    hyperVGeneration: HyperVGeneration;
    description: string;
}

export interface BuildVnetConfig {
    /** Subnet the AIB build VM joins (ARM id). */
    subnetId: string;
    /** Size of the AIB proxy VM AIB places in the same VNet. */
    proxyVmSize?: string;
}

export interface BuildConfig {
    vmSize: string;
    osDiskSizeGb: number;
    timeoutMinutes: number;
    vnet?: BuildVnetConfig;
    /** Name of a dedicated, empty resource group AIB stages the build in; AIB creates one if absent. */
    stagingResourceGroupName?: string;
    onCustomizerError: AibErrorAction;
    onValidationError: AibErrorAction;
}

export interface WindowsUpdateConfig {
    enabled: boolean;
    /** Windows Update search criteria (AIB `searchCriteria`). */
    searchCriteria: string;
    /** Update filters; the seed excludes previews. */
    filters: string[];
    updateLimit: number;
}

export interface ScriptUri {
    uri: string;
    /** Lower-case hex SHA-256 of the script; AIB refuses to run a script whose checksum differs. */
    sha256: string;
}

export interface ChocolateyPackage {
    name: string;
    /** Pinned version; absent means "latest at build time". */
    version?: string;
}

export interface CustomizationsConfig {
    windowsUpdate: WindowsUpdateConfig;
    powershellModules: string[];
    /** Step name -> PowerShell lines, in the order written in the stack file. */
    inlineScripts: Array<{ name: string; lines: string[] }>;
    /** Step name -> script, in the order written in the stack file. */
    scriptUris: Array<{ name: string } & ScriptUri>;
    chocolateyPackages: ChocolateyPackage[];
    restartAfterCustomization: boolean;
    /** Run the Virtual Desktop Optimization Tool (seed 000 section 9). */
    runOptimization: boolean;
    runCleanup: boolean;
}

export interface DistributionConfig {
    /** Regions the version is replicated to; always includes the build location. */
    replicationRegions: string[];
    replicaCount: number;
    storageAccountType: StorageAccountType;
    excludeFromLatest: boolean;
}

/** The `image` block: present only in the build ring. */
export interface ImageConfig {
    gallery: GalleryConfig;
    baseImage: MarketplaceImage;
    build: BuildConfig;
    customizations: CustomizationsConfig;
    distribution: DistributionConfig;
    /** Extra tags for the template and the published version (beside the generated ones). */
    tags: Record<string, string>;
}

export interface RollingUpgradeConfig {
    maxBatchInstancePercent: number;
    maxUnhealthyInstancePercent: number;
    maxUnhealthyUpgradedInstancePercent: number;
    /** ISO 8601 duration, e.g. PT10M. */
    pauseTimeBetweenBatches: string;
    prioritizeUnhealthyInstances: boolean;
    /** Create new instances before taking old ones out (MaxSurge). */
    maxSurge: boolean;
    rollbackFailedInstancesOnPolicyBreach: boolean;
}

export interface DrainConfig {
    /** How long the rollout waits for user sessions to end on a draining host. */
    timeoutMinutes: number;
    /** Optional message sent to signed-in users when their host starts draining. */
    messageTitle?: string;
    messageBody?: string;
    /** Log remaining users off after the timeout. Off unless a message is configured. */
    forceLogoffAfterTimeout: boolean;
    /** Sign out Disconnected sessions at the drain timeout (they cannot see the warning); off by default. */
    logOffDisconnectedSessions: boolean;
}

export type RolloutStrategy = (typeof ROLLOUT_STRATEGIES)[number];
export type RolloutPacing = (typeof ROLLOUT_PACINGS)[number];

export interface RolloutConfig {
    /** Bound on one `pulumi up`'s share of a long rollout, in minutes; it stops cleanly between batches. Absent = no bound. */
    maxRunMinutes?: number;
    /** reimage (default): hosts are reimaged in place; surge: new hosts join before old ones leave (docs/rollout.md "Strategies"). */
    strategy: RolloutStrategy;
    /** host (default): a host leaves service as soon as a slot frees; batch: lockstep batches, each waiting for its slowest user (reimage only; docs/rollout.md "Pacing"). */
    pacing: RolloutPacing;
    /** When hosts may be drained (src/config/window.ts); absent = at any time. */
    window?: RolloutWindow;
}

export interface HealthGateConfig {
    /** Login-time threshold for the optional login probe (seed 000: < 30 s). */
    maxLoginSeconds: number;
    /** Run the login-time probe (needs a probe account on the host pool). */
    loginProbe: boolean;
    maxCpuPercent: number;
    minFreeMemoryPercent: number;
    /** Check the FSLogix service (off for rings without FSLogix). */
    checkFslogix: boolean;
    /** How long one host's Run Command probe may take before the host counts as not healthy. */
    probeTimeoutMinutes: number;
}

export type DomainJoinConfig =
    | { type: "EntraID"; intuneEnroll: boolean }
    | {
          type: "ActiveDirectory";
          domainName: string;
          ouPath?: string;
          username: string;
          /** From the secret key `avd-image-rings:domainJoinPassword`; a Pulumi secret end to end. */
          password: pulumi.Output<string>;
      };

export interface HostPoolConfig {
    friendlyName: string;
    loadBalancerType: LoadBalancerType;
    maxSessionLimit: number;
    /** AVD validation environment: receives service updates first (right for the test ring). */
    validationEnvironment: boolean;
    /** Days a registration token lives (1-27); it is renewed automatically before it expires. */
    registrationTokenValidityDays: number;
}

export interface SessionHostsConfig {
    hostPool: HostPoolConfig;
    vmSize: string;
    capacity: number;
    computerNamePrefix: string;
    zones: string[];
    subnetId: string;
    adminUsername: string;
    /** From the secret key `avd-image-rings:adminPassword`; absent means a generated password (kept as a secret in state). */
    adminPassword?: pulumi.Output<string>;
    osDiskSizeGb: number;
    osDiskType: OsDiskType;
    upgradeMode: UpgradeMode;
    rollingUpgrade: RollingUpgradeConfig;
    drain: DrainConfig;
    rollout: RolloutConfig;
    healthGate: HealthGateConfig;
    domainJoin: DomainJoinConfig;
    /** Explicit opt-in to follow the image definition's latest version instead of a pinned one. */
    useLatestImage: boolean;
    /** GPU sizes only (`gpu`, src/config/gpu.ts): how the hosts get the GPU driver. */
    gpu?: GpuConfig;
}

/** What a pool's session hosts boot: a version of one of the fleet's gallery images, or a marketplace image. */
export type PoolImageSource =
    | {
          kind: "gallery";
          /** Name of the image (a key of `imageVersions`). */
          image: string;
          /** MAJOR.MINOR.PATCH, the ring's pinned version of that image. */
          imageVersion: string;
      }
    | {
          /** Seed 001's break-glass fallback when no golden image is usable. */
          kind: "marketplace";
          image: MarketplaceImage;
      };

/** Azure names of one pool's session-host resources. */
export interface SessionHostResourceNames {
    hostPool: string;
    applicationGroup: string;
    workspace: string;
    scaleSet: string;
    networkInterface: string;
}

/** One host pool of the ring: an AVD host pool, its application group and workspace, and its scale set. */
export interface PoolConfig {
    /** Key in `avd-image-rings:hostPools`; `default` for the single-image form. */
    name: string;
    /** Suffix of the Pulumi logical names of the pool's components: "" in the single-image form (today's URNs), `-<pool>` in a fleet. */
    logicalSuffix: string;
    names: SessionHostResourceNames;
    source: PoolImageSource;
    sessionHosts: SessionHostsConfig;
    /** Where the pool's settings live in the stack file, for messages: `avd-image-rings:sessionHosts` or `avd-image-rings:hostPools.<pool>`. */
    configKey: string;
}

/** One golden image of the build ring: its definition in the gallery, how it is built, and the version built. */
export interface FleetImage extends ImageConfig {
    /** Key in `avd-image-rings:images`; `default` for the single-image form. */
    name: string;
    /** MAJOR.MINOR.PATCH built and published by this ring. */
    imageVersion: string;
    /** Suffix of the Pulumi logical names of the image's resources: "" in the single-image form, `-<image>` in a fleet. */
    logicalSuffix: string;
}

export interface RingConfig {
    /** Stack name (the ring), e.g. "prod". */
    stack: string;
    /** The file users edit for this ring, used in messages: `Pulumi.<stack>.yaml`. */
    stackFile: string;
    /** `single`: `image`/`imageVersion`/`sessionHosts` (one image, one pool); `fleet`: `images`/`imageVersions`/`hostPools`. */
    form: "single" | "fleet";
    location: string;
    resourceGroupName: string;
    /** Fully-qualified upstream stack (`org/avd-image-rings/test`); absent in the build ring. */
    promoteFrom?: string;
    /** The gallery the build ring publishes every image to; absent in promoted rings. */
    gallery?: { name: string };
    /** Build ring only (`{}` in promoted rings): image name -> image. */
    images: Record<string, FleetImage>;
    /** Image name -> the MAJOR.MINOR.PATCH version this ring runs (and, in the build ring, builds). */
    imageVersions: Record<string, string>;
    /** Pool name -> pool, in the order of the stack file. */
    hostPools: Record<string, PoolConfig>;
    tags: Record<string, string>;
    /** `avd-image-rings:notifications` (src/config/notifications.ts). */
    notifications?: NotificationsConfig;
    /** `avd-image-rings:insights` (src/config/insights.ts). */
    insights?: InsightsConfig;
    /** `promotion` (promoted ring): soak time and sign-off it demands of a version (src/config/promotion.ts). */
    promotion?: PromotionPolicy;
    /** `signOffs`: who approved which version in this ring; exported for the next ring. */
    signOffs: SignOffs;
    /** Gallery retention (build ring only; absent = never delete): src/config/retention.ts. */
    retention?: RetentionConfig;
}
