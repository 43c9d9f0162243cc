import type { ResourceValidationPolicy } from "@pulumi/policy";
import { buildVmSteps, inlineLines } from "../lib/aib";
import { stripComment } from "../lib/scriptScan";
import { IMAGE_TEMPLATE, forType } from "../lib/types";
import { excerpt } from "../lib/values";

/**
 * A Chocolatey command at the head of a statement, optionally run with `&` and by path or
 * variable (`& $choco install ...`, `& "C:\\ProgramData\\chocolatey\\bin\\choco.exe" upgrade ...`).
 * Mentions inside strings (`throw "choco install $p failed"`) are not commands.
 */
const CHOCO = /^\s*(?:&\s*)?['"]?(?:[^'"\s]*[\\/])?\$?(?:(?:choco(?:\.exe)?)['"]?\s+(?:install|upgrade)|(?:cinst|cup)(?:\.exe)?['"]?)\s+(.*)$/i;
/** Options that take the next token as their value. */
const VALUE_OPTIONS = new Set(["--source", "-s", "--params", "--package-parameters", "--install-arguments", "--ia", "--cache-location", "--timeout", "--execution-timeout", "--user", "--password", "-u", "-p"]);
const VERSION_OPTION = /^--?version(?:=|$)/i;
const PACKAGE_ID = /^[A-Za-z0-9$][\w.$-]*$/;

/** Packages a choco install/upgrade statement installs without a pinned version. */
export function unpinnedChocolateyPackages(statement: string): string[] {
    const m = CHOCO.exec(statement);
    if (!m) return [];
    const tokens = m[1]
        .split(/\s+/)
        .map((t) => t.replace(/^['"]|['"]$/g, ""))
        .filter((t) => t !== "");
    const packages: string[] = [];
    let pinned = false;
    for (let i = 0; i < tokens.length; i++) {
        const token = tokens[i];
        if (token.startsWith(">") || token.startsWith("2>")) break;
        if (VERSION_OPTION.test(token)) {
            pinned = true;
            if (!token.includes("=")) i++;
        } else if (token.startsWith("-") || token.startsWith("/")) {
            if (VALUE_OPTIONS.has(token.toLowerCase())) i++;
        } else if (PACKAGE_ID.test(token)) {
            packages.push(token);
        }
    }
    return pinned ? [] : packages;
}

export const chocolateyVersionsPinned: ResourceValidationPolicy = {
    name: "chocolatey-versions-pinned",
    description:
        "Chocolatey installs in image builds pin a version (--version). Without it each build takes whatever the feed " +
        "serves that day, so two builds of the same image version can differ and a regression cannot be traced to a " +
        "package change (seed: 'Document image versions' changelog lists exact app versions).",
    enforcementLevel: "advisory",
    remediationSteps: "Write chocolateyPackages as name@version (or add --version to the choco command).",
    validateResource: forType(IMAGE_TEMPLATE, (args, reportViolation) => {
        for (const step of buildVmSteps(args.props)) {
            if (step.type !== "PowerShell") continue;
            for (const line of inlineLines(step)) {
                for (const statement of stripComment(line).split(/[;{}|]/)) {
                    const unpinned = unpinnedChocolateyPackages(statement);
                    if (unpinned.length > 0) {
                        reportViolation(`Image template "${args.name}" ${step.label} installs ${unpinned.join(", ")} without --version: ${excerpt(statement)}`);
                    }
                }
            }
        }
    }),
};
