import * as pulumi from "@pulumi/pulumi";
import * as semver from "semver";
import { readIsoDuration } from "../../policy/lib/duration";
import { parseIsoDuration } from "../rollout/duration";
import { controlCharacterProblem, DEFAULTS, gateTimeoutMinutesFor, LIMITS, surgeHeadroomProblem } from "../tools/environment";
import { caseClash, poolNameProblem, PROGRAM_TAG_COUNT, RESOURCE_GROUP_NAME, stackNameProblem, subnetIdProblem, TAG_LIMITS, tagNameProblem, tagValueProblem } from "./azureLimits";
import { sessionHostResourceNames } from "../sessionHosts/naming";
import { checkPoolGpuDrivers, parseSessionHostGpu } from "./gpu";
import { checkSignOffImages, parsePromotion, parseSignOffs } from "./promotion";
import { closest, ConfigError, editDistance, Reader } from "./reader";
import { parseInsights } from "./insights";
import { parseNotifications } from "./notifications";
import { parseRolloutStrategy } from "./rolloutStrategy";
import { parseRetention } from "./retention";
import { parseRolloutWindow } from "./window";
import type {
    BuildConfig,
    ChocolateyPackage,
    CustomizationsConfig,
    DistributionConfig,
    DomainJoinConfig,
    FleetImage,
    GalleryConfig,
    ImageConfig,
    PoolConfig,
    PoolImageSource,
    RingConfig,
    RollingUpgradeConfig,
    SessionHostsConfig,
} from "./types";

export const PROJECT = "avd-image-rings";

/** Azure's own naming rules, checked before anything is sent to Azure. */
export const rules = {
    region: { pattern: /^[a-z][a-z0-9]{2,40}$/, hint: "must be an Azure region's programmatic name such as \"westeurope\" (lower case, no spaces)" },
    resourceGroup: { pattern: RESOURCE_GROUP_NAME, hint: "must be 1-90 letters, digits, '-', '_', '.', '(' or ')' and not end with '.'" },
    galleryName: {
        pattern: /^[A-Za-z0-9](?:[A-Za-z0-9_.]{0,78}[A-Za-z0-9])?$/,
        hint: "must be 1-80 letters, digits, '_' or '.' (no '-'; '_' and '.' only in the middle)",
    },
    imageDefinitionName: {
        pattern: /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9])?$/,
        hint: "must be 1-80 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
    },
    identifier: { pattern: /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,126}[A-Za-z0-9])?$/, hint: "must be 1-128 letters, digits, '-', '_' or '.'" },
    vmSize: { pattern: /^(Standard|Basic)_[A-Za-z0-9_]+$/, hint: "must be a VM size such as \"Standard_D4s_v5\"" },
    computerNamePrefix: {
        // Windows computer names are at most 15 characters and a Uniform scale set appends 6.
        pattern: /^(?![0-9]+$)[A-Za-z0-9][A-Za-z0-9-]{0,8}$/,
        hint: "must be 1-9 letters, digits or '-' (Windows names are at most 15 characters and the scale set appends 6), not all digits",
    },
    sha256: { pattern: /^[0-9a-fA-F]{64}$/, hint: "must be the script's SHA-256 checksum as 64 hex digits" },
    httpsUri: { pattern: /^https:\/\/[^\s]+$/, hint: "must be an https:// URL" },
    psModule: { pattern: /^[A-Za-z0-9][A-Za-z0-9._-]*$/, hint: "must be a PowerShell Gallery module name" },
    chocoName: { pattern: /^[A-Za-z0-9][A-Za-z0-9._-]*$/, hint: "must be a Chocolatey package id" },
    chocoVersion: { pattern: /^\d+(\.\d+){0,3}([-.][A-Za-z0-9]+)*$/, hint: "must be a Chocolatey package version such as \"23.1.0\"" },
    stepName: { pattern: /^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$/, hint: "must be 1-64 letters, digits, ' ', '-', '_' or '.'" },
    promoteFrom: {
        pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]*\/avd-image-rings\/[A-Za-z0-9_.-]+$/,
        hint: "must be a fully-qualified stack name of this project, \"<org>/avd-image-rings/<stack>\"",
    },
    // Messages to users and friendly names: one line, no control characters.
    text: { pattern: /^[^\u0000-\u001f\u007f]*$/, hint: "must be one line of text" },
    messageBody: { pattern: /[^\s]/, hint: "must be text", multiLine: true },
    zone: { pattern: /^[1-3]$/, hint: "must be an availability zone \"1\", \"2\" or \"3\"" },
    adminUsername: { pattern: /^[A-Za-z][A-Za-z0-9._-]{0,19}$/, hint: "must be 1-20 letters, digits, '.', '_' or '-', starting with a letter" },
    domainName: { pattern: /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/, hint: "must be a DNS domain name such as \"corp.contoso.com\"" },
} as const;

// Azure refuses these as VM admin names (Compute API: osProfile.adminUsername).
const RESERVED_ADMIN_NAMES = new Set([
    "administrator", "admin", "user", "user1", "test", "user2", "test1", "user3", "admin1", "1", "123", "a",
    "actuser", "adm", "admin2", "aspnet", "backup", "console", "david", "guest", "john", "owner", "root",
    "server", "sql", "support", "support_388945a0", "sys", "test2", "test3", "user4", "user5",
]);

const INT32_MAX = 2147483647;

function subnetId(r: Reader): string {
    const id = r.str("subnetId");
    const problem = subnetIdProblem(id);
    if (problem) r.fail("subnetId", problem);
    return id;
}

/** A tag map of the stack file, checked against Azure's tag rules and the program's own tags. */
function tagMap(r: Reader, name: string): Record<string, string> {
    const tags = r.stringMap(name);
    for (const [k, v] of Object.entries(tags)) {
        const nameProblem = tagNameProblem(k);
        if (nameProblem) r.fail(`${name}.${k}`, nameProblem);
        const valueProblem = tagValueProblem(v);
        if (valueProblem) r.fail(`${name}.${k}`, valueProblem);
    }
    const clash = caseClash(Object.keys(tags));
    if (clash) r.fail(`${name}.${clash[1]}`, `differs from the tag "${clash[0]}" only in case; Azure treats tag names case-insensitively, so one would overwrite the other`);
    return tags;
}

/**
 * Gallery image versions are exactly MAJOR.MINOR.PATCH, three non-negative 32-bit integers.
 * Returns the problem in words, or undefined when the version is valid.
 */
export function galleryVersionProblem(version: string): string | undefined {
    const parsed = semver.parse(version);
    if (parsed && (parsed.prerelease.length > 0 || parsed.build.length > 0)) {
        return `is not a valid gallery image version: Azure Compute Gallery versions are three integers MAJOR.MINOR.PATCH and take no pre-release or build suffix such as "-${parsed.prerelease.join(".") || parsed.build.join(".")}"; publish test builds as a normal version with excludeFromLatest: true instead`;
    }
    if (!parsed || parsed.version !== version) {
        const dated = /^(\d+)\.0*(\d+)\.0*(\d+)$/.exec(version);
        const suggestion = dated ? ` (write "${Number(dated[1])}.${Number(dated[2])}.${Number(dated[3])}" without leading zeros)` : "";
        return `must be a MAJOR.MINOR.PATCH version such as "1.2.0" or "2026.1.0"${suggestion}, got ${JSON.stringify(version)}`;
    }
    if ([parsed.major, parsed.minor, parsed.patch].some((n) => n > INT32_MAX)) {
        return `has a part larger than Azure's limit of ${INT32_MAX}, got ${JSON.stringify(version)}`;
    }
    return undefined;
}

// The seed's Windows Update filters: no previews, only what applies to this build.
const DEFAULT_UPDATE_FILTERS = ["exclude:$_.Title -like '*Preview*'", "include:$true"];

/** The single form's `image.gallery` (gallery name + definition), or a fleet image's `imageDefinition` in the ring's gallery. */
function parseGallery(r: Reader, fleetGallery?: { galleryName: string; imageName: string }): GalleryConfig {
    const g: GalleryConfig = {
        name: fleetGallery ? fleetGallery.galleryName : r.str("name", rules.galleryName),
        imageDefinitionName: fleetGallery ? r.strOr("name", fleetGallery.imageName, rules.imageDefinitionName) : r.str("imageDefinitionName", rules.imageDefinitionName),
        publisher: r.str("publisher", rules.identifier),
        offer: r.str("offer", rules.identifier),
        sku: r.str("sku", rules.identifier),
        hyperVGeneration: r.oneOf("hyperVGeneration", ["V1", "V2"] as const, "V2"),
        description: r.strOr("description", "AVD golden image built by Azure Image Builder"),
    };
    r.done();
    return g;
}

function parseBuild(r: Reader): BuildConfig {
    const vnetReader = r.optObj("vnet");
    let vnet: BuildConfig["vnet"];
    if (vnetReader) {
        vnet = { subnetId: subnetId(vnetReader), proxyVmSize: vnetReader.optStr("proxyVmSize", rules.vmSize) };
        vnetReader.done();
    }
    const b: BuildConfig = {
        vmSize: r.strOr("vmSize", "Standard_D4s_v5", rules.vmSize),
        osDiskSizeGb: r.int("osDiskSizeGb", { min: 30, max: 4095 }, 127),
        // AIB accepts up to 960 minutes (16 h); 0 leaves it to Image Builder's 4-hour default. The
        // build trigger reads the same range.
        timeoutMinutes: r.int("timeoutMinutes", LIMITS.buildTimeoutMinutes, 240),
        vnet,
        stagingResourceGroupName: r.optStr("stagingResourceGroupName", rules.resourceGroup),
        onCustomizerError: r.oneOf("onCustomizerError", ["cleanup", "abort"] as const, "cleanup"),
        onValidationError: r.oneOf("onValidationError", ["cleanup", "abort"] as const, "cleanup"),
    };
    r.done();
    return b;
}

function parseChocolatey(r: Reader): ChocolateyPackage[] {
    return r.list("chocolateyPackages").map((item, i): ChocolateyPackage => {
        const key = `chocolateyPackages[${i}]`;
        if (typeof item === "string") {
            const [name, version, extra] = item.split("@");
            if (extra !== undefined || !rules.chocoName.pattern.test(name)) r.fail(key, `must be "<package>" or "<package>@<version>", got ${JSON.stringify(item)}`);
            if (version !== undefined && !rules.chocoVersion.pattern.test(version)) r.fail(key, `${rules.chocoVersion.hint}, got ${JSON.stringify(version)}`);
            return version === undefined ? { name } : { name, version };
        }
        if (typeof item === "object" && item !== null && !Array.isArray(item)) {
            const pkg = new Reader(r.file, r.sub(key), item as Record<string, unknown>);
            const parsed = { name: pkg.str("name", rules.chocoName), version: pkg.optStr("version", rules.chocoVersion) };
            pkg.done();
            return parsed.version === undefined ? { name: parsed.name } : parsed;
        }
        return r.fail(key, `must be "<package>", "<package>@<version>" or {name, version}, got ${JSON.stringify(item)}`);
    });
}

function parseCustomizations(r: Reader): CustomizationsConfig {
    const wu = r.optObj("windowsUpdate");
    const windowsUpdate = {
        enabled: wu ? wu.bool("enabled", true) : true,
        searchCriteria: wu ? wu.strOr("searchCriteria", "IsInstalled=0") : "IsInstalled=0",
        filters: wu && wu.has("filters") ? wu.strList("filters") : DEFAULT_UPDATE_FILTERS,
        updateLimit: wu ? wu.int("updateLimit", { min: 1, max: 10000 }, 1000) : 1000,
    };
    wu?.done();

    const inlineScripts = r.entries("inlineScripts").map(([name, lines, map]) => {
        if (!rules.stepName.pattern.test(name)) map.fail(name, `is not a valid step name: ${rules.stepName.hint}`);
        if (!Array.isArray(lines) || lines.length === 0 || lines.some((l) => typeof l !== "string")) {
            map.fail(name, "must be a non-empty list of PowerShell lines");
        }
        (lines as string[]).forEach((line, i) => {
            const control = controlCharacterProblem(line);
            if (control) map.fail(`${name}[${i}]`, control);
        });
        return { name, lines: lines as string[] };
    });

    const scriptUris = r.entries("scriptUris").map(([name, value, map]) => {
        if (!rules.stepName.pattern.test(name)) map.fail(name, `is not a valid step name: ${rules.stepName.hint}`);
        if (typeof value === "string") {
            map.fail(name, `must be {uri, sha256}: every downloaded script needs its SHA-256 checksum so a changed script cannot slip into the image (got only a URL)`);
        }
        const s = map.obj(name);
        const entry = { name, uri: s.str("uri", rules.httpsUri), sha256: s.str("sha256", rules.sha256).toLowerCase() };
        s.done();
        return entry;
    });

    const c: CustomizationsConfig = {
        windowsUpdate,
        powershellModules: r.strList("powershellModules", rules.psModule),
        inlineScripts,
        scriptUris,
        chocolateyPackages: parseChocolatey(r),
        restartAfterCustomization: r.bool("restartAfterCustomization", false),
        runOptimization: r.bool("runOptimization", true),
        runCleanup: r.bool("runCleanup", true),
    };
    const steps = [...inlineScripts.map((s) => s.name), ...scriptUris.map((s) => s.name)];
    const dup = steps.find((s, i) => steps.indexOf(s) !== i);
    if (dup) r.fail("scriptUris", `reuses the step name "${dup}" from inlineScripts; step names must be unique`);
    r.done();
    return c;
}

function parseDistribution(r: Reader | undefined, location: string): DistributionConfig {
    const regions = r ? r.strList("replicationRegions", rules.region) : [];
    const d: DistributionConfig = {
        // The build region always holds a replica: AIB publishes there first.
        replicationRegions: [location, ...regions.filter((x) => x !== location)],
        replicaCount: r ? r.int("replicaCount", { min: 1, max: 100 }, 1) : 1,
        storageAccountType: r ? r.oneOf("storageAccountType", ["Standard_LRS", "Standard_ZRS", "Premium_LRS"] as const, "Standard_LRS") : "Standard_LRS",
        excludeFromLatest: r ? r.bool("excludeFromLatest", false) : false,
    };
    const dup = regions.find((x, i) => regions.indexOf(x) !== i);
    if (dup && r) r.fail("replicationRegions", `lists "${dup}" twice`);
    r?.done();
    return d;
}

function parseImage(r: Reader, location: string, fleetGallery?: { galleryName: string; imageName: string }): ImageConfig {
    const base = r.optObj("baseImage");
    const baseImage = {
        publisher: base ? base.strOr("publisher", "MicrosoftWindowsDesktop", rules.identifier) : "MicrosoftWindowsDesktop",
        offer: base ? base.strOr("offer", "office-365", rules.identifier) : "office-365",
        sku: base ? base.strOr("sku", "win11-24h2-avd-m365", rules.identifier) : "win11-24h2-avd-m365",
        version: base ? base.strOr("version", "latest", { pattern: /^(latest|\d+\.\d+\.\d+)$/, hint: "must be \"latest\" or a marketplace image version such as \"26100.2605.241207\"" }) : "latest",
    };
    base?.done();
    const image: ImageConfig = {
        gallery: fleetGallery ? parseGallery(r.obj("imageDefinition"), fleetGallery) : parseGallery(r.obj("gallery")),
        baseImage,
        build: r.has("build") ? parseBuild(r.obj("build")) : parseBuild(new Reader(r.file, r.sub("build"), {})),
        customizations: r.has("customizations")
            ? parseCustomizations(r.obj("customizations"))
            : parseCustomizations(new Reader(r.file, r.sub("customizations"), {})),
        distribution: parseDistribution(r.optObj("distribution"), location),
        tags: tagMap(r, "tags"),
    };
    r.done();
    return image;
}

function parseRollingUpgrade(x: Reader): RollingUpgradeConfig {
    const pause = x.strOr("pauseTimeBetweenBatches", "PT5M");
    const duration = readIsoDuration(pause);
    if ("problem" in duration) x.fail("pauseTimeBetweenBatches", `${duration.problem}, got ${x.show("pauseTimeBetweenBatches", pause)}`);
    const p: RollingUpgradeConfig = {
        maxBatchInstancePercent: x.int("maxBatchInstancePercent", LIMITS.maxBatchInstancePercent, 20),
        maxUnhealthyInstancePercent: x.int("maxUnhealthyInstancePercent", LIMITS.maxUnhealthyInstancePercent, 20),
        maxUnhealthyUpgradedInstancePercent: x.int("maxUnhealthyUpgradedInstancePercent", LIMITS.maxUnhealthyUpgradedInstancePercent, 20),
        // Azure and the tools get the upper-case form the grammar reads in either case.
        pauseTimeBetweenBatches: pause.trim().toUpperCase(),
        prioritizeUnhealthyInstances: x.bool("prioritizeUnhealthyInstances", true),
        maxSurge: x.bool("maxSurge", false),
        rollbackFailedInstancesOnPolicyBreach: x.bool("rollbackFailedInstancesOnPolicyBreach", true),
    };
    // Compute's rolling upgrade refuses a batch larger than the share of instances that may be
    // unhealthy at once: every instance of a batch is unhealthy while it is upgraded.
    if (p.maxBatchInstancePercent > p.maxUnhealthyInstancePercent) {
        x.fail(
            "maxBatchInstancePercent",
            `(${p.maxBatchInstancePercent}) is above maxUnhealthyInstancePercent (${p.maxUnhealthyInstancePercent}); Azure refuses a batch larger than the share of instances allowed to be unhealthy at once`,
        );
    }
    x.done();
    return p;
}

function parseDomainJoin(r: Reader | undefined, secret: (key: string) => pulumi.Output<string> | undefined, file: string): DomainJoinConfig {
    if (!r) return { type: "EntraID", intuneEnroll: false };
    const type = r.oneOf("type", ["EntraID", "ActiveDirectory"] as const);
    if (type === "EntraID") {
        const d: DomainJoinConfig = { type, intuneEnroll: r.bool("intuneEnroll", false) };
        r.done();
        return d;
    }
    const password = secret("domainJoinPassword");
    if (!password) {
        throw new ConfigError(
            `${file}: ${PROJECT}:domainJoinPassword is required for an Active Directory domain join; set it with: pulumi config set --secret ${PROJECT}:domainJoinPassword`,
        );
    }
    const d: DomainJoinConfig = {
        type,
        domainName: r.str("domainName", rules.domainName),
        ouPath: r.optStr("ouPath"),
        username: r.str("username"),
        password,
    };
    r.done();
    return d;
}

function parseSessionHosts(r: Reader, secret: (key: string) => pulumi.Output<string> | undefined): SessionHostsConfig {
    const hp = r.optObj("hostPool") ?? new Reader(r.file, r.sub("hostPool"), {});
    const hostPool = {
        friendlyName: hp.strOr("friendlyName", "AVD session hosts", rules.text),
        loadBalancerType: hp.oneOf("loadBalancerType", ["BreadthFirst", "DepthFirst"] as const, "BreadthFirst"),
        maxSessionLimit: hp.int("maxSessionLimit", { min: 1, max: 999999 }, 10),
        validationEnvironment: hp.bool("validationEnvironment", false),
        registrationTokenValidityDays: hp.int("registrationTokenValidityDays", { min: 1, max: 27 }, 27),
    };
    hp.done();

    const dr = r.optObj("drain");
    const drain = {
        timeoutMinutes: dr ? dr.int("timeoutMinutes", LIMITS.drainTimeoutMinutes, 60) : 60,
        messageTitle: dr?.optStr("messageTitle", rules.text),
        messageBody: dr?.optStr("messageBody", rules.messageBody),
        forceLogoffAfterTimeout: dr ? dr.bool("forceLogoffAfterTimeout", false) : false,
        logOffDisconnectedSessions: dr ? dr.bool("logOffDisconnectedSessions", false) : false,
    };
    if (dr && drain.forceLogoffAfterTimeout && !drain.messageBody) {
        dr.fail("forceLogoffAfterTimeout", "needs drain.messageBody: users are never logged off without being told first");
    }
    dr?.done();

    const ro = r.optObj("rollout") ?? new Reader(r.file, r.sub("rollout"), {});
    const maxRunMinutes = ro.optInt("maxRunMinutes", LIMITS.maxRunMinutes);
    const windowReader = ro.optObj("window");
    const rollout = { ...(maxRunMinutes === undefined ? {} : { maxRunMinutes }), ...parseRolloutStrategy(ro), ...(windowReader ? { window: parseRolloutWindow(windowReader) } : {}) };
    ro.done();

    const hg = r.optObj("healthGate") ?? new Reader(r.file, r.sub("healthGate"), {});
    const healthGate = {
        maxLoginSeconds: hg.int("maxLoginSeconds", LIMITS.maxLoginSeconds, 30),
        loginProbe: hg.bool("loginProbe", false),
        maxCpuPercent: hg.int("maxCpuPercent", LIMITS.maxCpuPercent, 80),
        minFreeMemoryPercent: hg.int("minFreeMemoryPercent", LIMITS.minFreeMemoryPercent, 20),
        checkFslogix: hg.bool("checkFslogix", true),
        probeTimeoutMinutes: hg.int("probeTimeoutMinutes", LIMITS.probeTimeoutMinutes, DEFAULTS.probeTimeoutMinutes),
    };
    hg.done();

    const adminUsername = r.strOr("adminUsername", "avdadmin", rules.adminUsername);
    if (RESERVED_ADMIN_NAMES.has(adminUsername.toLowerCase())) {
        r.fail("adminUsername", `is a name Azure reserves and refuses (${JSON.stringify(adminUsername)}); choose another`);
    }

    const s: SessionHostsConfig = {
        hostPool,
        vmSize: r.str("vmSize", rules.vmSize),
        // A Uniform scale set from a gallery image holds at most 1000 instances; an empty ring has no
        // host the health gate could validate, so it could never pass.
        capacity: r.int("capacity", { min: 1, max: 1000 }),
        computerNamePrefix: r.str("computerNamePrefix", rules.computerNamePrefix),
        zones: r.strList("zones", rules.zone),
        subnetId: subnetId(r),
        adminUsername,
        adminPassword: secret("adminPassword"),
        osDiskSizeGb: r.int("osDiskSizeGb", { min: 30, max: 4095 }),
        osDiskType: r.oneOf("osDiskType", ["Standard_LRS", "StandardSSD_LRS", "Premium_LRS", "StandardSSD_ZRS", "Premium_ZRS"] as const, "Premium_LRS"),
        upgradeMode: r.oneOf("upgradeMode", ["Manual", "Rolling", "Automatic"] as const),
        rollingUpgrade: parseRollingUpgrade(r.optObj("rollingUpgrade") ?? new Reader(r.file, r.sub("rollingUpgrade"), {})),
        drain,
        rollout,
        healthGate,
        domainJoin: parseDomainJoin(r.optObj("domainJoin"), secret, r.file),
        useLatestImage: r.bool("useLatestImage", false),
    };
    const gpu = parseSessionHostGpu(r, s.vmSize);
    if (gpu) s.gpu = gpu;
    // A model that follows the definition's latest version never changes when a version is
    // published, so the drain-aware rollout would drain hosts with nothing to move them to
    // (reimage keeps "the existing version" without exactVersion: docs/rollout.md).
    if (s.useLatestImage && s.upgradeMode === "Manual") {
        r.fail(
            "useLatestImage",
            "cannot be true with upgradeMode Manual: the scale set would follow the image definition's latest version, which a new version never changes in the scale set's model, so the drain-aware rollout would have nothing to move hosts onto; pin the version (useLatestImage: false) or use upgradeMode Rolling in a test ring",
        );
    }
    const surgeProblem = s.rollout.strategy === "surge" ? surgeHeadroomProblem(s.capacity, s.rollingUpgrade.maxBatchInstancePercent) : undefined;
    if (surgeProblem) r.fail("rollout.strategy", `is surge, and ${surgeProblem}`);
    // The gate's deadline must fit the gate's range; a long pause on a large ring can exceed it.
    const gateMinutes = gateTimeoutMinutesFor({
        upgradeMode: s.upgradeMode,
        capacity: s.capacity,
        maxBatchInstancePercent: s.rollingUpgrade.maxBatchInstancePercent,
        pauseMs: parseIsoDuration(s.rollingUpgrade.pauseTimeBetweenBatches),
        probeTimeoutMinutes: s.healthGate.probeTimeoutMinutes,
    });
    if (gateMinutes > LIMITS.gateTimeoutMinutes.max) {
        r.fail(
            "rollingUpgrade.pauseTimeBetweenBatches",
            `(${s.rollingUpgrade.pauseTimeBetweenBatches}) with capacity ${s.capacity} and maxBatchInstancePercent ${s.rollingUpgrade.maxBatchInstancePercent} makes Azure's rolling upgrade take up to ${gateMinutes} minutes, longer than the health gate can wait (${LIMITS.gateTimeoutMinutes.max} minutes, 7 days); shorten the pause or raise the batch size`,
        );
    }
    r.done();
    return s;
}

export interface RawRingConfig {
    stack: string;
    /** Values of the project namespace, keyed without the `avd-image-rings:` prefix; objects already parsed from JSON. */
    values: Record<string, unknown>;
    /** Secret values (Pulumi secrets), keyed without prefix. */
    secret: (key: string) => pulumi.Output<string> | undefined;
    /** Keys (without prefix) whose values are secret: a message never shows them. */
    secretKeys?: readonly string[];
}

/** The keys of the single-image form (one image, one pool) and of the fleet form. */
export const SINGLE_FORM_KEYS = ["image", "imageVersion", "sessionHosts"] as const;
export const FLEET_FORM_KEYS = ["gallery", "images", "imageVersions", "hostPools"] as const;

/** Top-level keys of the project namespace (secrets included), for "did you mean" on near misses. */
export const TOP_LEVEL_KEYS = [
    "location",
    "promoteFrom",
    "resourceGroupName",
    ...SINGLE_FORM_KEYS,
    ...FLEET_FORM_KEYS,
    "tags",
    "promotion",
    "signOffs",
    "retention",
    "adminPassword",
    "domainJoinPassword",
    "notifications",
    "insights",
] as const;

/** The image and pool name of the single-image form, as the fleet outputs (`images.default`, `hostPools.default`) name them. */
export const SINGLE_FORM_NAME = "default";

// Image and pool names go into Pulumi logical names, Azure names and messages.
const fleetName = { pattern: /^[a-z](?:[a-z0-9-]{0,22}[a-z0-9])?$/, hint: "must be 1-24 lower-case letters, digits or '-', starting with a letter and not ending with '-'" };
const marketplaceVersion = { pattern: /^(latest|\d+\.\d+\.\d+)$/, hint: "must be \"latest\" or a marketplace image version such as \"26100.2605.241207\"" };

/** Validates one ring's raw configuration into a RingConfig, or throws one ConfigError. */
export function parseRingConfig(raw: RawRingConfig): RingConfig {
    const file = `Pulumi.${raw.stack}.yaml`;
    const stackProblem = stackNameProblem(raw.stack);
    if (stackProblem) throw new ConfigError(`${file}: ${stackProblem}`, { file, key: "(stack name)" });
    const values = { ...raw.values };
    // Secrets are read through `secret`, never as plain values.
    delete values.domainJoinPassword;
    delete values.adminPassword;
    const secretKeys = new Set((raw.secretKeys ?? []).map((k) => `${PROJECT}:${k}`));
    const isSecret = (key: string) => [...secretKeys].some((s) => key === s || key.startsWith(`${s}.`) || key.startsWith(`${s}[`));
    const r = Reader.root(file, PROJECT, values, isSecret);

    const single = SINGLE_FORM_KEYS.filter((k) => r.has(k));
    const fleet = FLEET_FORM_KEYS.filter((k) => r.has(k));
    if (single.length > 0 && fleet.length > 0) {
        r.fail(
            fleet[0],
            `cannot be combined with ${PROJECT}:${single[0]}: a stack file uses either the single-image form (${SINGLE_FORM_KEYS.join(", ")}) or the fleet form (${FLEET_FORM_KEYS.join(", ")}), not both; move the image into ${PROJECT}:images, its version into ${PROJECT}:imageVersions and the session hosts into ${PROJECT}:hostPools`,
        );
    }
    const form = fleet.length > 0 ? "fleet" : "single";

    const location = r.str("location", rules.region);
    const promoteFrom = r.optStr("promoteFrom", rules.promoteFrom);
    if (promoteFrom && promoteFrom.split("/")[2] === raw.stack) {
        r.fail("promoteFrom", `names this ring itself (${JSON.stringify(promoteFrom)}); a ring promotes from the ring before it, e.g. "<org>/${PROJECT}/test"`);
    }
    const imageKey = form === "single" ? "image" : "images";
    if (promoteFrom && r.has(imageKey)) {
        r.fail(imageKey, "is only allowed in the build ring (the ring without promoteFrom): promoted rings run versions built upstream");
    }
    if (promoteFrom && form === "fleet" && r.has("gallery")) {
        r.fail("gallery", "is only allowed in the build ring (the ring without promoteFrom): promoted rings run images from the build ring's gallery");
    }
    if (!promoteFrom && !r.has(imageKey)) {
        r.fail(imageKey, `is required in the build ring (a ring without promoteFrom); add ${form === "single" ? "an image block" : "the images it builds"} or set ${PROJECT}:promoteFrom`);
    }

    const resourceGroupName = r.strOr("resourceGroupName", `rg-avd-${raw.stack}`, rules.resourceGroup);
    const tags = tagMap(r, "tags");
    const notifications = parseNotifications(r.optObj("notifications"), isSecret(`${PROJECT}:notifications`), raw.stack);
    const insights = parseInsights(r.optObj("insights"));
    const base = { stack: raw.stack, stackFile: file, location, resourceGroupName, promoteFrom, tags, notifications, insights, promotion: parsePromotion(r, promoteFrom), signOffs: parseSignOffs(r), retention: parseRetention(r, { stack: raw.stack, promoteFrom }) };
    const ring: RingConfig =
        form === "single" ? { ...base, form, ...parseSingleForm(r, raw, location, !promoteFrom) } : { ...base, form, ...parseFleetForm(r, raw, location, !promoteFrom) };
    checkSignOffImages(r, ring.signOffs, Object.keys(ring.imageVersions));
    r.done();
    checkRingAgainstAzure(ring, r);
    checkPoolGpuDrivers(ring);
    return ring;
}

type FleetParts = Pick<RingConfig, "gallery" | "images" | "imageVersions" | "hostPools">;

/** `image` + `imageVersion` + `sessionHosts`: a fleet of image `default` and pool `default` with today's names. */
function parseSingleForm(r: Reader, raw: RawRingConfig, location: string, buildRing: boolean): FleetParts {
    const imageVersion = r.str("imageVersion");
    const versionProblem = galleryVersionProblem(imageVersion);
    if (versionProblem) r.fail("imageVersion", versionProblem);
    const name = SINGLE_FORM_NAME;
    const image = buildRing ? parseImage(r.obj("image"), location) : undefined;
    const sessionHosts = parseSessionHosts(r.obj("sessionHosts"), raw.secret);
    return {
        gallery: image ? { name: image.gallery.name } : undefined,
        images: image ? { [name]: { ...image, name, imageVersion, logicalSuffix: "" } } : {},
        imageVersions: { [name]: imageVersion },
        hostPools: {
            [name]: {
                name,
                logicalSuffix: "",
                names: sessionHostResourceNames(raw.stack),
                source: { kind: "gallery", image: name, imageVersion },
                sessionHosts,
                configKey: `${PROJECT}:sessionHosts`,
            },
        },
    };
}

/** `gallery` + `images` (build ring) + `imageVersions` + `hostPools`. */
function parseFleetForm(r: Reader, raw: RawRingConfig, location: string, buildRing: boolean): FleetParts {
    // Pulumi.yaml declares the single form's imageVersion with an empty default, so a fleet stack holds it empty.
    r.optStr("imageVersion");
    const imageVersions: Record<string, string> = {};
    for (const [name, version, map] of r.entries("imageVersions")) {
        if (!fleetName.pattern.test(name)) map.fail(name, `is not a valid image name: ${fleetName.hint}`);
        const text = typeof version === "string" ? version : map.fail(name, `must be a MAJOR.MINOR.PATCH version string, got ${map.show(name, version)}`);
        const problem = galleryVersionProblem(text);
        if (problem) map.fail(name, problem);
        imageVersions[name] = text;
    }
    if (Object.keys(imageVersions).length === 0) r.fail("imageVersions", "is required: map each image this ring runs to its MAJOR.MINOR.PATCH version");

    let gallery: RingConfig["gallery"];
    const images: Record<string, FleetImage> = {};
    if (buildRing) {
        const g = r.obj("gallery");
        gallery = { name: g.str("name", rules.galleryName) };
        g.done();
        for (const [name, , map] of r.entries("images")) {
            if (!fleetName.pattern.test(name)) map.fail(name, `is not a valid image name: ${fleetName.hint}`);
            const imageVersion = imageVersions[name];
            if (imageVersion === undefined) {
                map.fail(name, `has no version: add ${PROJECT}:imageVersions.${name} (the MAJOR.MINOR.PATCH version this ring builds)`);
            }
            images[name] = { ...parseImage(map.obj(name), location, { galleryName: gallery.name, imageName: name }), name, imageVersion, logicalSuffix: `-${name}` };
        }
        const unbuilt = Object.keys(imageVersions).find((name) => !(name in images));
        if (unbuilt) {
            r.fail(`imageVersions.${unbuilt}`, `names an image the build ring does not build; add it to ${PROJECT}:images or remove the version (known images: ${Object.keys(images).join(", ")})`);
        }
    }

    const hostPools: Record<string, PoolConfig> = {};
    for (const [name, , map] of r.entries("hostPools")) {
        if (!fleetName.pattern.test(name)) map.fail(name, `is not a valid pool name: ${fleetName.hint}`);
        const nameProblem = poolNameProblem(raw.stack, name);
        if (nameProblem) map.fail(name, `is not a valid pool name: it ${nameProblem}`);
        const pool = map.obj(name);
        hostPools[name] = {
            name,
            logicalSuffix: `-${name}`,
            names: sessionHostResourceNames(raw.stack, name),
            source: poolImageSource(pool, imageVersions, buildRing),
            sessionHosts: parseSessionHosts(pool, raw.secret),
            configKey: `${PROJECT}:hostPools.${name}`,
        };
        checkPoolSource(hostPools[name], pool);
    }
    if (Object.keys(hostPools).length === 0) r.fail("hostPools", "is required: map each host pool of this ring to its session hosts and image");
    const idle = Object.keys(imageVersions).find((image) => !Object.values(hostPools).some((p) => p.source.kind === "gallery" && p.source.image === image));
    if (idle) {
        r.fail(
            `imageVersions.${idle}`,
            `is a version no pool of this ring runs, so this ring could never validate it for the next ring; add a pool with image: ${idle} or remove the version`,
        );
    }
    return { gallery, images, imageVersions, hostPools };
}

/** A pool's `image: <name>` (a fleet image) or `marketplaceImage: {publisher, offer, sku, version}`. */
function poolImageSource(pool: Reader, imageVersions: Record<string, string>, buildRing: boolean): PoolImageSource {
    const gallery = pool.has("image");
    const marketplace = pool.has("marketplaceImage");
    if (gallery === marketplace) {
        pool.fail(gallery ? "marketplaceImage" : "image", `${gallery ? "cannot be set together with image" : "or marketplaceImage is required"}: a pool runs either one of the fleet's images (image: <name>) or, as a break-glass fallback, a marketplace image (marketplaceImage: {publisher, offer, sku, version})`);
    }
    if (gallery) {
        const image = pool.str("image", fleetName);
        const imageVersion = imageVersions[image];
        if (imageVersion === undefined) {
            pool.fail("image", `names the image "${image}", which has no version in ${PROJECT}:imageVersions (known: ${Object.keys(imageVersions).join(", ")})`);
        }
        return { kind: "gallery", image, imageVersion };
    }
    const m = pool.obj("marketplaceImage");
    const image = {
        publisher: m.str("publisher", rules.identifier),
        offer: m.str("offer", rules.identifier),
        sku: m.str("sku", rules.identifier),
        version: m.str("version", marketplaceVersion),
    };
    // Outside the build ring a floating marketplace image would change under a ring that validated another.
    if (!buildRing && image.version === "latest") {
        m.fail(
            "version",
            `is "latest", which floats: each new host would get whatever the marketplace publishes next, unvalidated. Pin the exact version outside the test ring (az vm image list --publisher ${image.publisher} --offer ${image.offer} --sku ${image.sku} --all -o table)`,
        );
    }
    m.done();
    return { kind: "marketplace", image };
}

/** Rules between a pool's image and its session-host settings. */
function checkPoolSource(pool: PoolConfig, r: Reader): void {
    if (pool.source.kind !== "marketplace") return;
    if (pool.sessionHosts.useLatestImage) r.fail("useLatestImage", "applies to gallery images only; a marketplace pool states its version in marketplaceImage.version");
    if (pool.source.image.version === "latest" && pool.sessionHosts.upgradeMode === "Manual") {
        r.fail(
            "marketplaceImage.version",
            "cannot be \"latest\" with upgradeMode Manual: the scale set's model never changes when the marketplace publishes, so the drain-aware rollout would have nothing to move hosts onto; pin the version",
        );
    }
}

/** Rules that span several keys: tag counts per resource, staging groups, names unique across the fleet. */
function checkRingAgainstAzure(ring: RingConfig, r: Reader): void {
    const max = TAG_LIMITS.maxTags;
    const ringTags = Object.keys(ring.tags).length;
    if (ringTags + PROGRAM_TAG_COUNT.scaleSet > max) {
        r.fail(
            "tags",
            `has ${ringTags} tags; the scale set gets them plus ${PROGRAM_TAG_COUNT.scaleSet} the program and the rollout set, and Azure allows at most ${max} per resource, so at most ${max - PROGRAM_TAG_COUNT.scaleSet} tags fit here`,
        );
    }
    const images = Object.values(ring.images);
    for (const image of images) {
        const key = ring.form === "single" ? "image" : `images.${image.name}`;
        const imageTags = Object.keys(image.tags);
        const clash = caseClash([...Object.keys(ring.tags), ...imageTags.filter((k) => !(k in ring.tags))]);
        if (clash) {
            r.fail(`${key}.tags.${clash[1]}`, `differs from the ring tag "${clash[0]}" (${PROJECT}:tags) only in case; Azure treats tag names case-insensitively, so the image template would carry only one of them`);
        }
        if (imageTags.length + PROGRAM_TAG_COUNT.imageVersion > max) {
            r.fail(`${key}.tags`, `has ${imageTags.length} tags; the published image version gets them plus ${PROGRAM_TAG_COUNT.imageVersion} the program sets, and Azure allows at most ${max}, so at most ${max - PROGRAM_TAG_COUNT.imageVersion} fit here`);
        }
        const templateTags = new Set([...Object.keys(ring.tags), ...imageTags]).size;
        if (templateTags + PROGRAM_TAG_COUNT.imageTemplate > max) {
            r.fail(
                `${key}.tags`,
                `together with ${PROJECT}:tags gives the image template ${templateTags} tags plus ${PROGRAM_TAG_COUNT.imageTemplate} the program sets; Azure allows at most ${max} per resource`,
            );
        }
        const staging = image.build.stagingResourceGroupName;
        if (staging && staging.toLowerCase() === ring.resourceGroupName.toLowerCase()) {
            r.fail(
                `${key}.build.stagingResourceGroupName`,
                `is the ring's own resource group (${ring.resourceGroupName}); Image Builder needs an empty group of its own, and deleting the template would later delete the ring's group with it`,
            );
        }
    }
    // Fleet-wide uniqueness, compared as Azure compares names: case-insensitively.
    const unique = (what: string, entries: Array<[key: string, value: string | undefined]>, why: string) => {
        const seen = new Map<string, string>();
        for (const [key, value] of entries) {
            if (value === undefined) continue;
            const first = seen.get(value.toLowerCase());
            if (first !== undefined) r.fail(key, `repeats the ${what} ${JSON.stringify(value)} of ${first}; ${why}`);
            seen.set(value.toLowerCase(), key);
        }
    };
    unique(
        "image definition name",
        images.map((i) => [`images.${i.name}.imageDefinition.name`, i.gallery.imageDefinitionName]),
        "each image needs its own definition in the gallery",
    );
    unique(
        "staging resource group",
        images.map((i) => [`images.${i.name}.build.stagingResourceGroupName`, i.build.stagingResourceGroupName]),
        "Image Builder lets one staging group serve only one template at a time",
    );
    const pools = Object.values(ring.hostPools);
    unique(
        "computer-name prefix",
        pools.map((p) => [`hostPools.${p.name}.computerNamePrefix`, p.sessionHosts.computerNamePrefix]),
        "two scale sets with one prefix would give session hosts the same Windows computer names",
    );
}

/** Provider namespaces a stack file legitimately holds beside the project's own. */
const KNOWN_NAMESPACES = new Set(["pulumi", "azure-native", "azure", "azuread", "command", "random", "tls", "time"]);

/**
 * A key whose namespace is almost the project's (`avd-image-ring:tags`) or is one of the
 * project's key names (`sessionHosts:capacity`): the program would never read it, so it is refused.
 */
export function nearMissNamespaceProblem(fullKey: string): string | undefined {
    const colon = fullKey.indexOf(":");
    if (colon < 0) return undefined;
    const namespace = fullKey.slice(0, colon);
    const key = fullKey.slice(colon + 1);
    if (namespace === PROJECT || KNOWN_NAMESPACES.has(namespace)) return undefined;
    const top = key.split(/[.[]/)[0];
    const suggestion = `${PROJECT}:${closest(top, TOP_LEVEL_KEYS) ?? key}`;
    if (editDistance(namespace, PROJECT) <= 3 || namespace.toLowerCase().includes("image-ring")) {
        return `has the namespace "${namespace}", not the project's "${PROJECT}", so the program would never read it (did you mean "${suggestion}"?)`;
    }
    const asKey = closest(namespace, TOP_LEVEL_KEYS);
    if (asKey) return `uses the project's key name "${asKey}" as a namespace, so the program would never read it (did you mean "${PROJECT}:${asKey}"?)`;
    return undefined;
}

/** Reads this stack's configuration once, at the program's edge. */
export function loadRingConfig(): RingConfig {
    const config = new pulumi.Config(PROJECT);
    const file = `Pulumi.${pulumi.getStack()}.yaml`;
    const values: Record<string, unknown> = {};
    const secretKeys: string[] = [];
    // Every key of every namespace, so a misspelt key or namespace is reported instead of ignored.
    for (const [fullKey, text] of Object.entries(pulumi.runtime.allConfig())) {
        const nearMiss = nearMissNamespaceProblem(fullKey);
        if (nearMiss) throw new ConfigError(`${file}: ${fullKey} ${nearMiss}`, { file, key: fullKey });
        if (!fullKey.startsWith(`${PROJECT}:`)) continue;
        const key = fullKey.slice(PROJECT.length + 1);
        values[key] = parseValue(text);
        if (isConfigSecret(fullKey)) secretKeys.push(key);
    }
    refusePlainSecrets(file, values, secretKeys);
    // An empty value is unset: Pulumi.yaml declares the secret keys with default "" so that they stay optional.
    return parseRingConfig({ stack: pulumi.getStack(), values, secret: (key) => (values[key] === "" ? undefined : config.getSecret(key)), secretKeys });
}

/** Keys read only as Pulumi secrets; Pulumi.yaml declares each of them `secret: true`. */
export const SECRET_KEYS = ["adminPassword", "domainJoinPassword"] as const;

// Which keys the CLI handed over as secrets (PULUMI_CONFIG_SECRET_KEYS); internal to the SDK, so narrowed here.
const runtimeConfig = require("@pulumi/pulumi/runtime/config") as { isConfigSecret?: (key: string) => boolean };
function isConfigSecret(key: string): boolean {
    return runtimeConfig.isConfigSecret?.(key) ?? false;
}

/**
 * A secret key set in plain text sits in the stack file, in git: refused, without echoing the value.
 * The CLI checks `secret: true` only for typed keys, and a typed secret key cannot be optional.
 */
function refusePlainSecrets(file: string, values: Record<string, unknown>, secretKeys: readonly string[]): void {
    for (const key of SECRET_KEYS) {
        const full = `${PROJECT}:${key}`;
        if (values[key] && !secretKeys.includes(key)) {
            throw new ConfigError(
                `${file}: ${full} is set in plain text, but it is a secret and the stack file is kept in git; remove it from the file and set it with: pulumi config set --secret ${full} --stack ${pulumi.getStack()}`,
                { file, key: full },
            );
        }
    }
}

/** Config values arrive as strings; objects and lists as JSON text. */
function parseValue(text: string): unknown {
    if (!/^\s*[[{]/.test(text)) return text;
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}
