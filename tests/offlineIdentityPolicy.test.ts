import { strict as assert } from "node:assert";
import * as authorization from "@pulumi/azure-native/authorization";
import * as managedidentity from "@pulumi/azure-native/managedidentity";
import * as virtualmachineimages from "@pulumi/azure-native/virtualmachineimages";
import { evaluate } from "../preview/engine";
import { startPolicyPack, type PolicyPackHandle } from "../preview/policyRunner";

const SUB = "8c6f4f2e-3a1b-4d5c-9e7f-2b1a0c9d8e7f";
const RG = `/subscriptions/${SUB}/resourceGroups/rg-images`;
const CONTRIBUTOR = `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-47dd-b520-0b8fc8c9e467`;
const READER = `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7`;

/** Any program: an AIB template whose identity gets the given role on the resource group. */
function program(roleDefinitionId: string) {
    return async () => {
        const identity = new managedidentity.UserAssignedIdentity("aib", { resourceGroupName: "rg-images", resourceName: "id-aib", location: "westeurope" });
        new authorization.RoleAssignment("aib-role", {
            principalId: identity.principalId,
            principalType: "ServicePrincipal",
            roleDefinitionId,
            scope: RG,
        });
        new virtualmachineimages.VirtualMachineImageTemplate("template", {
            resourceGroupName: "rg-images",
            imageTemplateName: "it-demo",
            location: "westeurope",
            identity: { type: "UserAssigned", userAssignedIdentities: [identity.id] },
            source: { type: "PlatformImage", publisher: "MicrosoftWindowsDesktop", offer: "office-365", sku: "win11-24h2-avd-m365", version: "latest" },
            distribute: [{ type: "ManagedImage", imageId: `${RG}/providers/Microsoft.Compute/images/demo`, location: "westeurope", runOutputName: "demo" }],
            vmProfile: { vmSize: "Standard_D4s_v5", osDiskSizeGB: 127 },
        });
        return {};
    };
}

async function violationsFor(pack: PolicyPackHandle, roleDefinitionId: string) {
    const evaluation = await evaluate({
        project: "any-program",
        stack: "dev",
        config: {},
        secretKeys: [],
        program: program(roleDefinitionId),
        simulation: { subscriptionId: SUB, tenantId: SUB, stackOutputs: () => undefined, commandStdout: () => "" },
    });
    return pack.analyze(evaluation.resources, { stack: "dev", config: null });
}

describe("offline preview: the AIB identity's role assignments", function () {
    this.timeout(60000);
    let pack: PolicyPackHandle;
    before(() => (pack = startPolicyPack()));
    after(async () => pack.close());

    it("flags Contributor granted to an image template's identity, through the engine's recorded outputs", async () => {
        const violations = await violationsFor(pack, CONTRIBUTOR);
        const hit = violations.find((v) => v.policy === "aib-identity-least-privilege");
        assert.ok(hit, JSON.stringify(violations, null, 2));
        assert.equal(hit.enforcementLevel, "mandatory");
    });

    it("accepts a narrow role for the same identity", async () => {
        const violations = await violationsFor(pack, READER);
        assert.equal(violations.find((v) => v.policy === "aib-identity-least-privilege"), undefined);
    });
});
