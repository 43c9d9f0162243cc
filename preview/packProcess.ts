// Starting the policy pack's process. Kept free of the Pulumi SDK and gRPC so the preview's entry
// point can start the pack before it loads anything heavy: the two start-ups then overlap.
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";

export const POLICY_PACK_DIR = path.resolve(__dirname, "..", "policy");

/** Runs the pack like the Pulumi CLI does: its own process, in its directory, printing its port. */
export function spawnPolicyPackProcess(packDir: string = POLICY_PACK_DIR): ChildProcess {
    return spawn(process.execPath, ["--require", path.join(__dirname, "loader.cjs"), "index.ts"], {
        cwd: packDir,
        stdio: ["ignore", "pipe", "pipe"],
        env: process.env,
    });
}
