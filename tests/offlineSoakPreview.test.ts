import { strict as assert } from "node:assert";
import { cpSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { offlineValidatedAt, runPreview } from "../preview/cli";
import { readStackConfig } from "../preview/stackConfig";

const ROOT = join(__dirname, "..");

/** Pulumi.yaml and the stack files of `from`: the single-image example rings by default, or the shipped fleet. */
function scratchProject(from = join(ROOT, "examples", "single-image")): string {
    const dir = mkdtempSync(join(tmpdir(), "avd-soak-"));
    cpSync(join(ROOT, "Pulumi.yaml"), join(dir, "Pulumi.yaml"));
    for (const f of readdirSync(from).filter((f) => /^Pulumi\..+\.yaml$/.test(f))) cpSync(join(from, f), join(dir, f));
    return dir;
}

function setConfig(dir: string, stack: string, key: string, value: unknown): void {
    const file = join(dir, `Pulumi.${stack}.yaml`);
    const doc = parseDocument(readFileSync(file, "utf8"));
    doc.setIn(["config", `avd-image-rings:${key}`], value);
    writeFileSync(file, doc.toString());
}

/** The version the ring pins (single form or the fleet's first image) and what it exports about its validation. */
function validation(outputs: Record<string, unknown>): { version?: unknown; at?: unknown; signOffs?: unknown } {
    const images = outputs.images as Record<string, Record<string, unknown>> | undefined;
    const first = images ? Object.values(images)[0] : outputs;
    return { version: first?.validatedImageVersion, at: first?.validatedAt, signOffs: outputs.signOffs };
}

const HOUR = 3_600_000;

describe("offline preview: soak time and sign-off before promotion", function () {
    this.timeout(120000);

    it("refuses pilot without the sign-off its promotion block requires, with the exact commands for Pulumi.test.yaml (exit 1)", async () => {
        const dir = scratchProject();
        setConfig(dir, "pilot", "promotion", { minSoakHours: 48, requireSignOff: true });
        const { reports, exitCode } = await runPreview({ stacks: ["pilot"], format: "json", dir, policies: false });
        assert.equal(exitCode, 1);
        const error = reports[0].error;
        assert.equal(error?.kind, "promotion");
        assert.match(error?.message ?? "", /^Pulumi\.pilot\.yaml: avd-image-rings:imageVersion 1\.2\.0 is refused: avd-image-rings:promotion\.requireSignOff is true and contoso\/avd-image-rings\/test records no sign-off for 1\.2\.0/);
        assert.ok((error?.message ?? "").includes(`pulumi config set --path 'avd-image-rings:signOffs["1.2.0"].approvedBy' '<name of the approver>' --stack contoso/avd-image-rings/test`));
        assert.doesNotMatch(error?.message ?? "", /hours remain/, "offline the soak is assumed served");
    });

    it("passes with the sign-off in Pulumi.test.yaml, which test exports, and notes the validation time it assumed", async () => {
        const dir = scratchProject();
        setConfig(dir, "pilot", "promotion", { minSoakHours: 48, requireSignOff: true });
        setConfig(dir, "test", "signOffs", { "1.2.0": { approvedBy: "John Doe", approvedDate: "2026-12-03" } });
        const before = Date.now();
        const { reports, exitCode } = await runPreview({ stacks: ["test", "pilot"], format: "json", dir, policies: false });
        assert.equal(exitCode, 0, JSON.stringify(reports.map((r) => r.error)));
        const [test, pilot] = reports;
        const exported = validation(test.outputs);
        assert.equal(exported.version, "1.2.0");
        assert.deepEqual(exported.signOffs, { "1.2.0": { approvedBy: "John Doe", approvedDate: "2026-12-03" } });
        const at = Date.parse(String(exported.at));
        assert.ok(at <= before - 48 * HOUR && at > before - 48 * HOUR - 2 * 60_000, `validatedAt ${String(exported.at)} is 48 h before the preview, to the minute`);
        assert.deepEqual(pilot.notices, [
            `assumed test validated 1.2.0 at ${String(exported.at)} (offline there is no record of when its health gate passed; avd-image-rings:promotion.minSoakHours is checked against that time here and against the real one at deployment)`,
        ]);
        assert.equal(test.notices, undefined, "a ring without a promotion block assumed nothing");
    });

    it("prod's sign-off is pilot's: recorded in Pulumi.pilot.yaml", async () => {
        const dir = scratchProject();
        setConfig(dir, "prod", "promotion", { requireSignOff: true });
        setConfig(dir, "test", "signOffs", { "1.2.0": { approvedBy: "Only Test", approvedDate: "2026-12-03" } });
        const refused = await runPreview({ stacks: ["prod"], format: "json", dir, policies: false });
        assert.equal(refused.exitCode, 1);
        assert.match(refused.reports[0].error?.message ?? "", /contoso\/avd-image-rings\/pilot records no sign-off for 1\.2\.0: .* records it in Pulumi\.pilot\.yaml under avd-image-rings:signOffs/);
        setConfig(dir, "pilot", "signOffs", { "1.2.0": { approvedBy: "Pilot Lead", approvedDate: "2026-12-04" } });
        assert.equal((await runPreview({ stacks: ["prod"], format: "json", dir, policies: false })).exitCode, 0);
    });

    it("a promotion block in the build ring is a config error naming the file and key (exit 2)", async () => {
        const dir = scratchProject();
        setConfig(dir, "test", "promotion", { minSoakHours: 24 });
        const { reports, exitCode } = await runPreview({ stacks: ["test"], format: "json", dir, policies: false });
        assert.equal(exitCode, 2);
        assert.match(reports[0].error?.message ?? "", /^Pulumi\.test\.yaml: avd-image-rings:promotion is only allowed in a promoted ring/);
    });

    it("the assumed validation time is as long ago as the longest soak any stack file asks for", () => {
        const dir = scratchProject();
        setConfig(dir, "pilot", "promotion", { minSoakHours: 24 });
        setConfig(dir, "prod", "promotion", { minSoakHours: 72, requireSignOff: true });
        const configs = ["test", "pilot", "prod"].map((s) => readStackConfig(dir, s));
        const now = new Date("2026-12-17T10:00:30Z");
        assert.equal(offlineValidatedAt(configs, now), "2026-12-14T10:00:00.000Z");
        assert.equal(offlineValidatedAt(configs.slice(0, 1), now), "2026-12-17T10:00:00.000Z", "no soak asked: the preview's own minute");
    });

    it("the shipped fleet: prod holds back only m365 (a promotion) for pilot's sign-off, never dev (a rollback to 1.0.0)", async () => {
        const dir = scratchProject(ROOT);
        setConfig(dir, "prod", "promotion", { minSoakHours: 24, requireSignOff: true });
        const { reports, exitCode } = await runPreview({ stacks: ["prod"], format: "json", dir, policies: false });
        assert.equal(exitCode, 1);
        const message = reports[0].error?.message ?? "";
        assert.match(message, /^Pulumi\.prod\.yaml: avd-image-rings:imageVersions\.m365 1\.2\.0 is refused: .*contoso\/avd-image-rings\/pilot records no sign-off for m365 1\.2\.0/);
        assert.ok(message.includes(`pulumi config set --path 'avd-image-rings:signOffs["m365:1.2.0"].approvedBy' '<name of the approver>' --stack contoso/avd-image-rings/pilot`), message);
        assert.doesNotMatch(message, /imageVersions\.dev/);
        setConfig(dir, "pilot", "signOffs", { "m365:1.2.0": { approvedBy: "Pilot Lead", approvedDate: "2026-12-04" } });
        const signed = await runPreview({ stacks: ["prod"], format: "json", dir, policies: false });
        assert.equal(signed.exitCode, 0, JSON.stringify(signed.reports[0].error));
        assert.deepEqual(
            signed.reports[0].notices?.map((n) => n.replace(/ at \S+ \(.*$/, "")),
            ["assumed pilot validated dev 1.1.0", "assumed pilot validated m365 1.2.0"],
        );
    });

    it("a sign-off for an image the ring does not run is a config error", async () => {
        const dir = scratchProject(ROOT);
        setConfig(dir, "pilot", "signOffs", { "m356:1.2.0": { approvedBy: "Pilot Lead", approvedDate: "2026-12-04" } });
        const { reports, exitCode } = await runPreview({ stacks: ["pilot"], format: "json", dir, policies: false });
        assert.equal(exitCode, 2);
        assert.match(reports[0].error?.message ?? "", /^Pulumi\.pilot\.yaml: avd-image-rings:signOffs\.m356:1\.2\.0 names the image "m356", which this ring does not run \(its images: m365, dev\)/);
    });
});

