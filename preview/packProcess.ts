// Starting the policy pack's process. Kept free of the Pulumi SDK and gRPC so the preview's entry
// point can start the pack before it loads anything heavy: the two start-ups then overlap.
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";

export const POLICY_PACK_DIR = path.resolve(__dirname, "..", "policy");

/** Tells preview/loader.cjs to end the pack's process when its parent goes away. */
export const EXIT_WITH_PARENT_ENV = "AVD_PREVIEW_EXIT_WITH_PARENT";

/**
 * Runs the pack like the Pulumi CLI does: its own process, in its directory, printing its port.
 * Its stdin is a pipe from this process: when the preview ends in any way (Ctrl-C, a kill), the
 * pipe closes and the pack exits instead of serving forever.
 */
export function spawnPolicyPackProcess(packDir: string = POLICY_PACK_DIR): ChildProcess {
    return spawn(process.execPath, ["--require", path.join(__dirname, "loader.cjs"), "index.ts"], {
        cwd: packDir,
        stdio: ["pipe", "pipe", "pipe"],
        env: { ...process.env, [EXIT_WITH_PARENT_ENV]: "1" },
    });
}
