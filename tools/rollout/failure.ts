// How the rollout and the health gate report a failure on stderr: one "Error:" headline the
// user can act on, then the details.
import { describeFailure as describeToolFailure } from "../shared/tool";
import { InputError } from "./env";

export function describeFailure(e: unknown, tool: "rollout" | "health gate"): string[] {
    if (e instanceof InputError) return [`Error: ${e.message}`];
    return describeToolFailure(e, {
        tool,
        permissions: `the ${tool} needs Virtual Machine Contributor on the scale set${tool === "rollout" ? " (plus Tag Contributor there, for its lock and drained-host tags)" : ""} and Desktop Virtualization Session Host Operator${tool === "rollout" ? " and Desktop Virtualization User Session Operator" : ""} on the host pool`,
        retryLater: `run \`pulumi up\` again later: the ${tool} resumes from what Azure reports`,
    });
}
