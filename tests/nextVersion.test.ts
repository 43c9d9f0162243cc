import { strict as assert } from "node:assert";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { ConfigError } from "../src/config/reader";
import { bumpStackFile, nextImageVersion } from "../src/lifecycle/nextVersion";
import { main } from "../scripts/nextVersion";
import { runMain } from "../scripts/scriptIo";

const DEC = new Date("2026-12-15T06:00:00Z");
const JAN = new Date("2027-01-19T06:00:00Z");
/** The single-image form's build ring, and the shipped build ring (a two-image fleet). */
const TEST_FILE = readFileSync(join(__dirname, "..", "examples", "single-image", "Pulumi.test.yaml"), "utf8");
const SHIPPED_TEST_FILE = readFileSync(join(__dirname, "..", "Pulumi.test.yaml"), "utf8");

const FLEET = `# Build ring of a two-image fleet.
config:
  avd-image-rings:location: westeurope
  # Versions the ring builds, per image.
  avd-image-rings:imageVersions:
    win11-m365: 1.2.3 # knowledge workers
    win11-dev: "2.0.0"
    kiosk: '2026.11.4'
`;

/** Lines of `after` that differ from `before` (same line count). */
function changedLines(before: string, after: string): Array<[string, string]> {
    const a = before.split("\n");
    const b = after.split("\n");
    assert.equal(a.length, b.length);
    return a.flatMap((line, i) => (line === b[i] ? [] : [[line, b[i]] as [string, string]]));
}

describe("next image version (src/lifecycle/nextVersion.ts)", () => {
    it("minor: 1.3.0 after any 1.2.x", () => {
        assert.equal(nextImageVersion("1.2.0", "minor", DEC), "1.3.0");
        assert.equal(nextImageVersion("1.2.7", "minor", DEC), "1.3.0");
        assert.equal(nextImageVersion("2026.12.1", "minor", DEC), "2026.13.0");
    });

    it("date: YEAR.MONTH.0 without leading zeros, a patch bump for a second build in the same month", () => {
        assert.equal(nextImageVersion("1.2.0", "date", DEC), "2026.12.0");
        assert.equal(nextImageVersion("2026.11.3", "date", DEC), "2026.12.0");
        assert.equal(nextImageVersion("2026.12.0", "date", DEC), "2026.12.1");
        assert.equal(nextImageVersion("2026.12.1", "date", DEC), "2026.12.2");
        assert.equal(nextImageVersion("2026.12.2", "date", JAN), "2027.1.0");
    });

    it("never lowers a version: a date version below the current one is refused", () => {
        assert.throws(() => nextImageVersion("2027.1.0", "date", DEC), /2026\.12\.0, lower than the current 2027\.1\.0; versions never go down/);
        assert.throws(() => nextImageVersion("3000.1.0", "date", DEC), /never go down/);
    });

    it("refuses a current version the gallery would refuse (same rule as the config parser)", () => {
        assert.throws(() => nextImageVersion("1.2", "minor", DEC), /MAJOR\.MINOR\.PATCH/);
        assert.throws(() => nextImageVersion("2026.01.0", "date", DEC), /without leading zeros/);
        assert.throws(() => nextImageVersion("1.2.0-rc.1", "minor", DEC), /pre-release/);
        assert.throws(() => nextImageVersion("1.2147483647.0", "minor", DEC), /larger than Azure's limit/);
    });
});

describe("next-version rewrites the build ring's stack file", () => {
    it("the shipped fleet: changes only the two lines of imageVersions in Pulumi.test.yaml", () => {
        const { text, bumps } = bumpStackFile(SHIPPED_TEST_FILE, "Pulumi.test.yaml", { scheme: "minor", today: DEC });
        assert.deepEqual(bumps.map((b) => `${b.key} ${b.from} -> ${b.to}`), ["avd-image-rings:imageVersions.m365 1.2.0 -> 1.3.0", "avd-image-rings:imageVersions.dev 1.1.0 -> 1.2.0"]);
        assert.deepEqual(changedLines(SHIPPED_TEST_FILE, text), [
            ["    m365: 1.2.0", "    m365: 1.3.0"],
            ["    dev: 1.1.0", "    dev: 1.2.0"],
        ]);
    });

    it("single form: changes only the imageVersion line of Pulumi.test.yaml, comments and layout kept", () => {
        const { text, bumps } = bumpStackFile(TEST_FILE, "Pulumi.test.yaml", { scheme: "minor", today: DEC });
        assert.deepEqual(bumps, [{ image: "default", key: "avd-image-rings:imageVersion", from: "1.2.0", to: "1.3.0" }]);
        assert.deepEqual(changedLines(TEST_FILE, text), [["  avd-image-rings:imageVersion: 1.2.0", "  avd-image-rings:imageVersion: 1.3.0"]]);
        assert.ok(text.startsWith("# Build ring: builds imageVersion"));
        assert.ok(text.includes('zones: ["1", "2"]'), "flow lists keep their spacing");
    });

    it("fleet form: bumps every image in its own quoting and keeps the comments", () => {
        const { text, bumps } = bumpStackFile(FLEET, "Pulumi.test.yaml", { scheme: "date", today: DEC });
        assert.deepEqual(
            bumps.map((b) => [b.key, b.from, b.to]),
            [
                ["avd-image-rings:imageVersions.win11-m365", "1.2.3", "2026.12.0"],
                ["avd-image-rings:imageVersions.win11-dev", "2.0.0", "2026.12.0"],
                ["avd-image-rings:imageVersions.kiosk", "2026.11.4", "2026.12.0"],
            ],
        );
        assert.deepEqual(changedLines(FLEET, text), [
            ["    win11-m365: 1.2.3 # knowledge workers", "    win11-m365: 2026.12.0 # knowledge workers"],
            ['    win11-dev: "2.0.0"', '    win11-dev: "2026.12.0"'],
            ["    kiosk: '2026.11.4'", "    kiosk: '2026.12.0'"],
        ]);
        assert.deepEqual((parse(text) as { config: Record<string, unknown> }).config["avd-image-rings:imageVersions"], { "win11-m365": "2026.12.0", "win11-dev": "2026.12.0", kiosk: "2026.12.0" });
    });

    it("--image bumps one image only; an unknown image is refused with the known names", () => {
        const { text, bumps } = bumpStackFile(FLEET, "Pulumi.test.yaml", { scheme: "minor", today: DEC, image: "win11-dev" });
        assert.deepEqual(bumps.map((b) => b.to), ["2.1.0"]);
        assert.equal(changedLines(FLEET, text).length, 1);
        assert.throws(
            () => bumpStackFile(FLEET, "Pulumi.test.yaml", { scheme: "minor", today: DEC, image: "win10" }),
            (e: unknown) => e instanceof ConfigError && /Pulumi\.test\.yaml: has no image "win10"; its images are win11-m365, win11-dev, kiosk/.test(e.message),
        );
    });

    it("refuses a promoted ring, a file without a version and an invalid version, naming file and key", () => {
        const promoted = "config:\n  avd-image-rings:imageVersion: 1.2.0\n  avd-image-rings:promoteFrom: contoso/avd-image-rings/test\n";
        assert.throws(() => bumpStackFile(promoted, "Pulumi.pilot.yaml", { scheme: "minor", today: DEC }), /Pulumi\.pilot\.yaml: avd-image-rings:promoteFrom is set .*promoted ring/);
        assert.throws(() => bumpStackFile("config:\n  avd-image-rings:location: westeurope\n", "Pulumi.test.yaml", { scheme: "minor", today: DEC }), /sets neither avd-image-rings:imageVersion nor avd-image-rings:imageVersions/);
        assert.throws(() => bumpStackFile("config:\n  avd-image-rings:imageVersion: 1.02.0\n", "Pulumi.test.yaml", { scheme: "minor", today: DEC }), /Pulumi\.test\.yaml: avd-image-rings:imageVersion: the current version must be a MAJOR\.MINOR\.PATCH/);
        assert.throws(() => bumpStackFile("config: [\n", "Pulumi.test.yaml", { scheme: "minor", today: DEC }), /Pulumi\.test\.yaml: not valid YAML/);
    });
});

describe("npm run next-version", () => {
    async function run(argv: string[], dir: string): Promise<{ code: number; out: string[]; err: string[] }> {
        const out: string[] = [];
        const err: string[] = [];
        const code = await runMain("next-version", "usage", (a, io) => main(a, io, { dir, now: DEC }), argv, { stdout: (l) => out.push(l), stderr: (l) => err.push(l) });
        return { code, out, err };
    }

    it("writes the bump and prints it; --dry-run leaves the file alone", async () => {
        const dir = mkdtempSync(join(tmpdir(), "next-version-"));
        writeFileSync(join(dir, "Pulumi.test.yaml"), TEST_FILE);
        const dry = await run(["--stack", "test", "--scheme", "date", "--dry-run"], dir);
        assert.equal(dry.code, 0);
        assert.deepEqual(dry.out, ["default 1.2.0 -> 2026.12.0"]);
        assert.equal(readFileSync(join(dir, "Pulumi.test.yaml"), "utf8"), TEST_FILE);
        const real = await run(["--stack", "test", "--scheme", "date"], dir);
        assert.equal(real.code, 0);
        assert.match(readFileSync(join(dir, "Pulumi.test.yaml"), "utf8"), /avd-image-rings:imageVersion: 2026\.12\.0\n/);
        const again = await run(["--stack", "test", "--scheme", "date"], dir);
        assert.deepEqual(again.out, ["default 2026.12.0 -> 2026.12.1"], "a second build in the month bumps the patch");
    });

    it("bad arguments exit 2 with one message", async () => {
        const dir = mkdtempSync(join(tmpdir(), "next-version-"));
        for (const argv of [[], ["--stack", "test", "--scheme", "weekly"], ["--stack", "missing"], ["--stack", "test", "--colour"]]) {
            const { code, err } = await run(argv, dir);
            assert.equal(code, 2, argv.join(" "));
            assert.equal(err.length, 1);
            assert.match(err[0], /^next-version: /);
        }
    });
});
