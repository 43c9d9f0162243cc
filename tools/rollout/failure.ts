// How the rollout and the health gate report a failure on stderr: one "Error:" headline the
// user can act on, then the details. Never a stack trace, never a token.
import { ArmError, LroFailedError } from "../azure/arm";
import { CredentialError } from "../azure/credentials";
import { InputError } from "./env";
import { ToolFailure } from "./report";

export function describeFailure(e: unknown, tool: "rollout" | "health gate"): string[] {
    if (e instanceof ToolFailure) return [`Error: ${e.message}`, ...e.details];
    if (e instanceof InputError) return [`Error: ${e.message}`];
    if (e instanceof CredentialError) return [`Error: ${e.message}.`];
    if (e instanceof LroFailedError) return [`Error: an Azure operation failed: ${e.message}.`];
    if (e instanceof ArmError) {
        const hint =
            e.status === 401
                ? ' Sign in again ("az login") or refresh AVD_ARM_ACCESS_TOKEN.'
                : e.status === 403
                  ? ` The signed-in identity lacks permission for this call; the ${tool} needs Virtual Machine Contributor on the scale set and Desktop Virtualization Session Host Operator${tool === "rollout" ? " and Desktop Virtualization User Session Operator" : ""} on the host pool.`
                  : e.status === 429 || e.status >= 500
                    ? ` Azure kept refusing the request after several attempts; run \`pulumi up\` again later: the ${tool} resumes from what Azure reports.`
                    : "";
        return [`Error: an Azure call failed: ${e.message}.${hint}`];
    }
    return [`Error: the ${tool} failed unexpectedly: ${e instanceof Error ? e.message : String(e)}.`];
}
