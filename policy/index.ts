// The policy pack. Constructing PolicyPack starts the analyzer gRPC server immediately and
// reads the pack version from ./package.json, so this is the only module that does it; the
// policies live in ./policies and can be imported without side effects.
import { PolicyPack } from "@pulumi/policy";
import { PACK_NAME, policies } from "./policies";

new PolicyPack(PACK_NAME, {
    displayName: "AVD image rings guardrails",
    description:
        "Guardrails for Azure Virtual Desktop golden images (Azure Image Builder) and session-host scale sets: Manual " +
        "upgrades in production, OS disk cap, no AVD agent in the image, pinned images outside test, safe rolling " +
        "upgrades, script supply chain and least-privilege build identity.",
    provider: "azure-native",
    tags: ["azure", "avd", "image-builder", "vmss"],
    policies,
});
