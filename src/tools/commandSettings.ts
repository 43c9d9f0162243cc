// How every deploy-time tool runs under @pulumi/command's local.Command.
import type * as local from "@pulumi/command/local";

export const TOOL_COMMAND_SETTINGS = {
    // Progress lines (stderr) reach the engine's log, so `pulumi up` shows them; the JSON result
    // (stdout) does not: it can be long, and it is parsed into outputs anyway.
    logging: "stderr",
    // The tools never read PULUMI_COMMAND_STDOUT/STDERR; handing a long previous output back in the
    // environment can exceed the OS's limit and fail with E2BIG (pulumi-command#285, #552).
    addPreviousOutputInEnv: false,
} as const satisfies Pick<local.CommandArgs, "logging" | "addPreviousOutputInEnv">;
