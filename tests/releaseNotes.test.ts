// Release notes offline: the inventory block read back from customization.log (the recorded log,
// one without markers, a truncated one, two blocks, a corrupted one), the config facts, the
// summary tags within Azure's limits, the change lists, the Markdown and `npm run release-notes`.
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { chocolateyInstallLine, parseChocolateyInstallLine, parsePowershellModulesLine, powershellModulesScript, STEP_NAMES } from "../src/aib/customizers";
import { PROGRAM_TAGS, TAG_LIMITS } from "../src/config/azureLimits";
import { parseRingConfig, PROJECT } from "../src/config/parse";
import { extractInventory, INVENTORY_MARKER } from "../src/lifecycle/inventory";
import { describeChange, renderReleaseNotes } from "../src/lifecycle/markdown";
import {
    configFactsFromImage,
    diffConfigFacts,
    diffFromTags,
    diffReleaseNotes,
    fitList,
    parseInventory,
    parseReleaseNotes,
    RELEASE_NOTES_SCHEMA,
    summaryTags,
    type ImageInventory,
    type ReleaseNotes,
} from "../src/lifecycle/releaseNotes";
import { main as releaseNotesCli } from "../scripts/releaseNotes";
import { AVD_AGENT_RULES, FSLOGIX_RULES, scanScript } from "../policy/lib/scriptScan";
import { unpinnedChocolateyPackages } from "../policy/policies/chocolateyVersionsPinned";
import { inventoryScript } from "../src/aib/customizers";

const FIXTURES = join(__dirname, "fixtures", "releaseNotes");
const LOG = readFileSync(join(FIXTURES, "customization.log"), "utf8");
const INVENTORY_130 = parseInventory(JSON.parse(readFileSync(join(FIXTURES, "inventory-1.3.0.json"), "utf8")));
const INVENTORY_120 = parseInventory(JSON.parse(readFileSync(join(FIXTURES, "inventory-1.2.0.json"), "utf8")));

function testImage() {
    const doc = parseYaml(readFileSync(join(__dirname, "..", "Pulumi.test.yaml"), "utf8")) as { config: Record<string, unknown> };
    const values = Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k.slice(PROJECT.length + 1), v]));
    const image = parseRingConfig({ stack: "test", values, secret: () => undefined }).images.m365;
    assert.ok(image, "Pulumi.test.yaml builds the image m365");
    return image;
}

function notes(version: string, inventory: ImageInventory | undefined, exact: string, change?: (i: ReturnType<typeof testImage>) => ReturnType<typeof testImage>): ReleaseNotes {
    const image = change ? change(testImage()) : testImage();
    return {
        schema: RELEASE_NOTES_SCHEMA,
        imageVersion: version,
        imageVersionId: `/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/avd-win11-m365/versions/${version}`,
        baseImageExactVersion: exact,
        config: configFactsFromImage(image),
        ...(inventory ? { inventory } : {}),
        problems: [],
    };
}

describe("release notes: the inventory block in customization.log", () => {
    it("reads the recorded log's block exactly as the step wrote it, through Packer's prefixes and CRLF line ends", () => {
        const found = extractInventory(LOG);
        assert.deepEqual(found.problems, []);
        assert.deepEqual(found.inventory, INVENTORY_130);
        assert.equal(found.inventory?.os?.productName, "Microsoft Windows 11 Enterprise multi-session");
        assert.deepEqual(found.inventory?.chocolatey.find((p) => p.name === "vlc"), { name: "vlc", version: "3.0.21" });
    });

    it("says so when the log has no markers", () => {
        const found = extractInventory(LOG.split(/\r?\n/).filter((l) => !l.includes(INVENTORY_MARKER)).join("\n"));
        assert.equal(found.inventory, undefined);
        assert.match(found.problems.join(), /has no inventory block \(AVD-IMAGE-INVENTORY-BEGIN\); the image-inventory step did not run/);
    });

    it("ignores a truncated block (no end line), naming where it starts", () => {
        const lines = LOG.split(/\r?\n/);
        const cut = lines.findIndex((l) => l.includes(`${INVENTORY_MARKER} 00010`));
        const found = extractInventory(lines.slice(0, cut).join("\n"));
        assert.equal(found.inventory, undefined);
        assert.match(found.problems.join(), /the inventory block at line 35 has no end line \(the log is truncated\)/);
    });

    it("ignores a block that lost lines or whose content does not match its checksum", () => {
        const lost = LOG.split(/\r?\n/).filter((l) => !l.includes(`${INVENTORY_MARKER} 00003`)).join("\n");
        assert.match(extractInventory(lost).problems.join(), /skips from part 2 to 4/);
        const flipped = LOG.replace(/(AVD-IMAGE-INVENTORY 00005 )(.)/, (_, head: string, ch: string) => `${head}${ch === "A" ? "B" : "A"}`);
        const found = extractInventory(flipped);
        assert.equal(found.inventory, undefined);
        assert.match(found.problems.join(), /does not match its checksum/);
    });

    it("with two complete blocks uses the last one and says there were two", () => {
        const other = { ...INVENTORY_120, collectedAt: "2026-11-17T09:00:00Z" };
        const json = Buffer.from(JSON.stringify(other));
        const b64 = json.toString("base64").match(/.{1,76}/g) ?? [];
        const first = [`${INVENTORY_MARKER}-BEGIN 1`, ...b64.map((p, i) => `${INVENTORY_MARKER} ${String(i).padStart(5, "0")} ${p}`), `${INVENTORY_MARKER}-END ${b64.length} ${createHash("sha256").update(json).digest("hex")}`];
        const found = extractInventory([...first.map((l) => `PACKER OUT     azure-arm: ${l}`), LOG].join("\n"));
        assert.deepEqual(found.inventory, INVENTORY_130, "the later block wins");
        assert.match(found.problems.join(), /has 2 complete inventory blocks \(lines 1, \d+\); the last one is used/);
        const reversed = extractInventory([LOG, ...first].join("\n"));
        assert.equal(reversed.inventory?.collectedAt, "2026-11-17T09:00:00Z");
    });

    it("reports the sections the step could not read", () => {
        const withErrors = { ...INVENTORY_130, errors: ["updateHistory: Exception from HRESULT: 0x80240007"] };
        const json = Buffer.from(JSON.stringify(withErrors));
        const found = extractInventory([`${INVENTORY_MARKER}-BEGIN 1`, `${INVENTORY_MARKER} 00000 ${json.toString("base64")}`, `${INVENTORY_MARKER}-END 1 ${createHash("sha256").update(json).digest("hex")}`].join("\n"));
        assert.deepEqual(found.problems, ["the inventory step could not read updateHistory: Exception from HRESULT: 0x80240007"]);
    });

    it("reads Windows PowerShell's one-element lists (objects) and empty lists (null) as lists", () => {
        const inv = parseInventory({ schema: 1, collectedAt: "x", os: null, hotfixes: { id: "KB1", description: "Update", installedOn: "" }, updateHistory: null, applications: [], chocolatey: null, powershellModules: { name: "Pester", version: "3.4.0" }, errors: null });
        assert.deepEqual(inv.hotfixes, [{ id: "KB1", description: "Update", installedOn: "" }]);
        assert.deepEqual(inv.powershellModules, [{ name: "Pester", version: "3.4.0" }]);
        assert.deepEqual(inv.chocolatey, []);
        assert.equal(inv.os, undefined);
        assert.throws(() => parseInventory({ schema: 2 }), /schema 2/);
    });

    it("the inventory step only reads: nothing for the AVD-agent or FSLogix scanners, no download, no choco install", () => {
        const lines = inventoryScript();
        assert.deepEqual(scanScript(lines, AVD_AGENT_RULES), []);
        assert.deepEqual(scanScript(lines, FSLOGIX_RULES), []);
        assert.ok(!lines.some((l) => /https?:\/\//i.test(l)), "no URL: nothing to download, nothing for script-supply-chain");
        assert.deepEqual(lines.flatMap((l) => unpinnedChocolateyPackages(l)), []);
        assert.equal(lines.at(-1), "exit 0", "never fails the build");
    });

    it("the step's marker text never appears literally in the script, so an echoed script is not a block", () => {
        const script = readFileSync(join(__dirname, "..", "src", "aib", "scripts", "Get-ImageInventory.ps1"), "utf8");
        assert.ok(!script.includes(INVENTORY_MARKER));
        assert.ok(script.includes("'AVD-IMAGE' + '-INVENTORY'"));
    });
});

describe("release notes: config facts, summary tags, changes and Markdown", () => {
    it("reads the Chocolatey pins and PowerShell modules back from the lines the program generates", () => {
        for (const pkg of [{ name: "googlechrome", version: "131.0.6778.140" }, { name: "7zip" }, { name: "o'brien-tool", version: "1.0" }]) {
            assert.deepEqual(parseChocolateyInstallLine(chocolateyInstallLine(pkg)), pkg);
        }
        assert.equal(parseChocolateyInstallLine("Write-Output 'choco install x'"), undefined);
        const call = powershellModulesScript(["Az.Accounts", "Pester"]).at(-1) ?? "";
        assert.deepEqual(parsePowershellModulesLine(call), ["Az.Accounts", "Pester"]);
    });

    it("lists every build step of Pulumi.test.yaml with its checksum, the script URI's being the configured sha256", () => {
        const facts = configFactsFromImage(testImage());
        assert.equal(facts.steps.at(-1)?.name, STEP_NAMES.inventory);
        const harden = facts.steps.find((s) => s.name === "harden-os");
        assert.equal(harden?.sha256, "6f1ed002ab5595859014ebf0951522d9a2d1f7c9b2a8d1e3a5c0e7b4f9d2c831");
        assert.equal(harden?.uri, "https://stavdimagescripts.blob.core.windows.net/scripts/Harden-Windows.ps1");
        assert.deepEqual(facts.chocolateyPackages.find((p) => p.name === "googlechrome"), { name: "googlechrome", version: "131.0.6778.140" });
        assert.deepEqual(facts.powershellModules, ["Az.Accounts", "Az.Storage"]);
        for (const s of facts.steps) assert.match(s.sha256, /^[0-9a-f]{64}$/, s.name);
    });

    it("keeps every summary tag within Azure's limits, even for a huge inventory, and only uses reserved tag names", () => {
        const huge: ImageInventory = {
            ...INVENTORY_130,
            hotfixes: Array.from({ length: 80 }, (_, i) => ({ id: `KB50${String(i).padStart(5, "0")}`, description: "Update", installedOn: "" })),
            chocolatey: Array.from({ length: 60 }, (_, i) => ({ name: `package-with-a-long-name-${i}`, version: "1.2.3.4" })),
        };
        const tags = summaryTags(notes("1.3.0", huge, "26100.2314.241107"));
        assert.ok(Object.keys(tags).length <= TAG_LIMITS.maxTags);
        for (const [k, v] of Object.entries(tags)) {
            assert.ok((PROGRAM_TAGS as readonly string[]).includes(k), `${k} is a program tag`);
            assert.ok(k.length <= TAG_LIMITS.maxNameLength);
            assert.ok(v.length <= TAG_LIMITS.maxValueLength, `${k} has ${v.length} characters`);
        }
        assert.match(tags.Hotfixes ?? "", /,\+\d+ more$/);
        assert.equal(fitList(["a", "b"]), "a,b");
    });

    it("lists the hotfixes, packages and steps of the recorded build in its tags", () => {
        const tags = summaryTags(notes("1.3.0", INVENTORY_130, "26100.2314.241107"));
        assert.equal(tags.BaseImageVersion, "26100.2314.241107");
        assert.equal(tags.OsBuild, "26100.2314");
        assert.equal(tags.Hotfixes, "KB5044033,KB5046617,KB5046740");
        assert.match(tags.Packages ?? "", /^7zip=24\.9\.0,.*vlc=3\.0\.21/);
        assert.match(tags.Steps ?? "", /^windows-update:[0-9a-f]{8},install-powershell-modules:[0-9a-f]{8},/);
    });

    it("compares two versions' full notes: base image, OS build, hotfixes, packages, applications, modules and steps", () => {
        const before = notes("1.2.0", INVENTORY_120, "26100.2033.241004");
        const after = notes("1.3.0", INVENTORY_130, "26100.2314.241107", (image) => ({
            ...image,
            customizations: {
                ...image.customizations,
                chocolateyPackages: [...image.customizations.chocolateyPackages.map((p) => (p.name === "googlechrome" ? { ...p, version: "132.0.6834.83" } : p)), { name: "vlc", version: "3.0.21" }],
                inlineScripts: [...image.customizations.inlineScripts, { name: "set-wallpaper", lines: ["Set-ItemProperty -Path 'HKLM:\\SOFTWARE\\Contoso' -Name Wallpaper -Value 1"] }],
            },
        }));
        const c = diffReleaseNotes(before, after);
        assert.equal(c.basis, "notes");
        assert.deepEqual(c.baseImageVersion, { name: "base image version", from: "26100.2033.241004", to: "26100.2314.241107" });
        assert.deepEqual(c.chocolatey.filter((x) => x.name === "googlechrome" || x.name === "vlc"), [
            { name: "googlechrome", from: "131.0.6778.140", to: "132.0.6834.83" },
            { name: "vlc", to: "3.0.21" },
        ]);
        assert.deepEqual(c.applications.find((a) => a.name === "VLC media player"), { name: "VLC media player", to: "3.0.21" });
        assert.deepEqual(c.powershellModules.find((m) => m.name === "az.accounts"), { name: "az.accounts", from: "3.0.5", to: "4.0.0" });
        assert.deepEqual(c.steps.map((s) => describeChange(s).split(" ")[0] + " " + s.name), ["install-chocolatey-packages install-chocolatey-packages", "+ set-wallpaper"]);
        assert.deepEqual(c.notes, []);
    });

    it("gives the config-level change between two configurations offline (the pull-request comment's part)", () => {
        const a = configFactsFromImage(testImage());
        const image = testImage();
        const b = configFactsFromImage({ ...image, customizations: { ...image.customizations, chocolateyPackages: [...image.customizations.chocolateyPackages, { name: "vlc", version: "3.0.21" }] } });
        const d = diffConfigFacts(a, b);
        assert.deepEqual(d.chocolatey, [{ name: "vlc", to: "3.0.21" }]);
        assert.equal(d.baseImage, undefined);
        assert.deepEqual(d.steps.map((s) => s.name), ["install-chocolatey-packages"]);
        assert.deepEqual(diffConfigFacts(a, a), { chocolatey: [], powershellModules: [], steps: [] });
    });

    it("compares with the previous version's tags only what the tags hold, and never calls a cut-off item removed", () => {
        const current = notes("1.3.0", INVENTORY_130, "26100.2314.241107");
        const c = diffFromTags("1.2.0", { baseimageversion: "26100.2033.241004", Hotfixes: "KB5044284,+3 more", Packages: "googlechrome=131.0.6778.140" }, current);
        assert.deepEqual(c.baseImageVersion, { name: "base image version", from: "26100.2033.241004", to: "26100.2314.241107" });
        assert.deepEqual(c.hotfixes.filter((h) => h.to === undefined), [{ name: "KB5044284", from: "installed" }], "only listed KBs can be removed");
        assert.match(c.notes.join("\n"), /hotfixes: the Hotfixes tag lists only part of them/);
        assert.match(c.notes.join("\n"), /steps: 1\.2\.0 has no Steps tag/);
        assert.equal(c.osBuild, undefined, "no OsBuild tag on 1.2.0: not compared");
    });

    it("renders Markdown with the change summary first, then updates, packages, applications, modules and steps", () => {
        const before = notes("1.2.0", INVENTORY_120, "26100.2033.241004");
        const current = notes("1.3.0", INVENTORY_130, "26100.2314.241107");
        const md = renderReleaseNotes({ ...current, changes: diffReleaseNotes(before, current) }, "avd-win11-m365");
        assert.match(md, /^# avd-win11-m365 1\.3\.0\n/);
        assert.match(md, /- \*\*Base image\*\*: `MicrosoftWindowsDesktop:office-365:win11-24h2-avd-m365:latest` \(built from 26100\.2314\.241107\)/);
        assert.match(md, /- \*\*OS\*\*: Microsoft Windows 11 Enterprise multi-session 24H2, build 26100\.2314/);
        assert.match(md, /## What changed since 1\.2\.0\n\n- \*\*Base image\*\*: 26100\.2033\.241004 -> 26100\.2314\.241107\n- \*\*OS build\*\*: 26100\.2033 -> 26100\.2314/);
        assert.match(md, /- \*\*Chocolatey packages\*\*: .*googlechrome 131\.0\.6778\.140 -> 132\.0\.6834\.83.*\+ vlc 3\.0\.21/);
        assert.match(md, /\| KB5046617 \| Security Update \| 2026-11-17 \|/);
        assert.match(md, /\| googlechrome \| 131\.0\.6778\.140 \| 132\.0\.6834\.83 \|/, "pinned and installed side by side");
        assert.match(md, /\| VLC media player \| 3\.0\.21 \| VideoLAN \|/);
        assert.match(md, /\| \d+ \| harden-os \(https:\/\/stavdimagescripts\.blob\.core\.windows\.net\/scripts\/Harden-Windows\.ps1\) \| PowerShell \| `6f1ed002/);
        assert.ok(md.indexOf("## What changed") < md.indexOf("## Windows updates"));
    });

    it("renders notes without an inventory, saying why", () => {
        const md = renderReleaseNotes({ ...notes("1.3.0", undefined, "26100.2314.241107"), problems: ["customization.log has no inventory block"] });
        assert.match(md, /> customization\.log has no inventory block/);
        assert.match(md, /## Applications\n\n\(no in-VM inventory\)/);
    });

    it("reads its own JSON back unchanged", () => {
        const n = { ...notes("1.3.0", INVENTORY_130, "26100.2314.241107"), changes: diffReleaseNotes(notes("1.2.0", INVENTORY_120, "26100.2033.241004"), notes("1.3.0", INVENTORY_130, "26100.2314.241107")) };
        assert.deepEqual(parseReleaseNotes(JSON.parse(JSON.stringify(n))), n);
        assert.throws(() => parseReleaseNotes({ imageVersion: "1.0.0" }), /not release notes/);
    });
});

describe("npm run release-notes", () => {
    const dir = mkdtempSync(join(tmpdir(), "release-notes-"));
    const current = notes("1.3.0", INVENTORY_130, "26100.2314.241107");
    const previous = notes("1.2.0", INVENTORY_120, "26100.2033.241004");
    const write = (name: string, value: unknown) => {
        const file = join(dir, name);
        writeFileSync(file, JSON.stringify(value));
        return file;
    };
    async function cli(argv: string[], stackOutput?: unknown) {
        const out: string[] = [];
        const err: string[] = [];
        const code = await releaseNotesCli(argv, { stdout: (l) => out.push(l), stderr: (l) => err.push(l) }, async () => {
            if (stackOutput === undefined) throw new Error("no Pulumi CLI in this test");
            return stackOutput;
        });
        return { code, out: out.join("\n"), err: err.join("\n") };
    }

    it("renders a notes file offline", async () => {
        const r = await cli(["--stack", "test", "--from", write("notes.json", current)]);
        assert.equal(r.code, 0, r.err);
        assert.match(r.out, /^# avd-win11-m365 1\.3\.0/);
    });

    it("renders the notes from `pulumi stack output --json` (images.<name>.releaseNotes), choosing the image", async () => {
        const outputs = { imageVersion: "1.3.0", images: { default: { imageVersion: "1.3.0", releaseNotes: current }, kiosk: { releaseNotes: { ...current, imageVersion: "2.0.0" } } } };
        const file = write("outputs.json", outputs);
        assert.equal((await cli(["--stack", "test", "--from", file])).code, 2, "two images need --image");
        const r = await cli(["--stack", "test", "--from", file, "--image", "kiosk"]);
        assert.equal(r.code, 0, r.err);
        assert.match(r.out, /^# avd-win11-m365 2\.0\.0/);
        const viaCli = await cli(["--stack", "test", "--image", "default"], outputs);
        assert.equal(viaCli.code, 0, viaCli.err);
        const fromBuilds = await cli(["--stack", "test"], { builds: { dev: { templateName: "t", releaseNotes: { ...current, imageVersion: "1.1.0" } } } });
        assert.equal(fromBuilds.code, 0, fromBuilds.err);
        assert.match(fromBuilds.out, /^# avd-win11-m365 1\.1\.0/);
    });

    it("computes the change list from the previous version's full notes with --previous", async () => {
        const r = await cli(["--stack", "test", "--from", write("n.json", current), "--previous", write("p.json", previous)]);
        assert.equal(r.code, 0, r.err);
        assert.match(r.out, /## What changed since 1\.2\.0/);
        assert.match(r.out, /\*\*Applications\*\*: .*\+ VLC media player 3\.0\.21/);
    });

    it("exits 2 for another version than --version, unreadable input, or no Pulumi CLI, naming the way out", async () => {
        const wrong = await cli(["--stack", "test", "--version", "1.2.0", "--from", write("n2.json", current)]);
        assert.equal(wrong.code, 2);
        assert.match(wrong.err, /holds the notes of 1\.3\.0, not 1\.2\.0/);
        assert.equal((await cli(["--stack", "test", "--from", join(dir, "missing.json")])).code, 2);
        const notJson = join(dir, "bad.json");
        writeFileSync(notJson, "not json");
        assert.match((await cli(["--stack", "test", "--from", notJson])).err, /is not JSON/);
        assert.equal((await cli(["--from", notJson])).code, 2);
        assert.match((await cli(["--stack", "test"])).err, /no Pulumi CLI in this test/);
    });
});
