// The scale set's upgradePolicy. The rolling policy is set in every mode: Azure uses it in
// Rolling mode, and in Manual mode the rollout tool and the policy pack read the same fields,
// so one block of config describes batch size, pause and health thresholds for every ring.
import type { SessionHostsConfig, UpgradeMode } from "../config/types";

export interface ScaleSetRollingUpgradePolicy {
    maxBatchInstancePercent: number;
    maxUnhealthyInstancePercent: number;
    maxUnhealthyUpgradedInstancePercent: number;
    pauseTimeBetweenBatches: string;
    prioritizeUnhealthyInstances: boolean;
    maxSurge: boolean;
    rollbackFailedInstancesOnPolicyBreach: boolean;
}

export interface ScaleSetUpgradePolicy {
    mode: UpgradeMode;
    rollingUpgradePolicy: ScaleSetRollingUpgradePolicy;
    automaticOSUpgradePolicy: { enableAutomaticOSUpgrade: boolean };
}

export function scaleSetUpgradePolicy(hosts: Pick<SessionHostsConfig, "upgradeMode" | "rollingUpgrade">): ScaleSetUpgradePolicy {
    const r = hosts.rollingUpgrade;
    return {
        mode: hosts.upgradeMode,
        rollingUpgradePolicy: {
            maxBatchInstancePercent: r.maxBatchInstancePercent,
            maxUnhealthyInstancePercent: r.maxUnhealthyInstancePercent,
            maxUnhealthyUpgradedInstancePercent: r.maxUnhealthyUpgradedInstancePercent,
            pauseTimeBetweenBatches: r.pauseTimeBetweenBatches,
            prioritizeUnhealthyInstances: r.prioritizeUnhealthyInstances,
            maxSurge: r.maxSurge,
            rollbackFailedInstancesOnPolicyBreach: r.rollbackFailedInstancesOnPolicyBreach,
        },
        // New image versions reach hosts only through this program's rollout, never on Azure's schedule.
        automaticOSUpgradePolicy: { enableAutomaticOSUpgrade: false },
    };
}
