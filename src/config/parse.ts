import * as pulumi from "@pulumi/pulumi";
import * as semver from "semver";
import { readIsoDuration } from "../../policy/lib/duration";
import { parseIsoDuration } from "../rollout/duration";
import { controlCharacterProblem, DEFAULTS, gateTimeoutMinutesFor, LIMITS } from "../tools/environment";
import { caseClash, PROGRAM_TAG_COUNT, RESOURCE_GROUP_NAME, stackNameProblem, subnetIdProblem, TAG_LIMITS, tagNameProblem, tagValueProblem } from "./azureLimits";
import { closest, ConfigError, editDistance, Reader } from "./reader";
import { parseRolloutStrategy } from "./rolloutStrategy";
import type {
    BuildConfig,
    ChocolateyPackage,
    CustomizationsConfig,
    DistributionConfig,
    DomainJoinConfig,
    GalleryConfig,
    ImageConfig,
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

function parseGallery(r: Reader): GalleryConfig {
    const g: GalleryConfig = {
        name: r.str("name", rules.galleryName),
        imageDefinitionName: r.str("imageDefinitionName", rules.imageDefinitionName),
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

function parseImage(r: Reader, location: string): ImageConfig {
    const base = r.optObj("baseImage");
    const baseImage = {
        publisher: base ? base.strOr("publisher", "MicrosoftWindowsDesktop", rules.identifier) : "MicrosoftWindowsDesktop",
        offer: base ? base.strOr("offer", "office-365", rules.identifier) : "office-365",
        sku: base ? base.strOr("sku", "win11-24h2-avd-m365", rules.identifier) : "win11-24h2-avd-m365",
        version: base ? base.strOr("version", "latest", { pattern: /^(latest|\d+\.\d+\.\d+)$/, hint: "must be \"latest\" or a marketplace image version such as \"26100.2605.241207\"" }) : "latest",
    };
    base?.done();
    const image: ImageConfig = {
        gallery: parseGallery(r.obj("gallery")),
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
    const rollout = { ...(maxRunMinutes === undefined ? {} : { maxRunMinutes }), strategy: parseRolloutStrategy(ro) };
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
    // A model that follows the definition's latest version never changes when a version is
    // published, so the drain-aware rollout would drain hosts with nothing to move them to
    // (reimage keeps "the existing version" without exactVersion: docs/rollout.md).
    if (s.useLatestImage && s.upgradeMode === "Manual") {
        r.fail(
            "useLatestImage",
            "cannot be true with upgradeMode Manual: the scale set would follow the image definition's latest version, which a new version never changes in the scale set's model, so the drain-aware rollout would have nothing to move hosts onto; pin the version (useLatestImage: false) or use upgradeMode Rolling in a test ring",
        );
    }
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

/** Top-level keys of the project namespace (secrets included), for "did you mean" on near misses. */
export const TOP_LEVEL_KEYS = ["imageVersion", "location", "promoteFrom", "resourceGroupName", "image", "sessionHosts", "tags", "adminPassword", "domainJoinPassword"] as const;

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

    const imageVersion = r.str("imageVersion");
    const versionProblem = galleryVersionProblem(imageVersion);
    if (versionProblem) r.fail("imageVersion", versionProblem);

    const location = r.str("location", rules.region);
    const promoteFrom = r.optStr("promoteFrom", rules.promoteFrom);
    if (promoteFrom && promoteFrom.split("/")[2] === raw.stack) {
        r.fail("promoteFrom", `names this ring itself (${JSON.stringify(promoteFrom)}); a ring promotes from the ring before it, e.g. "<org>/${PROJECT}/test"`);
    }
    if (promoteFrom && r.has("image")) {
        r.fail("image", "is only allowed in the build ring (the ring without promoteFrom): promoted rings run versions built upstream");
    }
    if (!promoteFrom && !r.has("image")) {
        r.fail("image", `is required in the build ring (a ring without promoteFrom); add an image block or set ${PROJECT}:promoteFrom`);
    }

    const resourceGroupName = r.strOr("resourceGroupName", `rg-avd-${raw.stack}`, rules.resourceGroup);
    const tags = tagMap(r, "tags");
    const image = promoteFrom ? undefined : parseImage(r.obj("image"), location);
    const ring: RingConfig = {
        stack: raw.stack,
        stackFile: file,
        location,
        resourceGroupName,
        imageVersion,
        promoteFrom,
        image,
        sessionHosts: parseSessionHosts(r.obj("sessionHosts"), raw.secret),
        tags,
    };
    r.done();
    checkRingAgainstAzure(ring, r);
    return ring;
}

/** Rules that span several keys: tag counts per resource and the staging group. */
function checkRingAgainstAzure(ring: RingConfig, r: Reader): void {
    const max = TAG_LIMITS.maxTags;
    const ringTags = Object.keys(ring.tags).length;
    if (ringTags + PROGRAM_TAG_COUNT.scaleSet > max) {
        r.fail(
            "tags",
            `has ${ringTags} tags; the scale set gets them plus ${PROGRAM_TAG_COUNT.scaleSet} the program and the rollout set, and Azure allows at most ${max} per resource, so at most ${max - PROGRAM_TAG_COUNT.scaleSet} tags fit here`,
        );
    }
    const image = ring.image;
    if (!image) return;
    const imageTags = Object.keys(image.tags);
    const clash = caseClash([...Object.keys(ring.tags), ...imageTags.filter((k) => !(k in ring.tags))]);
    if (clash) {
        r.fail(`image.tags.${clash[1]}`, `differs from the ring tag "${clash[0]}" (${PROJECT}:tags) only in case; Azure treats tag names case-insensitively, so the image template would carry only one of them`);
    }
    if (imageTags.length + PROGRAM_TAG_COUNT.imageVersion > max) {
        r.fail("image.tags", `has ${imageTags.length} tags; the published image version gets them plus ${PROGRAM_TAG_COUNT.imageVersion} the program sets, and Azure allows at most ${max}, so at most ${max - PROGRAM_TAG_COUNT.imageVersion} fit here`);
    }
    const templateTags = new Set([...Object.keys(ring.tags), ...imageTags]).size;
    if (templateTags + PROGRAM_TAG_COUNT.imageTemplate > max) {
        r.fail(
            "image.tags",
            `together with ${PROJECT}:tags gives the image template ${templateTags} tags plus ${PROGRAM_TAG_COUNT.imageTemplate} the program sets; Azure allows at most ${max} per resource`,
        );
    }
    const staging = image.build.stagingResourceGroupName;
    if (staging && staging.toLowerCase() === ring.resourceGroupName.toLowerCase()) {
        r.fail(
            "image.build.stagingResourceGroupName",
            `is the ring's own resource group (${ring.resourceGroupName}); Image Builder needs an empty group of its own, and deleting the template would later delete the ring's group with it`,
        );
    }
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
