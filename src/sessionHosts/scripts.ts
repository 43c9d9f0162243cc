// The PowerShell scripts a session host runs, kept readable in ./scripts and shipped to the
// host compacted: Windows caps a command line at 8191 characters and the scripts travel inside one.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export type SessionHostScriptName = "Register-SessionHost.ps1" | "HealthEndpoint.ps1";

/** The script exactly as written in src/sessionHosts/scripts. */
export function readSessionHostScript(name: SessionHostScriptName): string {
    return readFileSync(join(__dirname, "scripts", name), "utf8");
}

/**
 * Drops comment-based help, full-line comments, indentation and blank lines; every statement line
 * is kept verbatim. Refuses here-strings, whose lines must not be touched.
 */
export function compactPowerShell(script: string): string {
    if (/@['"]\s*$/m.test(script)) {
        throw new Error("compactPowerShell cannot compact scripts with here-strings (@' or @\"): their lines would change");
    }
    return script
        .replace(/<#[\s\S]*?#>/g, "")
        .split(/\r?\n/)
        .map((line) => line.trim())
        .filter((line) => line !== "" && !line.startsWith("#"))
        .join("\n");
}

/** The script as it travels to the host. */
export function compactSessionHostScript(name: SessionHostScriptName): string {
    return compactPowerShell(readSessionHostScript(name));
}
