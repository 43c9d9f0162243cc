import { strict as assert } from "node:assert";
import { AvdInsights, type AvdInsightsArgs } from "../components/avdInsights";
import { evaluate, type Evaluation, type RecordedResource } from "../preview/engine";
import { parseInsights, type InsightsConfig } from "../src/config/insights";
import { PROJECT } from "../src/config/parse";
import { ConfigError, Reader } from "../src/config/reader";
import { diagnosticSettingArgs, INSIGHTS_LOG_CATEGORIES, logAnalyticsWorkspaceArgs } from "../src/monitoring/insights";

const SUBSCRIPTION = "8c6f4f2e-3a1b-4d5c-9e7f-2b1a0c9d8e7f";
const RG = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-avd-prod`;
const DV = `${RG}/providers/Microsoft.DesktopVirtualization`;
const EXISTING = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-monitoring/providers/Microsoft.OperationalInsights/workspaces/law-avd-shared`;

function insights(value: unknown): InsightsConfig | undefined {
    return parseInsights(Reader.root("Pulumi.prod.yaml", PROJECT, { insights: value }).obj("insights"));
}

function refusal(value: unknown): string {
    try {
        insights(value);
    } catch (e) {
        assert.ok(e instanceof ConfigError);
        return e.message;
    }
    assert.fail("expected a ConfigError");
}

async function deploy(args: Partial<AvdInsightsArgs> & Pick<AvdInsightsArgs, "workspace">): Promise<Evaluation> {
    return evaluate({
        project: PROJECT,
        stack: "prod",
        config: {},
        secretKeys: [],
        simulation: { subscriptionId: SUBSCRIPTION, tenantId: "0f1e2d3c-4b5a-4697-8877-665544332211", stackOutputs: () => undefined, commandStdout: () => "" },
        program: async () => {
            const i = new AvdInsights("insights", {
                resourceGroupName: "rg-avd-prod",
                location: "westeurope",
                tags: { CostCenter: "EUC", Ring: "prod" },
                hostPoolIds: { default: `${DV}/hostPools/vdpool-avd-prod`, cad: `${DV}/hostPools/vdpool-avd-prod-cad` },
                applicationGroupIds: { default: `${DV}/applicationGroups/vdag-avd-prod`, cad: `${DV}/applicationGroups/vdag-avd-prod-cad` },
                workspaceIds: { default: `${DV}/workspaces/vdws-avd-prod` },
                ...args,
            });
            return { logAnalyticsWorkspaceId: i.logAnalyticsWorkspaceId };
        },
    });
}

function settings(e: Evaluation): RecordedResource[] {
    return e.resources.filter((r) => r.type === "azure-native:monitor:DiagnosticSetting");
}

describe("AVD Insights config (avd-image-rings:insights)", () => {
    it("takes an existing workspace by its ARM id, or a new one with a name and retention (default 30 days)", () => {
        assert.deepEqual(insights({ workspaceId: EXISTING }), { kind: "existing", workspaceId: EXISTING });
        assert.deepEqual(insights({ create: { name: "law-avd-prod" } }), { kind: "create", name: "law-avd-prod", retentionDays: 30 });
        assert.deepEqual(insights({ create: { name: "law-avd-prod", retentionDays: "90" } }), { kind: "create", name: "law-avd-prod", retentionDays: 90 });
    });

    it("refuses both, neither, a wrong id, a bad name or retention, each naming the key", () => {
        assert.match(refusal({ workspaceId: EXISTING, create: { name: "law-avd-prod" } }), /^Pulumi\.prod\.yaml: avd-image-rings:insights\.create cannot be set together with workspaceId/);
        assert.match(refusal({}), /^Pulumi\.prod\.yaml: avd-image-rings:insights\.workspaceId is required \(or create: \{name, retentionDays\}\)/);
        assert.match(refusal({ workspaceId: `${RG}/providers/Microsoft.Storage/storageAccounts/logs` }), /insights\.workspaceId must be the ARM id of a Log Analytics workspace/);
        assert.match(refusal({ create: { name: "law" } }), /insights\.create\.name must be 4-63 letters/);
        assert.match(refusal({ create: { name: "law-avd-prod", retentionDays: 7 } }), /insights\.create\.retentionDays must be between 30 and 730, got 7/);
        assert.match(refusal({ create: { name: "law-avd-prod", sku: "Free" } }), /insights\.create\.sku is not a known key/);
        assert.match(refusal({ workspaceID: EXISTING }), /insights\.workspaceId is required/);
    });
});

describe("AVD Insights arguments (src/monitoring/insights.ts)", () => {
    it("each kind of AVD resource sends exactly the categories Insights reads, to the workspace", () => {
        const hp = diagnosticSettingArgs("hostPool", `${DV}/hostPools/p`, EXISTING);
        assert.deepEqual(hp, {
            name: "avd-insights",
            resourceUri: `${DV}/hostPools/p`,
            workspaceId: EXISTING,
            logs: ["Checkpoint", "Error", "Management", "Connection", "HostRegistration", "AgentHealthStatus"].map((category) => ({ category, enabled: true })),
        });
        assert.deepEqual(diagnosticSettingArgs("workspace", "w", EXISTING).logs, ["Checkpoint", "Error", "Management", "Feed"].map((category) => ({ category, enabled: true })));
        assert.deepEqual(diagnosticSettingArgs("applicationGroup", "a", EXISTING).logs, ["Checkpoint", "Error", "Management"].map((category) => ({ category, enabled: true })));
    });

    it("a created workspace is pay-as-you-go with the configured retention and the ring's tags", () => {
        assert.deepEqual(logAnalyticsWorkspaceArgs({ kind: "create", name: "law-avd-prod", retentionDays: 90 }, "rg-avd-prod", "westeurope", { Ring: "prod" }), {
            workspaceName: "law-avd-prod",
            resourceGroupName: "rg-avd-prod",
            location: "westeurope",
            sku: { name: "PerGB2018" },
            retentionInDays: 90,
            tags: { Ring: "prod" },
        });
    });
});

describe("AvdInsights component (mock engine)", () => {
    it("with an existing workspace: one diagnostic setting per host pool, application group and AVD workspace, no new workspace", async () => {
        const e = await deploy({ workspace: { kind: "existing", workspaceId: EXISTING } });
        assert.equal(e.resources.filter((r) => r.type === "azure-native:operationalinsights:Workspace").length, 0);
        const byUri = Object.fromEntries(settings(e).map((s) => [String(s.inputs.resourceUri), s]));
        assert.deepEqual(Object.keys(byUri).sort(), [
            `${DV}/applicationGroups/vdag-avd-prod`,
            `${DV}/applicationGroups/vdag-avd-prod-cad`,
            `${DV}/hostPools/vdpool-avd-prod`,
            `${DV}/hostPools/vdpool-avd-prod-cad`,
            `${DV}/workspaces/vdws-avd-prod`,
        ]);
        const categories = (s: RecordedResource) => (s.inputs.logs as Array<{ category: string; enabled: boolean }>).filter((l) => l.enabled).map((l) => l.category);
        assert.deepEqual(categories(byUri[`${DV}/hostPools/vdpool-avd-prod-cad`]), [...INSIGHTS_LOG_CATEGORIES.hostPool]);
        assert.deepEqual(categories(byUri[`${DV}/applicationGroups/vdag-avd-prod`]), [...INSIGHTS_LOG_CATEGORIES.applicationGroup]);
        assert.deepEqual(categories(byUri[`${DV}/workspaces/vdws-avd-prod`]), [...INSIGHTS_LOG_CATEGORIES.workspace]);
        for (const s of settings(e)) {
            assert.equal(s.inputs.workspaceId, EXISTING);
            assert.equal(s.id, `${String(s.inputs.resourceUri)}/providers/Microsoft.Insights/diagnosticSettings/avd-insights`);
        }
        assert.deepEqual(settings(e).map((s) => s.name).sort(), ["insights-cad-appgroup", "insights-cad-hostpool", "insights-default-appgroup", "insights-default-hostpool", "insights-default-workspace"]);
        assert.equal(e.outputs.logAnalyticsWorkspaceId, EXISTING);
    });

    it("with create: the workspace in the ring's group, and every diagnostic setting sends to it", async () => {
        const e = await deploy({ workspace: { kind: "create", name: "law-avd-prod", retentionDays: 60 } });
        const law = e.resources.filter((r) => r.type === "azure-native:operationalinsights:Workspace");
        assert.equal(law.length, 1);
        assert.deepEqual(law[0].inputs, { workspaceName: "law-avd-prod", resourceGroupName: "rg-avd-prod", location: "westeurope", sku: { name: "PerGB2018" }, retentionInDays: 60, tags: { CostCenter: "EUC", Ring: "prod" } });
        const lawId = `${RG}/providers/Microsoft.OperationalInsights/workspaces/law-avd-prod`;
        assert.equal(law[0].id, lawId);
        assert.equal(settings(e).length, 5);
        for (const s of settings(e)) assert.equal(s.inputs.workspaceId, lawId);
        assert.equal(e.outputs.logAnalyticsWorkspaceId, lawId);
    });
});
