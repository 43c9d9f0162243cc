// What changes in the build ring's images between two validated configurations (the pull
// request's base and head): the config-level release note of a monthly build, e.g.
// "+ vlc 3.0.21, googlechrome 131 -> 132, new step harden-os". Pure: RingConfig in, text out.
import { createHash } from "node:crypto";
import type { ImageConfig, RingConfig } from "../config/types";

/** One image of the ring as the diff sees it: the version it builds and what goes into it. */
export interface ImageSnapshot {
    version: string;
    image: ImageConfig;
}

/** The images a ring builds, by name (`default` in the single form); a promoted ring builds none. */
export function ringImages(ring: RingConfig): Record<string, ImageSnapshot> {
    return Object.fromEntries(Object.values(ring.images).map((image) => [image.name, { version: image.imageVersion, image }]));
}

export type ChangeArea = "chocolatey" | "steps" | "powershellModules" | "baseImage" | "windowsUpdate" | "customizations" | "build" | "distribution" | "tags";

export interface Change {
    area: ChangeArea;
    /** Short form for the one-line summary: "+ vlc 3.0.21", "googlechrome 131 -> 132", "new step harden-os". */
    text: string;
}

export interface ImageDiff {
    name: string;
    status: "added" | "removed" | "changed" | "unchanged";
    from?: string;
    to?: string;
    changes: Change[];
    /** The content changed but the version did not: the build would reuse the published version. */
    versionNotBumped: boolean;
}

const show = (v: unknown): string => (v === undefined ? "(unset)" : typeof v === "string" ? v : JSON.stringify(v));
const short = (sha: string): string => sha.slice(0, 12);

/** SHA-256 of an inline step as the build writes it (one line per entry). */
export function inlineStepSha256(lines: readonly string[]): string {
    return createHash("sha256").update(lines.join("\n")).digest("hex");
}

function field(area: ChangeArea, label: string, from: unknown, to: unknown): Change[] {
    return JSON.stringify(from) === JSON.stringify(to) ? [] : [{ area, text: `${label} ${show(from)} -> ${show(to)}` }];
}

function chocolatey(base: ImageConfig, head: ImageConfig): Change[] {
    const before = new Map(base.customizations.chocolateyPackages.map((p) => [p.name.toLowerCase(), p]));
    const after = new Map(head.customizations.chocolateyPackages.map((p) => [p.name.toLowerCase(), p]));
    const pin = (v?: string) => v ?? "latest";
    // Chocolatey package ids are case-insensitive. Added, then changed, then removed.
    const added = [...after].filter(([key]) => !before.has(key)).map(([, p]) => `+ ${p.name} ${pin(p.version)}`);
    const changed = [...after].flatMap(([key, p]) => {
        const old = before.get(key);
        return old && old.version !== p.version ? [`${p.name} ${pin(old.version)} -> ${pin(p.version)}`] : [];
    });
    const removed = [...before].filter(([key]) => !after.has(key)).map(([, p]) => `- ${p.name} ${pin(p.version)}`);
    return [...added, ...changed, ...removed].map((text) => ({ area: "chocolatey", text }));
}

interface StepIdentity {
    sha256: string;
    /** Downloaded steps only. */
    uri?: string;
}

/** Every script step by name with what identifies its content: the checksum and, for downloads, the URL. */
function steps(image: ImageConfig): Map<string, StepIdentity> {
    const c = image.customizations;
    const all: Array<[string, StepIdentity]> = [
        ...c.inlineScripts.map((s): [string, StepIdentity] => [s.name, { sha256: inlineStepSha256(s.lines) }]),
        ...c.scriptUris.map((s): [string, StepIdentity] => [s.name, { sha256: s.sha256, uri: s.uri }]),
    ];
    return new Map(all);
}

/** Step names in the order AIB runs them: inline steps, then downloaded ones, each as written. */
function stepOrder(image: ImageConfig): string[] {
    return [...image.customizations.inlineScripts.map((s) => s.name), ...image.customizations.scriptUris.map((s) => s.name)];
}

function stepChanges(base: ImageConfig, head: ImageConfig): Change[] {
    const before = steps(base);
    const after = steps(head);
    const out: Change[] = [];
    for (const [name, s] of after) {
        const old = before.get(name);
        if (!old) out.push({ area: "steps", text: `new step ${name}` });
        else {
            if (old.sha256 !== s.sha256) out.push({ area: "steps", text: `step ${name} changed (sha256 ${short(old.sha256)} -> ${short(s.sha256)})` });
            if (old.uri !== s.uri) out.push({ area: "steps", text: `step ${name} from ${s.uri ?? "inline"} (was ${old.uri ?? "inline"})` });
        }
    }
    for (const name of before.keys()) if (!after.has(name)) out.push({ area: "steps", text: `removed step ${name}` });
    // Steps kept on both sides but run in another order change the image too.
    const beforeOrder = stepOrder(base).filter((n) => after.has(n));
    const afterOrder = stepOrder(head).filter((n) => before.has(n));
    if (beforeOrder.join("\n") !== afterOrder.join("\n")) out.push({ area: "steps", text: `step order ${beforeOrder.join(", ")} -> ${afterOrder.join(", ")}` });
    return out;
}

function listChanges(area: ChangeArea, label: string, base: readonly string[], head: readonly string[]): Change[] {
    return [...head.filter((m) => !base.includes(m)).map((m) => ({ area, text: `+ ${label} ${m}` })), ...base.filter((m) => !head.includes(m)).map((m) => ({ area, text: `- ${label} ${m}` }))];
}

function imageChanges(base: ImageConfig, head: ImageConfig): Change[] {
    const b = base.baseImage;
    const h = head.baseImage;
    const marketplace = (m: typeof b) => `${m.publisher}/${m.offer}/${m.sku}@${m.version}`;
    const wuB = base.customizations.windowsUpdate;
    const wuH = head.customizations.windowsUpdate;
    const tagKeys = [...new Set([...Object.keys(base.tags), ...Object.keys(head.tags)])];
    return [
        ...chocolatey(base, head),
        ...stepChanges(base, head),
        ...listChanges("powershellModules", "module", base.customizations.powershellModules, head.customizations.powershellModules),
        ...(marketplace(b) === marketplace(h) ? [] : [{ area: "baseImage" as const, text: `base image ${marketplace(b)} -> ${marketplace(h)}` }]),
        ...field("windowsUpdate", "Windows Update enabled", wuB.enabled, wuH.enabled),
        ...field("windowsUpdate", "Windows Update searchCriteria", wuB.searchCriteria, wuH.searchCriteria),
        ...field("windowsUpdate", "Windows Update filters", wuB.filters, wuH.filters),
        ...field("windowsUpdate", "Windows Update updateLimit", wuB.updateLimit, wuH.updateLimit),
        ...(["restartAfterCustomization", "runOptimization", "runCleanup"] as const).flatMap((k) => field("customizations", k, base.customizations[k], head.customizations[k])),
        ...(["vmSize", "osDiskSizeGb", "timeoutMinutes"] as const).flatMap((k) => field("build", `build.${k}`, base.build[k], head.build[k])),
        ...field("distribution", "replication regions", base.distribution.replicationRegions, head.distribution.replicationRegions),
        ...tagKeys.flatMap((k) => field("tags", `tag ${k}`, base.tags[k], head.tags[k])),
    ];
}

/** Per image: added, removed, or what changed, in the head's image order (removed ones last). */
export function diffRingImages(base: Record<string, ImageSnapshot>, head: Record<string, ImageSnapshot>): ImageDiff[] {
    const out: ImageDiff[] = [];
    for (const [name, h] of Object.entries(head)) {
        const b = base[name];
        if (!b) {
            out.push({ name, status: "added", to: h.version, changes: [], versionNotBumped: false });
            continue;
        }
        const changes = imageChanges(b.image, h.image);
        const bumped = b.version !== h.version;
        out.push({ name, status: bumped || changes.length > 0 ? "changed" : "unchanged", from: b.version, to: h.version, changes, versionNotBumped: !bumped && changes.length > 0 });
    }
    for (const [name, b] of Object.entries(base)) if (!head[name]) out.push({ name, status: "removed", from: b.version, changes: [], versionNotBumped: false });
    return out;
}

const md = (text: string): string => text.replace(/([\\`*_[\]<|])/g, "\\$1");

const AREA_TITLES: Record<ChangeArea, string> = {
    chocolatey: "Chocolatey packages",
    steps: "Script steps",
    powershellModules: "PowerShell modules",
    baseImage: "Base image",
    windowsUpdate: "Windows Update",
    customizations: "Customization settings",
    build: "Build",
    distribution: "Distribution",
    tags: "Version tags",
};

/** Markdown for a pull-request comment: a one-line summary per image, then the changes by area. */
export function renderConfigDiff(diffs: ImageDiff[], title: string): string {
    const out = [`### ${md(title)}`, ""];
    if (diffs.length === 0) return [...out, "The ring builds no image.", ""].join("\n");
    for (const d of diffs) {
        if (d.status === "added") out.push(`- **${md(d.name)}**: new image, ${md(d.to ?? "")}`);
        else if (d.status === "removed") out.push(`- **${md(d.name)}**: removed (was ${md(d.from ?? "")})`);
        else if (d.status === "unchanged") out.push(`- **${md(d.name)}** ${md(d.to ?? "")}: no change`);
        else {
            const version = d.from === d.to ? md(d.to ?? "") : `${md(d.from ?? "")} -> ${md(d.to ?? "")}`;
            out.push(`- **${md(d.name)}** ${version}${d.changes.length > 0 ? `: ${md(d.changes.map((c) => c.text).join(", "))}` : ": version bump only (same configuration: a rebuild with the month's updates)"}`);
            if (d.versionNotBumped) {
                out.push(`  - **Warning:** the image's configuration changed but its version is still ${md(d.to ?? "")}; a published gallery version never changes, so the build would reuse it. Bump it: \`npm run next-version -- --stack <build ring>\`.`);
            }
        }
    }
    const detailed = diffs.filter((d) => d.changes.length > 0);
    for (const d of detailed) {
        out.push("", `#### ${md(d.name)}`, "");
        for (const area of Object.keys(AREA_TITLES) as ChangeArea[]) {
            const texts = d.changes.filter((c) => c.area === area).map((c) => c.text);
            if (texts.length > 0) out.push(`- ${AREA_TITLES[area]}: ${texts.map((t) => `\`${t.replace(/`/g, "'")}\``).join(", ")}`);
        }
    }
    return [...out, ""].join("\n");
}
