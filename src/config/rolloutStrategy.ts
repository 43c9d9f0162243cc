// sessionHosts.rollout.strategy, parsed apart from the rest of the rollout block so the ring
// parser only calls it. reimage (the default) reimages hosts in place batch by batch; surge adds
// new hosts on the new image before it drains and deletes old ones (docs/rollout.md "Strategies").
import { ROLLOUT_STRATEGIES } from "../tools/environment";
import type { Reader } from "./reader";
import type { RolloutStrategy } from "./types";

export function parseRolloutStrategy(rollout: Reader): RolloutStrategy {
    return rollout.oneOf("strategy", ROLLOUT_STRATEGIES, "reimage");
}
