// sessionHosts.rollout.strategy and .pacing, parsed apart from the rest of the rollout block so
// the ring parser only calls it. reimage (the default) reimages hosts in place; surge adds new
// hosts on the new image before it drains and deletes old ones (docs/rollout.md "Strategies").
// Both are paced by host unless a reimage ring asks for lockstep batches (docs/rollout.md "Pacing").
import { ROLLOUT_PACINGS, ROLLOUT_STRATEGIES } from "../tools/environment";
import type { Reader } from "./reader";
import type { RolloutPacing, RolloutStrategy } from "./types";

export function parseRolloutStrategy(rollout: Reader): { strategy: RolloutStrategy; pacing: RolloutPacing } {
    const strategy = rollout.oneOf("strategy", ROLLOUT_STRATEGIES, "reimage");
    const pacing = rollout.oneOf("pacing", ROLLOUT_PACINGS, "host");
    if (strategy === "surge" && pacing === "batch") {
        rollout.fail("pacing", "is batch, but a surge is always paced by host (each new host that is ready frees one old host); use strategy: reimage for lockstep batches, or remove pacing");
    }
    return { strategy, pacing };
}
