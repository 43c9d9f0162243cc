import { strict as assert } from "node:assert";
import { cpSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { render, runPreview } from "../preview/cli";
import { PROJECT } from "../src/config/parse";
import { INSIGHTS_LOG_CATEGORIES } from "../src/monitoring/insights";

const ROOT = join(__dirname, "..");
const HOOK = "https://contoso.webhook.office.com/webhookb2/Hook-Credential-7f3a9c";

function scratchProject(stack: string, values: Record<string, unknown>): string {
    const dir = mkdtempSync(join(tmpdir(), "avd-rings-notify-"));
    for (const f of readdirSync(ROOT).filter((f) => /^Pulumi(\..+)?\.yaml$/.test(f))) cpSync(join(ROOT, f), join(dir, f));
    const file = join(dir, `Pulumi.${stack}.yaml`);
    const doc = parseDocument(readFileSync(file, "utf8"));
    for (const [key, value] of Object.entries(values)) doc.setIn(["config", `${PROJECT}:${key}`], doc.createNode(value));
    writeFileSync(file, doc.toString());
    return dir;
}

async function preview(dir: string, stack: string) {
    const { reports, exitCode } = await runPreview({ stacks: [stack], format: "text", dir, policies: false });
    return { report: reports[0], exitCode, text: render(reports, "text") };
}

describe("offline preview: notifications and AVD Insights", function () {
    this.timeout(120000);

    it("a webhook URL set with --secret --path (a secure value inside the object) reaches every command only as [secret]", async () => {
        const dir = scratchProject("test", { notifications: { webhookUrl: { secure: "v1:bm90LXJlYWw=" } } });
        const { report, exitCode, text } = await preview(dir, "test");
        assert.equal(exitCode, 0, report.error?.message);
        const commands = report.resources.filter((r) => r.type === "command:local:Command");
        assert.deepEqual(commands.map((c) => c.name).sort(), ["golden-image-build", "rollout-health-gate"].sort());
        // The build's environment is a map whose secret entries are masked; the gate's is secret as a whole.
        const env = (c: (typeof commands)[number]) => c.inputs.environment as Record<string, unknown> | string;
        const build = env(commands.find((c) => c.name === "golden-image-build")!);
        assert.ok(typeof build === "object" && build.AVD_NOTIFY_WEBHOOK_URL === "[secret]" && build.AVD_RING === "test" && build.AVD_NOTIFY_FORMAT === "auto", JSON.stringify(build));
        assert.equal(env(commands.find((c) => c.name === "rollout-health-gate")!), "[secret]");
        assert.ok(!text.includes("offline-preview-secret.invalid") && !JSON.stringify(report).includes("offline-preview-secret.invalid"), "the placeholder URL is never shown either");
    });

    it("refuses a webhook URL in plain text (exit 2), naming the file and key, never printing the URL", async () => {
        const dir = scratchProject("pilot", { notifications: { webhookUrl: HOOK } });
        const { report, exitCode, text } = await preview(dir, "pilot");
        assert.equal(exitCode, 2);
        assert.equal(report.error?.kind, "config");
        assert.match(report.error?.message ?? "", /^Pulumi\.pilot\.yaml: avd-image-rings:notifications\.webhookUrl is set in plain text/);
        assert.ok(!text.includes("Hook-Credential"), "the URL is never printed");
    });

    it("insights.create: the workspace and a diagnostic setting per host pool, application group and workspace with Insights' categories", async () => {
        const dir = scratchProject("prod", { insights: { create: { name: "law-avd-prod", retentionDays: 90 } } });
        const { report, exitCode, text } = await preview(dir, "prod");
        assert.equal(exitCode, 0, report.error?.message);
        const law = report.resources.filter((r) => r.type === "azure-native:operationalinsights:Workspace");
        assert.equal(law.length, 1);
        assert.equal(law[0].inputs.retentionInDays, 90);
        const settings = report.resources.filter((r) => r.type === "azure-native:monitor:DiagnosticSetting");
        const byKind = (segment: string) => settings.filter((s) => String(s.inputs.resourceUri).includes(`/${segment}/`));
        const categories = (s: (typeof settings)[number]) => (s.inputs.logs as Array<{ category: string }>).map((l) => l.category);
        assert.equal(settings.length, 3);
        assert.deepEqual(categories(byKind("hostPools")[0]), [...INSIGHTS_LOG_CATEGORIES.hostPool]);
        assert.deepEqual(categories(byKind("applicationGroups")[0]), [...INSIGHTS_LOG_CATEGORIES.applicationGroup]);
        assert.deepEqual(categories(byKind("workspaces")[0]), [...INSIGHTS_LOG_CATEGORIES.workspace]);
        for (const s of settings) assert.match(String(s.inputs.workspaceId), /\/providers\/Microsoft\.OperationalInsights\/workspaces\/law-avd-prod$/);
        assert.match(text, /vdpool-avd-prod -> law-avd-prod: Checkpoint, Error, Management, Connection, HostRegistration, AgentHealthStatus/);
        assert.match(text, /vdws-avd-prod -> law-avd-prod: Checkpoint, Error, Management, Feed/);
    });

    it("a ring without notifications or insights plans neither", async () => {
        const { report, exitCode } = await preview(ROOT, "pilot");
        assert.equal(exitCode, 0);
        assert.ok(!report.resources.some((r) => r.type === "azure-native:monitor:DiagnosticSetting" || r.type === "azure-native:operationalinsights:Workspace"));
        for (const c of report.resources.filter((r) => r.type === "command:local:Command")) {
            assert.ok(!JSON.stringify(c.inputs).includes("AVD_NOTIFY"), `${c.name} gets no notification entries`);
        }
    });
});
