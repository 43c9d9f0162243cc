// The two places where checks outside the runners decide about a rollout, shared by both
// strategies (rolloutRunner.ts, surgeRunner.ts):
//   beforeFirstChange  called once, after the lock is held and the ring has been read, before the
//                      run drains a host or changes the scale set's capacity; throwing (a
//                      ToolFailure) stops the run with nothing changed (e.g. a preflight of subnet
//                      addresses and vCPU quota for the surge).
//   mayStartDraining   asked before the run lets more hosts start draining (reimage: before each new
//                      batch; surge: on every poll, before draining old hosts or adding new ones);
//                      hosts already in flight are always finished. A refusal with `retryAt` makes
//                      the run wait until then with every host in service; one without stops it
//                      cleanly (surge: back at the configured capacity), e.g. a maintenance window.
import type { HostState } from "../../src/rollout/hosts";
import type { ScaleSetModel } from "./azure";

export interface FirstChange {
    strategy: "reimage" | "surge";
    scaleSet: ScaleSetModel;
    hosts: readonly HostState[];
    /** Instances the run may add beside the configured capacity at most (0 for reimage). */
    surgeInstances: number;
}

export type DrainPermit = { allowed: true } | { allowed: false; reason: string; retryAt?: number };

export interface RolloutHooks {
    beforeFirstChange?(change: FirstChange): Promise<void>;
    mayStartDraining?(now: number): DrainPermit;
}
