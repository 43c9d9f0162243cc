// Release notes of a published image version: what is in it (base image exact version, Windows
// updates, applications, Chocolatey packages, PowerShell modules, the build steps with their
// checksums) and what changed from the previous version. The build trigger assembles them
// (tools/buildImage.ts), stores a summary as tags on the gallery version (summaryTags), and
// prints them in its result; the program exports them as `images.<name>.releaseNotes`;
// `npm run release-notes` renders them (src/lifecycle/markdown.ts).
//
// The config-level part (ConfigFacts) depends only on the template's content, so it can be
// computed offline from an ImageConfig (configFactsFromImage) and compared between two
// configurations (diffConfigFacts), e.g. for a pull-request comment.
import { createHash } from "node:crypto";
import type { ImageConfig, MarketplaceImage } from "../config/types";
import { buildCustomizers, parseChocolateyInstallLine, parsePowershellModulesLine } from "../aib/customizers";
import { RELEASE_NOTES_TAGS, TAG_LIMITS } from "../config/azureLimits";

export const RELEASE_NOTES_SCHEMA = 1;

// ---- in-VM inventory (written by src/aib/scripts/Get-ImageInventory.ps1) ----

export interface OsInfo {
    productName: string;
    editionId: string;
    /** e.g. "24H2". */
    displayVersion: string;
    /** e.g. "26100". */
    currentBuild: string;
    /** Update build revision: "26100.2314" is currentBuild.ubr. */
    ubr: number;
}

export interface Hotfix {
    /** "KB5046617". */
    id: string;
    description: string;
    /** yyyy-MM-dd, or "" when Windows does not record it. */
    installedOn: string;
}

export interface UpdateHistoryEntry {
    title: string;
    date: string;
    result: string;
}

export interface Application {
    name: string;
    version: string;
    publisher: string;
}

export interface NamedVersion {
    name: string;
    version: string;
}

export interface ImageInventory {
    schema: number;
    collectedAt: string;
    os?: OsInfo;
    hotfixes: Hotfix[];
    updateHistory: UpdateHistoryEntry[];
    applications: Application[];
    chocolatey: NamedVersion[];
    powershellModules: NamedVersion[];
    /** Sections the step could not read, as "<section>: <message>". */
    errors: string[];
}

// ---- config-level facts (from the template's content) ----

export interface StepFact {
    name: string;
    type: string;
    /**
     * SHA-256: of the downloaded script for a scriptUri step (the checksum Image Builder verifies),
     * of the inline lines joined with "\n" for an inline step, of the step's JSON otherwise.
     */
    sha256: string;
    /** The script's URI, for a scriptUri step. */
    uri?: string;
}

export interface ChocolateyPin {
    name: string;
    /** Absent: whatever Chocolatey had as latest at build time (the in-VM inventory says which). */
    version?: string;
}

export interface ConfigFacts {
    /** The marketplace image as configured (`version` may be "latest"). */
    baseImage: MarketplaceImage;
    steps: StepFact[];
    chocolateyPackages: ChocolateyPin[];
    powershellModules: string[];
}

// ---- the notes ----

/** One entry that differs between two versions: `from` absent = added, `to` absent = removed. */
export interface Change {
    name: string;
    from?: string;
    to?: string;
}

export interface ReleaseNotesChanges {
    /** The version compared with. */
    from: string;
    /** "notes": the previous version's full notes; "tags": only its summary tags (apps and modules unknown). */
    basis: "notes" | "tags";
    baseImageVersion?: Change;
    osBuild?: Change;
    hotfixes: Change[];
    chocolatey: Change[];
    applications: Change[];
    powershellModules: Change[];
    /** Steps added, removed or changed (`from`/`to` are the short checksums). */
    steps: Change[];
    /** What could not be compared, in words. */
    notes: string[];
}

export interface ReleaseNotes {
    schema: number;
    imageVersion: string;
    imageVersionId: string;
    /** The marketplace version Image Builder built from (`source.exactVersion`), when Azure reported it. */
    baseImageExactVersion?: string;
    config: ConfigFacts;
    inventory?: ImageInventory;
    /** Why the inventory is missing or may be incomplete. */
    problems: string[];
    changes?: ReleaseNotesChanges;
}

/** Notes with nothing known but the version, and why (the offline preview, where no build runs). */
export function placeholderReleaseNotes(imageVersion: string, imageVersionId: string, why: string): ReleaseNotes {
    return {
        schema: RELEASE_NOTES_SCHEMA,
        imageVersion,
        imageVersionId,
        config: { baseImage: { publisher: "", offer: "", sku: "", version: "" }, steps: [], chocolateyPackages: [], powershellModules: [] },
        problems: [why],
    };
}

// ---- config facts ----

function sha256(text: string): string {
    return createHash("sha256").update(text, "utf8").digest("hex");
}

function stringList(value: unknown): string[] | undefined {
    return Array.isArray(value) && value.every((v) => typeof v === "string") ? (value as string[]) : undefined;
}

/** The generated steps whose lines carry the packages and modules (src/aib/customizers.ts). */
const CHOCOLATEY_STEP = "install-chocolatey-packages";
const MODULES_STEP = "install-powershell-modules";

/**
 * Facts of a template's `source` and `customize` list, as the program generates them or as
 * Image Builder returns them (2024-02-01 property names). Unknown step types are kept by name.
 */
export function configFacts(source: MarketplaceImage, customize: readonly unknown[]): ConfigFacts {
    const steps: StepFact[] = [];
    const chocolateyPackages: ChocolateyPin[] = [];
    const powershellModules: string[] = [];
    for (const raw of customize) {
        if (typeof raw !== "object" || raw === null) continue;
        const step = raw as Record<string, unknown>;
        const name = typeof step.name === "string" ? step.name : "";
        const type = typeof step.type === "string" ? step.type : "unknown";
        const inline = stringList(step.inline);
        const uri = typeof step.scriptUri === "string" ? step.scriptUri : typeof step.sourceUri === "string" ? step.sourceUri : undefined;
        const checksum = typeof step.sha256Checksum === "string" ? step.sha256Checksum.toLowerCase() : undefined;
        const fact: StepFact = uri
            ? { name, type, sha256: checksum ?? sha256(uri), uri }
            : { name, type, sha256: inline ? sha256(inline.join("\n")) : sha256(canonical(step)) };
        steps.push(fact);
        if (name === CHOCOLATEY_STEP && inline) {
            for (const line of inline) {
                const pin = parseChocolateyInstallLine(line);
                if (pin) chocolateyPackages.push(pin);
            }
        }
        if (name === MODULES_STEP && inline) {
            for (const line of inline) powershellModules.push(...(parsePowershellModulesLine(line) ?? []));
        }
    }
    return { baseImage: { ...source }, steps, chocolateyPackages, powershellModules };
}

/** The config facts of an image block, offline (the same template content the build creates). */
export function configFactsFromImage(image: ImageConfig): ConfigFacts {
    return configFacts(image.baseImage, buildCustomizers(image.customizations));
}

function canonical(value: unknown): string {
    if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
    if (typeof value === "object" && value !== null) {
        const entries = Object.entries(value as Record<string, unknown>)
            .filter(([, v]) => v !== undefined)
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
    }
    return JSON.stringify(value);
}

// ---- diffs ----

function diffMaps(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): Change[] {
    const changes: Change[] = [];
    for (const [name, to] of after) {
        const from = before.get(name);
        if (from === undefined) changes.push({ name, to });
        else if (from !== to) changes.push({ name, from, to });
    }
    for (const [name, from] of before) if (!after.has(name)) changes.push({ name, from });
    return changes.sort((a, b) => a.name.localeCompare(b.name));
}

const byName = (items: readonly NamedVersion[]) => new Map(items.map((i) => [i.name.toLowerCase(), i.version]));

/** Config-level change between two image configurations: steps, Chocolatey pins, modules, base image. */
export function diffConfigFacts(before: ConfigFacts, after: ConfigFacts): Pick<ReleaseNotesChanges, "chocolatey" | "powershellModules" | "steps"> & { baseImage?: Change } {
    const image = (f: ConfigFacts) => `${f.baseImage.publisher}:${f.baseImage.offer}:${f.baseImage.sku}:${f.baseImage.version}`;
    const pin = (pins: readonly ChocolateyPin[]) => new Map(pins.map((p) => [p.name.toLowerCase(), p.version ?? "latest"]));
    const present = (names: readonly string[]) => new Map(names.map((n) => [n, "present"]));
    const steps = (facts: ConfigFacts) => new Map(facts.steps.map((s) => [s.name, s.sha256.slice(0, SHORT_HASH)]));
    return {
        ...(image(before) !== image(after) ? { baseImage: { name: "base image", from: image(before), to: image(after) } } : {}),
        chocolatey: diffMaps(pin(before.chocolateyPackages), pin(after.chocolateyPackages)),
        powershellModules: diffMaps(present(before.powershellModules), present(after.powershellModules)),
        steps: diffMaps(steps(before), steps(after)),
    };
}

function osBuild(inventory: ImageInventory | undefined): string | undefined {
    const os = inventory?.os;
    return os && os.currentBuild ? `${os.currentBuild}.${os.ubr}` : undefined;
}

function change(name: string, from: string | undefined, to: string | undefined): Change | undefined {
    return from === to || (from === undefined && to === undefined) ? undefined : { name, ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) };
}

/** What changed from the previous version's full notes. */
export function diffReleaseNotes(previous: ReleaseNotes, current: ReleaseNotes): ReleaseNotesChanges {
    const cfg = diffConfigFacts(previous.config, current.config);
    const notes: string[] = [];
    if (!previous.inventory || !current.inventory) notes.push(`the in-VM inventory of ${!previous.inventory ? previous.imageVersion : current.imageVersion} is missing, so updates, applications and modules are not compared`);
    const inv = (f: (i: ImageInventory) => ReadonlyMap<string, string>) => (previous.inventory && current.inventory ? diffMaps(f(previous.inventory), f(current.inventory)) : []);
    return {
        from: previous.imageVersion,
        basis: "notes",
        ...optional("baseImageVersion", change("base image version", previous.baseImageExactVersion, current.baseImageExactVersion)),
        ...optional("osBuild", previous.inventory && current.inventory ? change("OS build", osBuild(previous.inventory), osBuild(current.inventory)) : undefined),
        hotfixes: inv((i) => new Map(i.hotfixes.map((h) => [h.id.toUpperCase(), "installed"]))),
        chocolatey: previous.inventory && current.inventory ? inv((i) => byName(i.chocolatey)) : cfg.chocolatey,
        applications: inv((i) => new Map(i.applications.map((a) => [a.name, a.version]))),
        powershellModules: previous.inventory && current.inventory ? inv((i) => byName(i.powershellModules)) : cfg.powershellModules,
        steps: cfg.steps,
        notes,
    };
}

function optional<K extends string>(key: K, value: Change | undefined): Partial<Record<K, Change>> {
    return value ? ({ [key]: value } as Partial<Record<K, Change>>) : {};
}

// ---- summary tags ----

export { RELEASE_NOTES_TAGS };
export type ReleaseNotesTag = (typeof RELEASE_NOTES_TAGS)[number];

/** Characters of a step's SHA-256 kept in the Steps tag and in step changes. */
export const SHORT_HASH = 8;

/** Items joined with "," and cut at an item boundary to fit a tag value, with "+N more" when cut. */
export function fitList(items: readonly string[], max: number = TAG_LIMITS.maxValueLength): string {
    const all = items.join(",");
    if (all.length <= max) return all;
    for (let kept = items.length - 1; kept > 0; kept--) {
        const value = `${items.slice(0, kept).join(",")},+${items.length - kept} more`;
        if (value.length <= max) return value;
    }
    return `${items.length} items`.slice(0, max);
}

/**
 * The summary stored on the gallery version, every value within Azure's 256 characters: exact base
 * version, OS build (build.UBR), hotfix KBs, installed Chocolatey packages as name=version (the pins
 * when the inventory is missing), and steps as name:<first 8 hex of the SHA-256>. A tag whose value
 * is unknown is left out rather than set empty.
 */
export function summaryTags(notes: ReleaseNotes): Partial<Record<ReleaseNotesTag, string>> {
    const tags: Partial<Record<ReleaseNotesTag, string>> = {};
    if (notes.baseImageExactVersion) tags.BaseImageVersion = notes.baseImageExactVersion.slice(0, TAG_LIMITS.maxValueLength);
    const build = osBuild(notes.inventory);
    if (build) tags.OsBuild = build;
    if (notes.inventory) {
        tags.Hotfixes = fitList([...new Set(notes.inventory.hotfixes.map((h) => h.id.toUpperCase()))].sort());
        tags.Packages = fitList(notes.inventory.chocolatey.map((p) => `${p.name}=${p.version}`));
    } else if (notes.config.chocolateyPackages.length > 0) {
        tags.Packages = fitList(notes.config.chocolateyPackages.map((p) => `${p.name}=${p.version ?? "latest"}`));
    }
    if (notes.config.steps.length > 0) tags.Steps = fitList(notes.config.steps.map((s) => `${s.name}:${s.sha256.slice(0, SHORT_HASH)}`));
    return tags;
}

/** A tag list value back into its items; a "+N more" tail means the list is incomplete. */
function readList(value: string | undefined): { items: string[]; complete: boolean } | undefined {
    if (value === undefined) return undefined;
    const items = value === "" ? [] : value.split(",");
    const complete = !/^\+\d+ more$/.test(items[items.length - 1] ?? "") && !/^\d+ items$/.test(value);
    return { items: complete ? items : items.slice(0, -1), complete };
}

function pairs(items: readonly string[], separator: string): Map<string, string> {
    return new Map(
        items.map((i) => {
            const at = i.lastIndexOf(separator);
            return at < 0 ? [i, ""] : [i.slice(0, at), i.slice(at + 1)];
        }),
    );
}

/**
 * What changed from the previous version, known only by its summary tags (its full notes are not
 * kept in Azure): base image, OS build, hotfixes, Chocolatey packages and steps. Tag names are
 * looked up case-insensitively, as Azure treats them.
 */
export function diffFromTags(previousVersion: string, previousTags: Readonly<Record<string, string>>, current: ReleaseNotes): ReleaseNotesChanges {
    const tag = (name: ReleaseNotesTag) => Object.entries(previousTags).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
    const now = summaryTags(current);
    const notes: string[] = [];
    const compare = (name: ReleaseNotesTag, what: string, separator: string | undefined): Change[] => {
        const before = readList(tag(name));
        const after = readList(now[name]);
        if (!before || !after) {
            if (before || after) notes.push(`${what}: ${before ? current.imageVersion : previousVersion} has no ${name} tag, so they are not compared`);
            return [];
        }
        if (!before.complete || !after.complete) notes.push(`${what}: the ${name} tag lists only part of them, so only the listed ones are compared`);
        const toMap = (items: string[]) => (separator ? pairs(items, separator) : new Map(items.map((i) => [i, "installed"])));
        let changes = diffMaps(toMap(before.items), toMap(after.items));
        // An item cut from one side's tag is not "removed" or "added".
        if (!before.complete) changes = changes.filter((c) => c.from !== undefined);
        if (!after.complete) changes = changes.filter((c) => c.to !== undefined);
        return changes;
    };
    const osBefore = tag("OsBuild");
    const baseBefore = tag("BaseImageVersion");
    notes.push("applications and PowerShell modules are compared only against full notes (npm run release-notes -- --previous <notes.json>)");
    return {
        from: previousVersion,
        basis: "tags",
        ...optional("baseImageVersion", baseBefore !== undefined || current.baseImageExactVersion !== undefined ? change("base image version", baseBefore, current.baseImageExactVersion) : undefined),
        ...optional("osBuild", osBefore !== undefined && now.OsBuild !== undefined ? change("OS build", osBefore, now.OsBuild) : undefined),
        hotfixes: compare("Hotfixes", "hotfixes", undefined),
        chocolatey: compare("Packages", "Chocolatey packages", "="),
        applications: [],
        powershellModules: [],
        steps: compare("Steps", "steps", ":"),
        notes,
    };
}

// ---- reading notes back (stack outputs, files, the build tool's result) ----

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

function str(value: unknown): string {
    return typeof value === "string" ? value : typeof value === "number" ? String(value) : "";
}

function records(value: unknown): Record<string, unknown>[] {
    return Array.isArray(value) ? value.filter(isRecord) : [];
}

/**
 * The inventory JSON as the step writes it, checked: Windows PowerShell's ConvertTo-Json turns a
 * one-element list into an object and an empty one into null, so both are read as lists.
 * Throws when the document is not an inventory at all.
 */
export function parseInventory(value: unknown): ImageInventory {
    if (!isRecord(value) || typeof value.schema !== "number") throw new Error("the inventory is not a JSON object with a numeric schema");
    if (value.schema !== 1) throw new Error(`the inventory has schema ${value.schema}; this program reads schema 1`);
    const list = (v: unknown) => records(v === null || v === undefined ? [] : Array.isArray(v) ? v : [v]);
    const os = isRecord(value.os) && str(value.os.currentBuild) !== ""
        ? { productName: str(value.os.productName), editionId: str(value.os.editionId), displayVersion: str(value.os.displayVersion), currentBuild: str(value.os.currentBuild), ubr: Number(value.os.ubr) || 0 }
        : undefined;
    const named = (v: unknown) => list(v).map((r) => ({ name: str(r.name), version: str(r.version) })).filter((r) => r.name !== "");
    return {
        schema: 1,
        collectedAt: str(value.collectedAt),
        ...(os ? { os } : {}),
        hotfixes: list(value.hotfixes).map((r) => ({ id: str(r.id), description: str(r.description), installedOn: str(r.installedOn) })).filter((h) => h.id !== ""),
        updateHistory: list(value.updateHistory).map((r) => ({ title: str(r.title), date: str(r.date), result: str(r.result) })).filter((u) => u.title !== ""),
        applications: list(value.applications).map((r) => ({ name: str(r.name), version: str(r.version), publisher: str(r.publisher) })).filter((a) => a.name !== ""),
        chocolatey: named(value.chocolatey),
        powershellModules: named(value.powershellModules),
        errors: (Array.isArray(value.errors) ? value.errors : value.errors ? [value.errors] : []).map(str).filter((e) => e !== ""),
    };
}

/** Release notes read back from JSON (a file, a stack output, the tool's result); throws on another shape. */
export function parseReleaseNotes(value: unknown): ReleaseNotes {
    if (!isRecord(value) || typeof value.imageVersion !== "string" || !isRecord(value.config)) {
        throw new Error("not release notes: expected an object with imageVersion and config");
    }
    if (value.schema !== RELEASE_NOTES_SCHEMA) throw new Error(`release notes schema ${String(value.schema)}; this program reads schema ${RELEASE_NOTES_SCHEMA}`);
    const c = value.config;
    const base = isRecord(c.baseImage) ? c.baseImage : {};
    const config: ConfigFacts = {
        baseImage: { publisher: str(base.publisher), offer: str(base.offer), sku: str(base.sku), version: str(base.version) },
        steps: records(c.steps).map((s) => ({ name: str(s.name), type: str(s.type), sha256: str(s.sha256), ...(typeof s.uri === "string" ? { uri: s.uri } : {}) })),
        chocolateyPackages: records(c.chocolateyPackages).map((p) => ({ name: str(p.name), ...(typeof p.version === "string" ? { version: p.version } : {}) })),
        powershellModules: Array.isArray(c.powershellModules) ? c.powershellModules.map(str) : [],
    };
    const changes = isRecord(value.changes) ? parseChanges(value.changes) : undefined;
    return {
        schema: RELEASE_NOTES_SCHEMA,
        imageVersion: value.imageVersion,
        imageVersionId: str(value.imageVersionId),
        ...(typeof value.baseImageExactVersion === "string" ? { baseImageExactVersion: value.baseImageExactVersion } : {}),
        config,
        ...(value.inventory !== undefined && value.inventory !== null ? { inventory: parseInventory(value.inventory) } : {}),
        problems: Array.isArray(value.problems) ? value.problems.map(str) : [],
        ...(changes ? { changes } : {}),
    };
}

function parseChange(value: unknown): Change | undefined {
    if (!isRecord(value) || typeof value.name !== "string") return undefined;
    return { name: value.name, ...(typeof value.from === "string" ? { from: value.from } : {}), ...(typeof value.to === "string" ? { to: value.to } : {}) };
}

function parseChanges(c: Record<string, unknown>): ReleaseNotesChanges {
    const list = (v: unknown) => (Array.isArray(v) ? v.map(parseChange).filter((x): x is Change => x !== undefined) : []);
    const base = parseChange(c.baseImageVersion);
    const os = parseChange(c.osBuild);
    return {
        from: str(c.from),
        basis: c.basis === "tags" ? "tags" : "notes",
        ...(base ? { baseImageVersion: base } : {}),
        ...(os ? { osBuild: os } : {}),
        hotfixes: list(c.hotfixes),
        chocolatey: list(c.chocolatey),
        applications: list(c.applications),
        powershellModules: list(c.powershellModules),
        steps: list(c.steps),
        notes: Array.isArray(c.notes) ? c.notes.map(str) : [],
    };
}
