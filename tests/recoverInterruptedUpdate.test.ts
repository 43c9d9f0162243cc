import { strict as assert } from "node:assert";
import { planRecovery } from "../scripts/recoverInterruptedUpdate";

const STACK = "contoso/avd-image-rings/prod";
const ROLLOUT = "urn:pulumi:prod::avd-image-rings::avd-image-rings:rings:ImageRollout$command:local:Command::rollout-drain-and-upgrade";
const VMSS = "urn:pulumi:prod::avd-image-rings::avd-image-rings:rings:SessionHostPool$azure-native:compute:VirtualMachineScaleSet::session-hosts-vmss";

/** The shape of `pulumi stack export` (version 3) with only what matters here. */
function exported(pending: Array<{ urn: string; type: string; op: string }>): unknown {
    return { version: 3, deployment: { manifest: {}, resources: [], pending_operations: pending.map((p) => ({ resource: { urn: p.urn, type: p.type }, type: p.op })) } };
}

describe("recovering an interrupted pulumi up (npm run recover-update)", () => {
    it("does nothing when the checkpoint has no pending operations", () => {
        assert.equal(planRecovery(STACK, { version: 3, deployment: { resources: [] } }).action, "none");
    });

    it("clears a rollout command killed mid-create with refresh --clear-pending-creates: the next up runs it again and it resumes", () => {
        const plan = planRecovery(STACK, exported([{ urn: ROLLOUT, type: "command:local:Command", op: "creating" }]));
        assert.equal(plan.action, "refresh");
        assert.ok(plan.action === "refresh");
        assert.deepEqual(plan.args, ["refresh", "--stack", STACK, "--yes", "--skip-preview", "--clear-pending-creates"]);
    });

    it("refreshes an Azure resource that was being updated: refresh reads Azure's state and clears the operation", () => {
        const plan = planRecovery(STACK, exported([{ urn: VMSS, type: "azure-native:compute:VirtualMachineScaleSet", op: "updating" }]));
        assert.equal(plan.action, "refresh");
    });

    it("stops on an Azure resource that was being created, naming it and the import command", () => {
        const plan = planRecovery(
            STACK,
            exported([
                { urn: ROLLOUT, type: "command:local:Command", op: "creating" },
                { urn: VMSS, type: "azure-native:compute:VirtualMachineScaleSet", op: "creating" },
            ]),
        );
        assert.equal(plan.action, "manual");
        assert.ok(plan.action === "manual");
        assert.deepEqual(plan.blocking.map((b) => b.urn), [VMSS]);
        assert.match(plan.message, new RegExp(`\\* ${VMSS.replace(/[$]/g, "\\$")}`));
        assert.match(plan.message, /pulumi refresh --stack contoso\/avd-image-rings\/prod --yes --import-pending-creates '<urn>' '<ARM resource id>'/);
        assert.ok(!plan.message.includes(ROLLOUT), "the command, which clearing cannot harm, is not named as blocking");
    });
});
