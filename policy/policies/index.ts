// Every policy of the pack, in the order they are documented. Importing this module starts
// nothing: only ../index.ts builds the PolicyPack (which serves it over gRPC at once).
import type { Policies } from "@pulumi/policy";
import { aibBuildTimeout } from "./aibBuildTimeout";
import { aibIdentityLeastPrivilege } from "./aibIdentityLeastPrivilege";
import { chocolateyVersionsPinned } from "./chocolateyVersionsPinned";
import { excludeFromLatestWhenFloating } from "./excludeFromLatestWhenFloating";
import { galleryReplicasForScaleOut } from "./galleryReplicasForScaleOut";
import { noAvdAgentInImage } from "./noAvdAgentInImage";
import { noFslogixInImage } from "./noFslogixInImage";
import { noPublicIpOnSessionHosts } from "./noPublicIpOnSessionHosts";
import { osDiskSizeCap } from "./osDiskSizeCap";
import { pinnedImageOutsideTest } from "./pinnedImageOutsideTest";
import { prodVmssManualUpgrade } from "./prodVmssManualUpgrade";
import { rollingUpgradeHealthProbe } from "./rollingUpgradeHealthProbe";
import { safeRollingUpgrade } from "./safeRollingUpgrade";
import { scriptSupplyChain } from "./scriptSupplyChain";
import { trustedLaunch } from "./trustedLaunch";
import { uniqueComputerNamePrefix } from "./uniqueComputerNamePrefix";

export const PACK_NAME = "avd-image-rings-guardrails";

export const policies: Policies = [
    prodVmssManualUpgrade,
    osDiskSizeCap,
    noAvdAgentInImage,
    noFslogixInImage,
    pinnedImageOutsideTest,
    safeRollingUpgrade,
    rollingUpgradeHealthProbe,
    scriptSupplyChain,
    chocolateyVersionsPinned,
    aibIdentityLeastPrivilege,
    noPublicIpOnSessionHosts,
    trustedLaunch,
    galleryReplicasForScaleOut,
    aibBuildTimeout,
    excludeFromLatestWhenFloating,
    uniqueComputerNamePrefix,
];
