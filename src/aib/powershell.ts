// PowerShell text for Image Builder steps. The reusable parts live as readable scripts in
// ./scripts; what depends on configuration is generated here as a few variable or call lines,
// with every value quoted, so no configured value is ever parsed as PowerShell.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export type AibScriptName =
    | "Install-PowerShellModules.ps1"
    | "Install-ChocolateyPackages.ps1"
    | "Invoke-VirtualDesktopOptimization.ps1"
    | "Invoke-ImageCleanup.ps1"
    | "Test-NoAvdAgent.ps1"
    | "Test-OsDiskSize.ps1"
    | "Test-GpuDriver.ps1"
    | "Get-ImageInventory.ps1";

/** The script's lines as written in src/aib/scripts (line endings normalised, trailing blank lines dropped). */
export function readAibScript(name: AibScriptName): string[] {
    const lines = readFileSync(join(__dirname, "scripts", name), "utf8").replace(/\r\n/g, "\n").split("\n");
    while (lines.length > 0 && lines[lines.length - 1].trim() === "") lines.pop();
    return lines;
}

/**
 * A single-quoted PowerShell string literal: no variable expansion. PowerShell also reads the
 * typographic quotes U+2018-U+201B as `'`, so those are doubled too.
 */
export function psQuote(value: string): string {
    return `'${value.replace(/['\u2018\u2019\u201A\u201B]/g, "$&$&")}'`;
}

/** The value of a literal psQuote wrote (its doubled quotes undone). */
export function psUnquote(literal: string): string {
    return literal.slice(1, -1).replace(/(['\u2018\u2019\u201A\u201B])\1/g, "$1");
}

/** A PowerShell array literal of single-quoted strings. */
export function psArray(values: readonly string[]): string {
    return `@(${values.map(psQuote).join(", ")})`;
}
