// Failure tables for the rollout and the health gate: a per-host table when they stop.
// Progress lines and ToolFailure live in tools/shared/tool.ts.

/** A plain-text table: columns padded to their widest cell. */
export function table(headers: string[], rows: string[][]): string[] {
    const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
    const format = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join("  ").trimEnd();
    return [format(headers), format(widths.map((w) => "-".repeat(w))), ...rows.map(format)];
}

/** "a, b and c" */
export function list(items: string[]): string {
    if (items.length <= 1) return items.join("");
    return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}
