// `npm run recover-update -- --stack <org>/avd-image-rings/<ring>`: the deploy workflow's first
// step on a re-run, after a job was killed inside `pulumi up` (GitHub's 6 h limit, a cancelled run).
// Such a job leaves the stack's update open in Pulumi Cloud (the next `pulumi up` fails with
// "[409] Conflict: Another update is currently in progress.") and its checkpoint holding pending
// operations. This script cancels the open update, reads `pulumi stack export`, and:
// - no pending operation: nothing to do;
// - pending updates/deletes, or pending creates of command resources only (a command has nothing in
//   Azure; the next `pulumi up` runs it again and the tools resume where Azure stands):
//   `pulumi refresh --clear-pending-creates`;
// - a pending create of an Azure resource: stops and names it, with the import command to run by
//   hand once the portal shows whether Azure created it (clearing it would make the next `pulumi up`
//   create it a second time). README.md "When a `pulumi up` is interrupted" explains each case.
import { execFile } from "node:child_process";
import { promisify } from "node:util";

export interface PendingOperation {
    urn: string;
    type: string;
    /** "creating", "updating", "deleting", "reading" or "importing", as the engine records it. */
    operation: string;
}

export type RecoveryPlan =
    | { action: "none"; pending: [] }
    | { action: "refresh"; pending: PendingOperation[]; args: string[] }
    | { action: "manual"; pending: PendingOperation[]; blocking: PendingOperation[]; message: string };

interface StackExport {
    deployment?: { pending_operations?: Array<{ type?: string; resource?: { urn?: string; type?: string } }> };
}

/** The pending operations a `pulumi stack export` document records. */
export function pendingOperations(exported: unknown): PendingOperation[] {
    const ops = (exported as StackExport | null)?.deployment?.pending_operations ?? [];
    return ops.map((op) => ({ urn: op.resource?.urn ?? "", type: op.resource?.type ?? "", operation: op.type ?? "" }));
}

/** Commands (local.Command) exist only in the state: clearing their pending create loses nothing. */
const STATE_ONLY_TYPES = new Set(["command:local:Command"]);

/** What to do about the pending operations of one stack. Pure: no I/O. */
export function planRecovery(stack: string, exported: unknown): RecoveryPlan {
    const pending = pendingOperations(exported);
    if (pending.length === 0) return { action: "none", pending: [] };
    const blocking = pending.filter((op) => op.operation === "creating" && !STATE_ONLY_TYPES.has(op.type));
    if (blocking.length === 0) {
        return { action: "refresh", pending, args: ["refresh", "--stack", stack, "--yes", "--skip-preview", "--clear-pending-creates"] };
    }
    const lines = [
        `${stack}: ${blocking.length} Azure resource(s) were being created when the update was interrupted; whether Azure created them is unknown:`,
        ...blocking.map((op) => `  * ${op.urn}`),
        "Look each one up in the Azure portal (or `az resource show --ids <ARM id>`). Then, from a checkout of this commit:",
        `  created:     pulumi refresh --stack ${stack} --yes --import-pending-creates '<urn>' '<ARM resource id>'`,
        `  not created: pulumi refresh --stack ${stack} --yes --clear-pending-creates`,
        "and re-run the workflow.",
    ];
    return { action: "manual", pending, blocking, message: lines.join("\n") };
}

const run = promisify(execFile);

async function pulumi(args: string[]): Promise<string> {
    const { stdout } = await run("pulumi", args, { maxBuffer: 256 * 1024 * 1024 });
    return stdout;
}

async function main(argv: string[]): Promise<number> {
    const at = argv.indexOf("--stack");
    const stack = at >= 0 ? argv[at + 1] : undefined;
    if (!stack || argv.length !== 2) {
        process.stderr.write("usage: npm run recover-update -- --stack <org>/avd-image-rings/<ring>\n");
        return 2;
    }
    try {
        await pulumi(["cancel", "--stack", stack, "--yes"]);
        process.stderr.write(`${stack}: cancelled the update the interrupted job left open\n`);
    } catch (err) {
        // No open update (the usual case: "the update has already completed" or none at all).
        const text = err instanceof Error ? err.message : String(err);
        process.stderr.write(`${stack}: no open update to cancel (${text.split("\n").filter(Boolean).pop() ?? "pulumi cancel failed"})\n`);
    }
    const plan = planRecovery(stack, JSON.parse(await pulumi(["stack", "export", "--stack", stack])));
    for (const op of plan.pending) process.stderr.write(`  pending: ${op.urn}, interrupted while ${op.operation}\n`);
    switch (plan.action) {
        case "none":
            process.stderr.write(`${stack}: no pending operations; \`pulumi up\` continues where the last one stopped\n`);
            return 0;
        case "refresh":
            process.stderr.write(`${stack}: pulumi ${plan.args.join(" ")}\n`);
            await pulumi(plan.args);
            return 0;
        case "manual":
            process.stderr.write(`${plan.message}\n`);
            return 1;
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => process.exit(code),
        (err: unknown) => {
            process.stderr.write(`recover-update: ${err instanceof Error ? err.message : String(err)}\n`);
            process.exit(1);
        },
    );
}
