// Release notes as Markdown, for `npm run release-notes`: a change summary first (what a reviewer
// and a pilot user want), then the full contents.
import type { Change, ReleaseNotes, ReleaseNotesChanges } from "./releaseNotes";

/** A table cell: pipes escaped, line breaks flattened. */
function cell(text: string): string {
    return text.replace(/\|/g, "\\|").replace(/\r?\n/g, " ").trim() || " ";
}

function table(headers: string[], rows: string[][]): string[] {
    if (rows.length === 0) return ["(none)"];
    return [`| ${headers.join(" | ")} |`, `|${headers.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`)];
}

/** "+ vlc 3.0.21", "- 7zip 24.9.0", "googlechrome 131.0 -> 132.0" (presence-only entries without their marker value). */
export function describeChange(c: Change): string {
    const shown = (v: string | undefined) => (v === undefined || v === "installed" || v === "present" || v === "" ? "" : ` ${v}`);
    if (c.from === undefined) return `+ ${c.name}${shown(c.to)}`.replace("+  ", "+ ");
    if (c.to === undefined) return `- ${c.name}${shown(c.from)}`.replace("-  ", "- ");
    return `${c.name} ${c.from} -> ${c.to}`;
}

function changeSection(changes: ReleaseNotesChanges): string[] {
    const out = [`## What changed since ${changes.from}`, ""];
    // A single value reads "from -> to" under its title; lists name each entry.
    const single = (c: Change | undefined): Change[] => (c ? [{ ...c, name: "" }] : []);
    const groups: Array<[string, Change[]]> = [
        ["Base image", single(changes.baseImageVersion)],
        ["OS build", single(changes.osBuild)],
        ["Hotfixes", changes.hotfixes],
        ["Chocolatey packages", changes.chocolatey],
        ["Applications", changes.applications],
        ["PowerShell modules", changes.powershellModules],
        ["Build steps", changes.steps],
    ];
    const any = groups.some(([, list]) => list.length > 0);
    if (!any) out.push("No differences found.");
    for (const [title, list] of groups) {
        if (list.length === 0) continue;
        out.push(`- **${title}**: ${list.map((c) => describeChange(c).trim()).join("; ")}`);
    }
    if (changes.basis === "tags") out.push("", `_Compared with the summary tags of ${changes.from}._`);
    for (const note of changes.notes) out.push(`_Note: ${note}._`);
    out.push("");
    return out;
}

export function renderReleaseNotes(notes: ReleaseNotes, title = "Image version"): string {
    const b = notes.config.baseImage;
    const inv = notes.inventory;
    const out: string[] = [`# ${title} ${notes.imageVersion}`, ""];
    const exact = notes.baseImageExactVersion ? ` (built from ${notes.baseImageExactVersion})` : "";
    out.push(`- **Base image**: \`${b.publisher}:${b.offer}:${b.sku}:${b.version}\`${exact}`);
    if (inv?.os) out.push(`- **OS**: ${inv.os.productName} ${inv.os.displayVersion}, build ${inv.os.currentBuild}.${inv.os.ubr}`);
    if (inv?.collectedAt) out.push(`- **Inventory taken**: ${inv.collectedAt}`);
    if (notes.imageVersionId) out.push(`- **Gallery version**: \`${notes.imageVersionId}\``);
    out.push("");
    for (const p of notes.problems) out.push(`> ${p}`);
    if (notes.problems.length > 0) out.push("");
    if (notes.changes) out.push(...changeSection(notes.changes));

    out.push("## Windows updates", "");
    if (inv) {
        out.push(...table(["KB", "Description", "Installed"], inv.hotfixes.map((h) => [h.id, h.description, h.installedOn])), "");
        if (inv.updateHistory.length > 0) {
            out.push("Windows Update history:", "", ...table(["Update", "Date", "Result"], inv.updateHistory.map((u) => [u.title, u.date, u.result])), "");
        }
    } else {
        out.push("(no in-VM inventory)", "");
    }
    out.push("## Chocolatey packages", "");
    const pins = new Map(notes.config.chocolateyPackages.map((p) => [p.name.toLowerCase(), p.version ?? "latest"]));
    const installed = inv?.chocolatey ?? [];
    const names = [...new Set([...notes.config.chocolateyPackages.map((p) => p.name), ...installed.map((p) => p.name)])];
    out.push(
        ...table(
            ["Package", "Pinned", "Installed"],
            names.map((n) => [n, pins.get(n.toLowerCase()) ?? "(not configured)", installed.find((p) => p.name.toLowerCase() === n.toLowerCase())?.version ?? (inv ? "(not installed)" : "?")]),
        ),
        "",
    );
    out.push("## Applications", "");
    out.push(...(inv ? table(["Name", "Version", "Publisher"], inv.applications.map((a) => [a.name, a.version, a.publisher])) : ["(no in-VM inventory)"]), "");
    out.push("## PowerShell modules", "");
    out.push(...(inv ? table(["Module", "Version"], inv.powershellModules.map((m) => [m.name, m.version])) : [notes.config.powershellModules.join(", ") || "(none)"]), "");
    out.push("## Build steps", "");
    out.push(...table(["#", "Step", "Type", "SHA-256"], notes.config.steps.map((s, i) => [String(i + 1), s.uri ? `${s.name} (${s.uri})` : s.name, s.type, `\`${s.sha256}\``])), "");
    return `${out.join("\n").replace(/\n{3,}/g, "\n\n").trimEnd()}\n`;
}
