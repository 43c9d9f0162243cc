import { strict as assert } from "node:assert";
import { cpSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, parseDocument } from "yaml";
import { render, runPreview, exitCodeFor } from "../preview/cli";
import { escEnvironments } from "../preview/stackConfig";
import { PROJECT, SECRET_KEYS } from "../src/config/parse";

const ROOT = join(__dirname, "..");

function scratchProject(): string {
    const dir = mkdtempSync(join(tmpdir(), "avd-rings-cfg-"));
    for (const f of readdirSync(ROOT).filter((f) => /^Pulumi(\..+)?\.yaml$/.test(f))) cpSync(join(ROOT, f), join(dir, f));
    return dir;
}

function edit(dir: string, stack: string, change: (doc: ReturnType<typeof parseDocument>) => void): void {
    const file = join(dir, `Pulumi.${stack}.yaml`);
    const doc = parseDocument(readFileSync(file, "utf8"));
    change(doc);
    writeFileSync(file, doc.toString());
}

async function preview(dir: string, stack: string) {
    const { reports, exitCode } = await runPreview({ stacks: [stack], format: "text", dir, policies: false });
    return { report: reports[0], exitCode, text: render(reports, "text") };
}

describe("stack configuration as the CLI reads it: secret keys and ESC environments", function () {
    this.timeout(60000);

    it("Pulumi.yaml declares every secret key the program reads secret: true, optional (default \"\") and untyped", () => {
        const project = parse(readFileSync(join(ROOT, "Pulumi.yaml"), "utf8")) as { config: Record<string, Record<string, unknown>> };
        const declared = Object.entries(project.config).filter(([, d]) => d && typeof d === "object" && d.secret === true).map(([k]) => k);
        assert.deepEqual(declared.sort(), [...SECRET_KEYS].sort());
        for (const key of SECRET_KEYS) {
            assert.equal(project.config[key].default, "", `${key} is optional`);
            assert.ok(!("type" in project.config[key]), `${key} has no type: the CLI would then require it in every stack`);
        }
    });

    for (const key of SECRET_KEYS) {
        it(`refuses a plain-text ${key} in a stack file, naming the file and key and never the value`, async () => {
            const dir = scratchProject();
            edit(dir, "pilot", (doc) => doc.setIn(["config", `${PROJECT}:${key}`], "Plain-Text-Value-42"));
            const { report, exitCode, text } = await preview(dir, "pilot");
            assert.equal(exitCode, 2);
            assert.equal(report.error?.kind, "config");
            assert.match(report.error?.message ?? "", new RegExp(`^Pulumi\\.pilot\\.yaml: ${PROJECT}:${key} is set in plain text`));
            assert.match(report.error?.message ?? "", new RegExp(`pulumi config set --secret ${PROJECT}:${key} --stack pilot`));
            assert.ok(!text.includes("Plain-Text-Value-42"), "the value is never printed");
        });
    }

    it("accepts an encrypted (secure:) admin password and generates none", async () => {
        const dir = scratchProject();
        edit(dir, "pilot", (doc) => doc.setIn(["config", `${PROJECT}:adminPassword`], doc.createNode({ secure: "v1:bm90LXJlYWw=" })));
        const { report, exitCode } = await preview(dir, "pilot");
        assert.equal(exitCode, 0, report.error?.message);
        assert.ok(!report.resources.some((r) => r.type === "random:index/randomPassword:RandomPassword"));
    });

    it("an unset secret key (Pulumi.yaml's empty default) means unset: the program generates the admin password", async () => {
        const { report, exitCode } = await preview(ROOT, "pilot");
        assert.equal(exitCode, 0);
        assert.ok(report.resources.some((r) => r.type === "random:index/randomPassword:RandomPassword"));
    });

    it("a stack file importing an ESC environment previews with one line saying the environment cannot be opened offline", async () => {
        const dir = scratchProject();
        edit(dir, "pilot", (doc) => doc.set("environment", doc.createNode(["avd/pilot-secrets"])));
        const { report, exitCode, text } = await preview(dir, "pilot");
        assert.equal(exitCode, 0);
        assert.deepEqual(report.notices, [
            "Pulumi.pilot.yaml imports the ESC environment(s) avd/pilot-secrets, which the offline preview cannot open: previewing with the stack file's own values only",
        ]);
        assert.equal(text.split("\n").filter((l) => l.includes("ESC environment")).length, 1);
    });

    it("an ESC stack lacking required keys fails as the config error would (exit 2), naming the environment and the keys", async () => {
        const dir = scratchProject();
        edit(dir, "pilot", (doc) => {
            doc.set("environment", doc.createNode({ imports: ["avd/pilot", { "avd/shared": { merge: false } }] }));
            doc.deleteIn(["config", `${PROJECT}:imageVersion`]);
            doc.deleteIn(["config", `${PROJECT}:location`]);
        });
        const { report } = await preview(dir, "pilot");
        assert.equal(exitCodeFor([report]), 2);
        assert.equal(
            report.error?.message,
            `Pulumi.pilot.yaml: imports the ESC environment(s) avd/pilot, avd/shared, which the offline preview cannot open; without them the stack lacks the required key(s) ${PROJECT}:location`,
        );
    });

    it("reads every form of the environment block", () => {
        assert.deepEqual(escEnvironments(undefined), []);
        assert.deepEqual(escEnvironments(["a/b", "c"]), ["a/b", "c"]);
        assert.deepEqual(escEnvironments({ imports: ["a/b", { "c/d": { merge: false } }], values: { pulumiConfig: {} } }), ["a/b", "c/d", "(inline values)"]);
    });
});
