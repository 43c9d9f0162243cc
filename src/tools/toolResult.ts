// The JSON object a deploy-time tool prints as its last stdout line (docs/ARCHITECTURE.md
// "Deploy-time tools"), read back by the component that ran it.

/** Fails naming the tool, with the output's tail; long lines (a result with release notes) are cut. */
export function toolResultProblem(tool: string, problem: string, stdout: string): never {
    const tail = stdout
        .trim()
        .split("\n")
        .slice(-5)
        .map((l) => (l.length > 400 ? `${l.slice(0, 400)}… (${l.length} characters)` : l))
        .join("\n");
    throw new Error(`${tool}: ${problem}; the last line of its output must be its JSON result. Output ended with:\n${tail || "(no output)"}`);
}

/** The last non-empty stdout line as a JSON object. */
export function toolResultObject(tool: string, stdout: string): Record<string, unknown> {
    const lines = stdout.split(/\r?\n/).filter((l) => l.trim() !== "");
    if (lines.length === 0) toolResultProblem(tool, "printed nothing on stdout", stdout);
    let parsed: unknown;
    try {
        parsed = JSON.parse(lines[lines.length - 1]);
    } catch {
        toolResultProblem(tool, "its last stdout line is not JSON", stdout);
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) toolResultProblem(tool, "its last stdout line is not a JSON object", stdout);
    return parsed as Record<string, unknown>;
}
