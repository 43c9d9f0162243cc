// Gallery retention in the offline preview of the real program: the build ring reads its protect
// stacks (from their stack files, noted as an assumption), plans its deletions, and shows the dry run.
import { strict as assert } from "node:assert";
import { cpSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { render, runPreview } from "../preview/cli";

const ROOT = join(__dirname, "..");

const SINGLE = join(ROOT, "examples", "single-image");

function copyStacks(from: string): string {
    const dir = mkdtempSync(join(tmpdir(), "avd-rings-retention-"));
    for (const f of readdirSync(from).filter((f) => /^Pulumi\..+\.yaml$/.test(f))) cpSync(join(from, f), join(dir, f));
    return dir;
}

/** The single-image example's stack files in a scratch directory: test 1.5.0, pilot 1.4.0, prod 1.3.0, and two rings retention is not told about. */
function stackFiles(retention: Record<string, unknown> | undefined): string {
    const dir = copyStacks(SINGLE);
    const edit = (stack: string, from: string, change: (doc: ReturnType<typeof parseDocument>) => void) => {
        const doc = parseDocument(readFileSync(join(dir, `Pulumi.${from}.yaml`), "utf8"));
        change(doc);
        writeFileSync(join(dir, `Pulumi.${stack}.yaml`), doc.toString());
    };
    edit("test", "test", (d) => {
        d.setIn(["config", "avd-image-rings:imageVersion"], "1.5.0");
        if (retention) d.setIn(["config", "avd-image-rings:retention"], retention);
    });
    edit("pilot", "pilot", (d) => d.setIn(["config", "avd-image-rings:imageVersion"], "1.4.0"));
    edit("prod", "prod", (d) => d.setIn(["config", "avd-image-rings:imageVersion"], "1.3.0"));
    for (const [stack, version] of [["dev", "1.0.0"], ["qa", "1.1.0"]]) {
        edit(stack, "pilot", (d) => {
            d.setIn(["config", "avd-image-rings:imageVersion"], version);
            d.setIn(["config", "avd-image-rings:promoteFrom"], "contoso/avd-image-rings/test");
        });
    }
    return dir;
}

describe("gallery retention in the offline preview", function () {
    this.timeout(120000);

    it("plans from the protect stacks' pins and shows the dry run, with a note on what it assumed", async () => {
        // Offline gallery: 1.0.0, 1.1.0, 1.3.0, 1.4.0, 1.5.0 (every pinned version up to the build).
        // keep 1 (1.5.0); pinned 1.5.0, 1.4.0, 1.3.0; rollback targets 1.4.0, 1.3.0, 1.1.0: 1.0.0 goes.
        const stackDir = stackFiles({ keep: 1, protectStacks: ["contoso/avd-image-rings/pilot", "contoso/avd-image-rings/prod"] });
        const { reports, exitCode } = await runPreview({ stacks: ["test"], format: "text", dir: ROOT, stackDir, policies: false });
        const [report] = reports;
        assert.equal(exitCode, 0, report.error?.message);
        const command = report.resources.find((r) => r.name === "gallery-retention-delete-old-versions");
        assert.ok(command, report.resources.map((r) => r.name).join(", "));
        assert.equal((command.inputs.environment as Record<string, string>).AVD_RETENTION_PLANNED, "1.0.0");
        const pins = JSON.parse((command.inputs.environment as Record<string, string>).AVD_RETENTION_PINS) as Array<{ ring: string; imageVersion?: string }>;
        assert.deepEqual(
            pins.map((p) => [p.ring, p.imageVersion]),
            [
                ["test (this ring) images.default", "1.5.0"],
                ["test (this ring) hostPools.default", "1.5.0"],
                ["contoso/avd-image-rings/pilot images.default", "1.4.0"],
                ["contoso/avd-image-rings/prod images.default", "1.3.0"],
            ],
        );
        const text = render(reports, "text");
        assert.match(text, /gallery-retention-delete-old-versions\s+tools\/retention\.ts: dry run, delete 1\.0\.0/);
        assert.match(text, /note: retention: pilot is read from Pulumi\.pilot\.yaml, taken to run and have validated default 1\.4\.0 \(offline assumption\)/);
        assert.match(text, /read .*StackReference\s+retention-contoso-avd-image-rings-prod/);
        // The preview knows the repository's other stack files: dev (1.0.0, now planned for deletion) and qa are not protected.
        assert.match(text, /note: retention: Pulumi\.dev\.yaml, Pulumi\.qa\.yaml run this ring's images but are not in avd-image-rings:retention\.protectStacks, so the versions they pin may be deleted; add them/);
    });

    it("names no unprotected ring once every downstream ring is listed", async () => {
        const stackDir = stackFiles({ keep: 1, protectStacks: ["contoso/avd-image-rings/pilot", "contoso/avd-image-rings/prod", "contoso/avd-image-rings/dev", "contoso/avd-image-rings/qa"] });
        const { reports } = await runPreview({ stacks: ["test"], format: "text", dir: ROOT, stackDir, policies: false });
        assert.equal(reports[0].error, undefined);
        assert.ok(!(reports[0].notices ?? []).some((n) => /not in avd-image-rings:retention\.protectStacks/.test(n)), String(reports[0].notices));
        const command = reports[0].resources.find((r) => r.name === "gallery-retention-delete-old-versions")!;
        assert.equal((command.inputs.environment as Record<string, string>).AVD_RETENTION_PLANNED, "none", "dev's 1.0.0 is pinned now");
    });

    it("in the shipped fleet, plans per image with the pins of that image only", async () => {
        const stackDir = copyStacks(ROOT);
        const doc = parseDocument(readFileSync(join(stackDir, "Pulumi.test.yaml"), "utf8"));
        doc.setIn(["config", "avd-image-rings:retention"], { keep: 1, protectStacks: ["contoso/avd-image-rings/pilot", "contoso/avd-image-rings/prod"] });
        writeFileSync(join(stackDir, "Pulumi.test.yaml"), doc.toString());
        const { reports, exitCode } = await runPreview({ stacks: ["test"], format: "text", dir: ROOT, stackDir, policies: false });
        assert.equal(exitCode, 0, reports[0].error?.message);
        const env = (name: string) => {
            const command = reports[0].resources.find((r) => r.name === name);
            assert.ok(command, `${name} in ${reports[0].resources.map((r) => r.name).join(", ")}`);
            return command.inputs.environment as Record<string, string>;
        };
        const dev = env("gallery-retention-dev-delete-old-versions");
        assert.match(dev.AVD_IMAGE_DEFINITION_ID, /\/images\/[^/]+$/);
        const devPins = JSON.parse(dev.AVD_RETENTION_PINS) as Array<{ ring: string; imageVersion?: string }>;
        assert.deepEqual(
            devPins.filter((p) => !p.ring.startsWith("test (this ring)")).map((p) => [p.ring, p.imageVersion]),
            [
                ["contoso/avd-image-rings/pilot images.dev", "1.1.0"],
                ["contoso/avd-image-rings/prod images.dev", "1.0.0"],
            ],
        );
        assert.equal(dev.AVD_RETENTION_PLANNED, "none", "prod still runs dev 1.0.0");
        const m365Pins = JSON.parse(env("gallery-retention-m365-delete-old-versions").AVD_RETENTION_PINS) as Array<{ ring: string }>;
        assert.ok(m365Pins.every((p) => !/dev/.test(p.ring)), JSON.stringify(m365Pins));
    });

    it("adds no retention resource when the key is absent", async () => {
        const stackDir = stackFiles(undefined);
        const { reports } = await runPreview({ stacks: ["test"], format: "json", dir: ROOT, stackDir, policies: false });
        assert.equal(reports[0].error, undefined);
        assert.ok(!reports[0].resources.some((r) => /retention/.test(r.name)));
    });

    it("refuses retention in a promoted ring with exit 2, naming the file and key", async () => {
        const stackDir = stackFiles(undefined);
        const doc = parseDocument(readFileSync(join(stackDir, "Pulumi.prod.yaml"), "utf8"));
        doc.setIn(["config", "avd-image-rings:retention"], { protectStacks: [] });
        writeFileSync(join(stackDir, "Pulumi.prod.yaml"), doc.toString());
        const { reports, exitCode } = await runPreview({ stacks: ["prod"], format: "text", dir: ROOT, stackDir, policies: false });
        assert.equal(exitCode, 2);
        assert.match(reports[0].error!.message, /^Pulumi\.prod\.yaml: avd-image-rings:retention is only allowed in the build ring/);
    });
});
