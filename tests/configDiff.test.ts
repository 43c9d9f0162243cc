import { strict as assert } from "node:assert";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { diffRingImages, inlineStepSha256, renderConfigDiff, ringImages, type ImageDiff } from "../src/lifecycle/configDiff";
import { ringConfigFromText } from "../src/lifecycle/stackFile";
import { main } from "../scripts/configDiff";
import { runMain } from "../scripts/scriptIo";
import { bumpStackFile } from "../src/lifecycle/nextVersion";

/** The single-image form's build ring (examples/single-image); the shipped build ring is a fleet. */
const TEST_FILE = readFileSync(join(__dirname, "..", "examples", "single-image", "Pulumi.test.yaml"), "utf8");
const SHIPPED_TEST_FILE = readFileSync(join(__dirname, "..", "Pulumi.test.yaml"), "utf8");
const IMAGE = ["config", "avd-image-rings:image"];
const CUSTOM = [...IMAGE, "customizations"];

/** Pulumi.test.yaml with edits made through the YAML document, as an engineer would edit it. */
function edited(edit: (doc: ReturnType<typeof parseDocument>) => void, text = TEST_FILE): string {
    const doc = parseDocument(text);
    edit(doc);
    return doc.toString();
}

function diff(base: string, head: string): ImageDiff[] {
    return diffRingImages(ringImages(ringConfigFromText(base, "test", "base.yaml")), ringImages(ringConfigFromText(head, "test", "head.yaml")));
}

const texts = (d: ImageDiff) => d.changes.map((c) => c.text);

describe("config diff of the build ring's images (src/lifecycle/configDiff.ts)", () => {
    it("the monthly PR: + vlc 3.0.21, googlechrome 131 -> 132, new step harden-os, version bump", () => {
        const base = edited((doc) => doc.deleteIn([...CUSTOM, "scriptUris", "harden-os"]));
        const head = edited((doc) => {
            doc.setIn(["config", "avd-image-rings:imageVersion"], "1.3.0");
            doc.setIn([...CUSTOM, "chocolateyPackages"], ["googlechrome@132.0.6834.84", "vlc@3.0.21", "7zip@24.9.0", "adobereader@2024.5.20320", "microsoft-teams-new-bootstrapper@1.0.2414501"]);
        });
        const [d] = diff(base, head);
        assert.deepEqual({ name: d.name, status: d.status, from: d.from, to: d.to, versionNotBumped: d.versionNotBumped }, { name: "default", status: "changed", from: "1.2.0", to: "1.3.0", versionNotBumped: false });
        assert.deepEqual(texts(d), ["+ vlc 3.0.21", "googlechrome 131.0.6778.140 -> 132.0.6834.84", "new step harden-os"]);
        const markdown = renderConfigDiff([d], "Image configuration change in Pulumi.test.yaml");
        assert.match(markdown, /^- \*\*default\*\* 1\.2\.0 -> 1\.3\.0: \+ vlc 3\.0\.21, googlechrome 131\.0\.6778\.140 -> 132\.0\.6834\.84, new step harden-os$/m);
        assert.match(markdown, /^- Chocolatey packages: `\+ vlc 3\.0\.21`, `googlechrome 131\.0\.6778\.140 -> 132\.0\.6834\.84`$/m);
        assert.match(markdown, /^- Script steps: `new step harden-os`$/m);
    });

    it("removed packages and a pin dropped to latest; package ids compared case-insensitively", () => {
        const head = edited((doc) => doc.setIn([...CUSTOM, "chocolateyPackages"], ["GoogleChrome", "7zip@24.9.0", "microsoft-teams-new-bootstrapper@1.0.2414501"]));
        assert.deepEqual(texts(diff(TEST_FILE, head)[0]), ["GoogleChrome 131.0.6778.140 -> latest", "- adobereader 2024.5.20320"]);
    });

    it("script steps: a new checksum, an edited inline step, a removed step and a new order", () => {
        const sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        const head = edited((doc) => {
            doc.setIn([...CUSTOM, "scriptUris", "harden-os", "sha256"], sha);
            doc.setIn([...CUSTOM, "inlineScripts", "configure-timezone"], ["Set-TimeZone -Id 'GMT Standard Time'"]);
            doc.deleteIn([...CUSTOM, "inlineScripts", "disable-ie"]);
        });
        const oldTz = inlineStepSha256(["Set-TimeZone -Id 'W. Europe Standard Time'"]).slice(0, 12);
        const newTz = inlineStepSha256(["Set-TimeZone -Id 'GMT Standard Time'"]).slice(0, 12);
        assert.deepEqual(texts(diff(TEST_FILE, head)[0]), [
            `step configure-timezone changed (sha256 ${oldTz} -> ${newTz})`,
            "step harden-os changed (sha256 6f1ed002ab55 -> 0123456789ab)",
            "removed step disable-ie",
        ]);
        const reordered = edited((doc) => {
            doc.deleteIn([...CUSTOM, "inlineScripts", "disable-ie"]);
            doc.setIn([...CUSTOM, "inlineScripts", "disable-ie"], ["Disable-WindowsOptionalFeature -FeatureName Internet-Explorer-Optional-amd64 -Online -NoRestart -ErrorAction Continue"]);
        });
        assert.deepEqual(texts(diff(TEST_FILE, reordered)[0]), ["step order disable-ie, configure-edge, configure-timezone, harden-os -> configure-edge, configure-timezone, disable-ie, harden-os"]);
    });

    it("base image, Windows Update settings and PowerShell modules", () => {
        const head = edited((doc) => {
            doc.setIn([...IMAGE, "baseImage", "sku"], "win11-25h2-avd-m365");
            doc.setIn([...CUSTOM, "windowsUpdate", "updateLimit"], 500);
            doc.setIn([...CUSTOM, "windowsUpdate", "enabled"], false);
            doc.setIn([...CUSTOM, "powershellModules"], ["Az.Accounts", "Az.Compute"]);
        });
        assert.deepEqual(texts(diff(TEST_FILE, head)[0]), [
            "+ module Az.Compute",
            "- module Az.Storage",
            "base image MicrosoftWindowsDesktop/office-365/win11-24h2-avd-m365@latest -> MicrosoftWindowsDesktop/office-365/win11-25h2-avd-m365@latest",
            "Windows Update enabled true -> false",
            "Windows Update updateLimit 1000 -> 500",
        ]);
    });

    it("a changed image whose version was not bumped gets a warning: the build would reuse the published version", () => {
        const head = edited((doc) => doc.setIn([...CUSTOM, "chocolateyPackages"], ["vlc@3.0.21"]));
        const [d] = diff(TEST_FILE, head);
        assert.equal(d.versionNotBumped, true);
        assert.match(renderConfigDiff([d], "t"), /\*\*Warning:\*\* the image's configuration changed but its version is still 1\.2\.0/);
    });

    it("a bump without other changes, and no change at all, say so", () => {
        const bumped = edited((doc) => doc.setIn(["config", "avd-image-rings:imageVersion"], "1.3.0"));
        assert.match(renderConfigDiff(diff(TEST_FILE, bumped), "t"), /\*\*default\*\* 1\.2\.0 -> 1\.3\.0: version bump only/);
        const same = diff(TEST_FILE, TEST_FILE);
        assert.equal(same[0].status, "unchanged");
        assert.match(renderConfigDiff(same, "t"), /\*\*default\*\* 1\.2\.0: no change/);
    });

    it("fleet: images added and removed between the two sides", () => {
        const [snapshot] = Object.values(ringImages(ringConfigFromText(TEST_FILE, "test", "t")));
        const diffs = diffRingImages({ win10: snapshot, default: snapshot }, { default: snapshot, kiosk: { ...snapshot, version: "1.0.0" } });
        assert.deepEqual(diffs.map((d) => [d.name, d.status]), [["default", "unchanged"], ["kiosk", "added"], ["win10", "removed"]]);
        const markdown = renderConfigDiff(diffs, "t");
        assert.match(markdown, /\*\*kiosk\*\*: new image, 1\.0\.0/);
        assert.match(markdown, /\*\*win10\*\*: removed \(was 1\.2\.0\)/);
    });
});

describe("npm run config-diff", () => {
    async function run(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
        const out: string[] = [];
        const err: string[] = [];
        const code = await runMain("config-diff", "usage", main, argv, { stdout: (l) => out.push(l), stderr: (l) => err.push(l) });
        return { code, out, err };
    }
    const dir = mkdtempSync(join(tmpdir(), "config-diff-"));
    const file = (name: string, text: string) => (writeFileSync(join(dir, name), text), join(dir, name));

    it("prints the Markdown for two stack files; an empty base is a new ring", async () => {
        const head = file("Pulumi.test.yaml", edited((doc) => doc.setIn(["config", "avd-image-rings:imageVersion"], "1.3.0")));
        const ok = await run(["--base", file("base.yaml", TEST_FILE), "--head", head]);
        assert.equal(ok.code, 0);
        assert.match(ok.out.join("\n"), /^### Image configuration change in Pulumi\.test\.yaml\n\n- \*\*default\*\* 1\.2\.0 -> 1\.3\.0: version bump only/);
        const fresh = await run(["--base", file("empty.yaml", ""), "--head", head]);
        assert.match(fresh.out.join("\n"), /\*\*default\*\*: new image, 1\.3\.0/);
    });

    it("a configuration the program refuses exits 2 with the side, the file and the key", async () => {
        const bad = file("bad.yaml", edited((doc) => doc.setIn([...CUSTOM, "chocolateyPackages"], ["vlc@three"])));
        const { code, out, err } = await run(["--base", file("base.yaml", TEST_FILE), "--head", bad, "--stack", "test"]);
        assert.equal(code, 2);
        assert.deepEqual(out, []);
        assert.match(err.join("\n"), /^config-diff: head \(.*bad\.yaml\): Pulumi\.test\.yaml: avd-image-rings:image\.customizations\.chocolateyPackages\[0\] must be a Chocolatey package version/);
    });

    it("missing arguments exit 2", async () => {
        assert.equal((await run(["--head", "x"])).code, 2);
        assert.equal((await run(["--base", join(dir, "nope.yaml"), "--head", join(dir, "nope.yaml")])).code, 2);
    });
});

/** Pulumi.test.yaml rewritten in the fleet form: images m365 and cad, a pool for each. */
function fleetFile(): string {
    return edited((doc) => {
        const image = doc.getIn(IMAGE) as { toJSON(): Record<string, unknown> };
        const block = image.toJSON() as Record<string, Record<string, unknown>>;
        const definition = { publisher: block.gallery.publisher, offer: block.gallery.offer, sku: block.gallery.sku };
        const sessionHosts = (doc.getIn(["config", "avd-image-rings:sessionHosts"]) as { toJSON(): Record<string, unknown> }).toJSON();
        doc.deleteIn(IMAGE);
        doc.deleteIn(["config", "avd-image-rings:imageVersion"]);
        doc.deleteIn(["config", "avd-image-rings:sessionHosts"]);
        const { gallery: _gallery, ...rest } = block;
        // Separate copies: YAML would write a second reference to one object as an alias.
        const copy = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
        doc.setIn(["config", "avd-image-rings:gallery"], { name: "avd_golden_images" });
        doc.setIn(["config", "avd-image-rings:images"], {
            m365: { ...copy(rest), imageDefinition: { ...definition, name: "avd-win11-m365" } },
            cad: { ...copy(rest), imageDefinition: { ...definition, sku: "Win11-24H2-CAD", name: "avd-win11-cad" } },
        });
        doc.setIn(["config", "avd-image-rings:imageVersions"], { m365: "1.2.0", cad: "2.0.0" });
        doc.setIn(["config", "avd-image-rings:hostPools"], {
            office: { ...copy(sessionHosts), image: "m365", computerNamePrefix: "avdoff" },
            cad: { ...copy(sessionHosts), image: "cad", computerNamePrefix: "avdcad" },
        });
    });
}

describe("config diff and next-version on a fleet's build ring", () => {
    it("bumps both images in place and diffs each image on its own", () => {
        const base = fleetFile();
        assert.deepEqual(Object.keys(ringImages(ringConfigFromText(base, "test", "base.yaml"))), ["m365", "cad"], "the fleet file is valid config");
        const { text: bumped, bumps } = bumpStackFile(base, "Pulumi.test.yaml", { scheme: "minor", today: new Date("2026-12-15T00:00:00Z") });
        assert.deepEqual(bumps.map((b) => `${b.image} ${b.from} -> ${b.to}`), ["m365 1.2.0 -> 1.3.0", "cad 2.0.0 -> 2.1.0"]);
        const head = edited((doc) => doc.setIn(["config", "avd-image-rings:images", "cad", "customizations", "chocolateyPackages"], ["autocad@2025.1.0"]), bumped);
        const diffs = diff(base, head);
        assert.deepEqual(diffs.map((d) => [d.name, d.from, d.to]), [["m365", "1.2.0", "1.3.0"], ["cad", "2.0.0", "2.1.0"]]);
        assert.deepEqual(texts(diffs[0]), []);
        assert.deepEqual(texts(diffs[1]), [
            "+ autocad 2025.1.0",
            "- googlechrome 131.0.6778.140",
            "- 7zip 24.9.0",
            "- adobereader 2024.5.20320",
            "- microsoft-teams-new-bootstrapper 1.0.2414501",
        ]);
        const markdown = renderConfigDiff(diffs, "t");
        assert.match(markdown, /^- \*\*m365\*\* 1\.2\.0 -> 1\.3\.0: version bump only/m);
        assert.match(markdown, /^- \*\*cad\*\* 2\.0\.0 -> 2\.1\.0: \+ autocad 2025\.1\.0, - googlechrome/m);
    });

    it("the shipped fleet's monthly bump: every image a version bump only", () => {
        const { text } = bumpStackFile(SHIPPED_TEST_FILE, "Pulumi.test.yaml", { scheme: "date", today: new Date("2026-12-15T00:00:00Z") });
        const markdown = renderConfigDiff(diff(SHIPPED_TEST_FILE, text), "t");
        assert.match(markdown, /^- \*\*m365\*\* 1\.2\.0 -> 2026\.12\.0: version bump only/m);
        assert.match(markdown, /^- \*\*dev\*\* 1\.1\.0 -> 2026\.12\.0: version bump only/m);
    });
});
