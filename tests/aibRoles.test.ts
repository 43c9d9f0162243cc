import { strict as assert } from "node:assert";
import type { BuildConfig } from "../src/config/types";
import {
    AIB_IMAGE_ACTIONS,
    AIB_NETWORK_ACTIONS,
    AIB_STAGING_ACTIONS,
    aibIdentityName,
    aibRoleScopes,
    customRoleDefinition,
    deterministicGuid,
    resourceGroupIdOf,
    roleAssignmentGuid,
    ROLE_ACTIONS,
    virtualNetworkIdOf,
} from "../src/aib/roles";

const SUB = "/subscriptions/8c6f4f2e-3a1b-4d5c-9e7f-2b1a0c9d8e7f";
const VNET = `${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-build`;
const BUILD: BuildConfig = { vmSize: "Standard_D4s_v5", osDiskSizeGb: 127, timeoutMinutes: 240, onCustomizerError: "cleanup", onValidationError: "cleanup" };
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("AIB identity roles", () => {
    it("needs only the gallery role without a VNet or staging group", () => {
        assert.deepEqual(aibRoleScopes(BUILD), [{ purpose: "image" }]);
    });

    it("adds the network role on the build VNet only when a subnet is configured", () => {
        assert.deepEqual(aibRoleScopes({ ...BUILD, vnet: { subnetId: `${VNET}/subnets/snet-aib` } }), [
            { purpose: "image" },
            { purpose: "network", virtualNetworkId: VNET },
        ]);
    });

    it("adds the staging role only when a staging resource group is configured", () => {
        assert.deepEqual(aibRoleScopes({ ...BUILD, stagingResourceGroupName: "rg-aib-staging" }), [
            { purpose: "image" },
            { purpose: "staging", resourceGroupName: "rg-aib-staging" },
        ]);
    });

    it("lets the gallery role read the definition and write versions, nothing more", () => {
        assert.deepEqual([...AIB_IMAGE_ACTIONS].sort(), [
            "Microsoft.Compute/galleries/images/read",
            "Microsoft.Compute/galleries/images/versions/read",
            "Microsoft.Compute/galleries/images/versions/write",
            "Microsoft.Compute/galleries/read",
            "Microsoft.Compute/images/delete",
            "Microsoft.Compute/images/read",
            "Microsoft.Compute/images/write",
        ]);
    });

    it("keeps network join actions out of every role but the network role", () => {
        assert.deepEqual([...AIB_NETWORK_ACTIONS], ["Microsoft.Network/virtualNetworks/read", "Microsoft.Network/virtualNetworks/subnets/join/action"]);
        assert.ok(!AIB_IMAGE_ACTIONS.some((a) => a.startsWith("Microsoft.Network/")));
    });

    it("uses no wildcards and no authorization actions in any role", () => {
        for (const [purpose, actions] of Object.entries(ROLE_ACTIONS)) {
            assert.ok(actions.length > 0, purpose);
            for (const action of actions) {
                assert.ok(!action.includes("*"), `${purpose}: ${action}`);
                assert.ok(!action.startsWith("Microsoft.Authorization/"), `${purpose}: ${action}`);
                assert.match(action, /^Microsoft\.[A-Za-z]+\/[A-Za-z/]+$/, `${purpose}: ${action}`);
            }
            assert.equal(new Set(actions).size, actions.length, `${purpose} lists an action twice`);
        }
    });

    it("lets the staging role manage what Image Builder creates there: VM, disks, NIC, network, storage, key vault, deployments", () => {
        for (const action of [
            "Microsoft.Compute/virtualMachines/write",
            "Microsoft.Compute/disks/delete",
            "Microsoft.Network/networkInterfaces/write",
            "Microsoft.Network/virtualNetworks/write",
            "Microsoft.Network/networkSecurityGroups/write",
            "Microsoft.Storage/storageAccounts/write",
            "Microsoft.KeyVault/vaults/write",
            "Microsoft.Resources/deployments/write",
        ]) {
            assert.ok((AIB_STAGING_ACTIONS as readonly string[]).includes(action), action);
        }
    });

    it("defines each role in the resource group it is assigned in, and assigns the network role on the VNet only", () => {
        const network = customRoleDefinition("network", VNET, "avd-win11-m365");
        assert.equal(network.scope, `${SUB}/resourceGroups/rg-net`);
        assert.equal(network.assignmentScope, VNET);
        assert.deepEqual(network.actions, [...AIB_NETWORK_ACTIONS]);
        const image = customRoleDefinition("image", `${SUB}/resourceGroups/rg-avd-images-test`, "avd-win11-m365");
        assert.equal(image.scope, image.assignmentScope);
    });

    it("names roles with a GUID derived from purpose and scope: stable across runs, distinct across scopes", () => {
        const rg = `${SUB}/resourceGroups/rg-avd-images-test`;
        const a = customRoleDefinition("image", rg, "avd-win11-m365");
        assert.match(a.roleDefinitionId, GUID);
        assert.equal(customRoleDefinition("image", rg, "avd-win11-m365").roleDefinitionId, a.roleDefinitionId);
        assert.equal(customRoleDefinition("image", rg.toUpperCase(), "avd-win11-m365").roleDefinitionId, a.roleDefinitionId);
        assert.notEqual(customRoleDefinition("staging", rg, "avd-win11-m365").roleDefinitionId, a.roleDefinitionId);
        assert.notEqual(customRoleDefinition("image", `${SUB}/resourceGroups/other`, "avd-win11-m365").roleDefinitionId, a.roleDefinitionId);
        assert.ok(a.roleName.includes(a.roleDefinitionId.slice(0, 8)), "role names must be unique in the tenant");
    });

    it("names role assignments with a GUID per scope, role and principal", () => {
        const a = roleAssignmentGuid(VNET, "r1", "p1");
        assert.match(a, GUID);
        assert.equal(roleAssignmentGuid(VNET, "r1", "p1"), a);
        assert.notEqual(roleAssignmentGuid(VNET, "r1", "p2"), a);
        assert.match(deterministicGuid("x"), GUID);
    });

    it("reads VNet and resource group ids from ARM ids, and refuses anything else", () => {
        assert.equal(virtualNetworkIdOf(`${VNET}/subnets/snet-aib`), VNET);
        assert.equal(resourceGroupIdOf(VNET), `${SUB}/resourceGroups/rg-net`);
        assert.throws(() => virtualNetworkIdOf(VNET), /not a subnet resource id/);
        assert.throws(() => resourceGroupIdOf(SUB), /not a resource id inside a resource group/);
    });

    it("names the identity within Azure's rules for user-assigned identities", () => {
        assert.equal(aibIdentityName("avd-win11-m365"), "id-aib-avd-win11-m365");
        const long = aibIdentityName(`win.11.${"x".repeat(200)}`);
        assert.match(long, /^[a-zA-Z0-9][a-zA-Z0-9_-]{2,119}$/);
    });
});
