// Finds software being installed or staged by build-VM scripts (PowerShell or shell lines)
// and by URIs/paths. Each statement is normalised before matching so that the usual ways of
// writing the same thing match alike: case; quoting, including the typographic quotes PowerShell
// takes for ' and " (Windows PowerShell Language Specification 3.0, §2.3.5.2); escape backticks
// (`` `u{41} `` included); literal concatenation ('RDAgent' + '.msi', -join, [string]::Concat);
// the -f format operator ('…linkid={0}' -f $id); percent-encoding (%3F, %3D); here-strings and
// backtick line continuations; and variables assigned earlier in the same script ($url = '...';
// $url += '...'; Invoke-WebRequest $url, "$base/fwlink/?linkid=$id", $env:URL, ${url}).
// A name split across separate statements that never meet in one expression is out of scope.

export interface Indicator {
    /** What was found, in the words of a violation message. */
    label: string;
    /** Matched against the normalised, lower-case statement. */
    pattern: RegExp;
    /**
     * For names: counts even without an action verb unless the statement only reads or removes
     * (running an installer needs no verb: `& .\\RDAgent.msi /qn`).
     */
    bare?: boolean;
}

export interface ScanRules {
    /** Download links and package stores: found wherever they appear, even in a plain assignment. */
    links: Indicator[];
    /** Product, service, installer and package names: found when the statement installs or stages them. */
    names: Indicator[];
    /** Verbs that install, download, copy or register. */
    action: RegExp;
    /** Verbs and keywords that only read, test, branch or remove. */
    readOnly: RegExp;
}

export interface Finding {
    indicator: string;
    /** The original line (or value) it was found in. */
    text: string;
}

const URL = /https?:\/\//;

/** PowerShell's single-quote-character and double-quote-character (§2.3.5.2); ' and " for sh. */
const SINGLE_QUOTES = "'\u2018\u2019\u201A\u201B";
const DOUBLE_QUOTES = '"\u201C\u201D\u201E';
const ANY_QUOTE = new RegExp(`[${SINGLE_QUOTES}${DOUBLE_QUOTES}]`, "g");
/** PowerShell's dash (§2.2.3): operators such as -f may be written with an en or em dash. */
const DASH = "[-\u2013\u2014\u2015]";

const SCOPE = "(?:(?:script|global|local|private|env|using):)?";
const PS_ASSIGNMENT = new RegExp(`^\\s*(?:\\[[^\\]]+\\]\\s*)?\\$(?:\\{${SCOPE}([A-Za-z_]\\w*)\\}|${SCOPE}([A-Za-z_]\\w*))\\s*(\\+?)=(?!=)\\s*(.*)$`, "i");
const SH_ASSIGNMENT = /^\s*(?:export\s+|local\s+|readonly\s+)?([A-Za-z_]\w*)(\+?)=(.*)$/;
const VARIABLE = new RegExp(`\\$\\{${SCOPE}([A-Za-z_]\\w*)\\}|\\$${SCOPE}([A-Za-z_]\\w*)`, "gi");

const isSingleQuote = (c: string) => SINGLE_QUOTES.includes(c);
const isDoubleQuote = (c: string) => DOUBLE_QUOTES.includes(c);

/**
 * Calls `visit` with the index of each character outside quotes (a backtick escapes the next
 * character inside double quotes); stops when `visit` returns true.
 */
function forEachUnquoted(line: string, visit: (i: number) => boolean | void): void {
    let quote: "single" | "double" | undefined;
    for (let i = 0; i < line.length; i++) {
        const ch = line[i];
        if (quote === "single") {
            if (isSingleQuote(ch)) quote = undefined;
        } else if (quote === "double") {
            if (ch === "`") i++;
            else if (isDoubleQuote(ch)) quote = undefined;
        } else if (isSingleQuote(ch)) {
            quote = "single";
        } else if (isDoubleQuote(ch)) {
            quote = "double";
        } else if (visit(i)) {
            return;
        }
    }
}

/** The line without its `#` comment (a `#` at the start or after whitespace, outside quotes). */
export function stripComment(line: string): string {
    let end = line.length;
    forEachUnquoted(line, (i) => {
        if (line[i] === "#" && (i === 0 || /\s/.test(line[i - 1]))) {
            end = i;
            return true;
        }
        return false;
    });
    return line.slice(0, end);
}

/** The line's statements: split at `;`, `&&` and `||` outside quotes, comment dropped. */
function statements(line: string): string[] {
    const code = stripComment(line);
    const parts: string[] = [];
    let from = 0;
    forEachUnquoted(code, (i) => {
        const ch = code[i];
        if (ch === ";") {
            parts.push(code.slice(from, i));
            from = i + 1;
        } else if ((ch === "&" || ch === "|") && code[i + 1] === ch && i >= from) {
            parts.push(code.slice(from, i));
            from = i + 2;
        }
        return false;
    });
    parts.push(code.slice(from));
    return parts.filter((s) => s.trim() !== "");
}

/**
 * The script's logical lines: a here-string (`@'` … `'@`, `@"` … `"@`) becomes one quoted literal on
 * the line that opens it, and a line ending in a backtick continues on the next.
 */
function logicalLines(lines: readonly string[]): string[] {
    const opener = new RegExp(`@[${SINGLE_QUOTES}${DOUBLE_QUOTES}]\\s*$`);
    const closer = new RegExp(`^\\s*[${SINGLE_QUOTES}${DOUBLE_QUOTES}]@`);
    const out: string[] = [];
    for (let i = 0; i < lines.length; i++) {
        let line = lines[i];
        const open = opener.exec(line);
        if (open) {
            const body: string[] = [];
            let j = i + 1;
            while (j < lines.length && !closer.test(lines[j])) body.push(lines[j++]);
            const rest = j < lines.length ? lines[j].replace(closer, "") : "";
            // Quotes inside a here-string are plain text; dropping them keeps the literal one string.
            line = `${line.slice(0, open.index)}'${body.join(" ").replace(ANY_QUOTE, "")}'${rest}`;
            i = j;
        }
        while (/`\s*$/.test(line) && i + 1 < lines.length) line = line.replace(/`\s*$/, " ") + lines[++i];
        out.push(line);
    }
    return out;
}

function expand(text: string, vars: Map<string, string>): string {
    return text.replace(VARIABLE, (whole, braced: string | undefined, plain: string | undefined) => {
        const value = vars.get((braced ?? plain ?? "").toLowerCase());
        return value ?? whole;
    });
}

/** PowerShell escapes: `` `u{hex} `` becomes its character, any other backtick is dropped (§2.3.7). */
function unescape(text: string): string {
    return text
        .replace(/`u\{([0-9a-fA-F]{1,6})\}/g, (whole, hex: string) => {
            const code = parseInt(hex, 16);
            return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
        })
        .replace(/`/g, "");
}

/** `'…{0}…{1}' -f a, b` with the arguments put in (alignment and format parts ignored). */
function applyFormatOperator(text: string): string {
    const format = new RegExp(`([${SINGLE_QUOTES}${DOUBLE_QUOTES}])([^${SINGLE_QUOTES}${DOUBLE_QUOTES}]*)[${SINGLE_QUOTES}${DOUBLE_QUOTES}]\\s*${DASH}f\\s+([^|;]+)`, "gi");
    return text.replace(format, (_whole, _quote: string, template: string, list: string) => {
        const args = list.split(",").map((a) => a.replace(ANY_QUOTE, "").replace(/[()\s]/g, ""));
        return `'${template.replace(/\{(\d+)(?:,[^}:]*)?(?::[^}]*)?\}/g, (placeholder, n: string) => args[Number(n)] ?? placeholder)}'`;
    });
}

/** Percent-encoded printable ASCII (%3F, %3D, %2F ...) decoded, as a web client would send it. */
function percentDecode(text: string): string {
    return text.replace(/%([0-9a-f]{2})/gi, (whole, hex: string) => {
        const code = parseInt(hex, 16);
        return code >= 0x20 && code < 0x7f ? String.fromCharCode(code) : whole;
    });
}

/**
 * The text a statement is matched as: escapes resolved, variables expanded, format strings
 * filled in, quotes and `+` removed (so 'RD' + "Agent" reads RDAgent), percent-decoded, lower case.
 */
function matchText(statement: string, vars: Map<string, string>): string {
    return percentDecode(
        applyFormatOperator(expand(unescape(statement), vars))
            .replace(ANY_QUOTE, "")
            .replace(/\s*\+\s*/g, ""),
    ).toLowerCase();
}

/**
 * The statement with everything that can separate the pieces of one literal removed (white space,
 * commas, parentheses, `$(` sub-expressions), so ('…?', 'linkid=…') -join '' and [string]::Concat
 * read as the link. Only links are matched against it: a link id never appears by accident.
 */
function squeezed(text: string): string {
    return text.replace(/\$\(/g, "(").replace(/[\s,()]+/g, "");
}

function firstHit(indicators: Indicator[], text: string): Indicator | undefined {
    return indicators.find((i) => i.pattern.test(text));
}

function classify(text: string, rules: ScanRules, assignment: boolean): string | undefined {
    const link = firstHit(rules.links, text) ?? firstHit(rules.links, squeezed(text));
    if (link) return link.label;
    const name = firstHit(rules.names, text);
    if (!name) return undefined;
    const download = URL.test(text);
    // An assignment only stores a value; it counts if the value is a download link. How the
    // variable is used later is judged where it is used (it is expanded there).
    if (assignment) return download ? name.label : undefined;
    if (download || rules.action.test(text)) return name.label;
    if (name.bare && !rules.readOnly.test(text)) return name.label;
    return undefined;
}

/** Findings in a script, one per logical line that installs or stages what `rules` describe. */
export function scanScript(lines: readonly string[], rules: ScanRules): Finding[] {
    const vars = new Map<string, string>();
    const findings: Finding[] = [];
    for (const line of logicalLines(lines)) {
        for (const statement of statements(line)) {
            const raw = unescape(statement);
            const ps = PS_ASSIGNMENT.exec(raw);
            const sh = ps ? null : SH_ASSIGNMENT.exec(raw);
            const assigned = ps
                ? { name: ps[1] ?? ps[2], append: ps[3] === "+", value: ps[4] }
                : sh
                  ? { name: sh[1], append: sh[2] === "+", value: sh[3] }
                  : undefined;
            const text = matchText(statement, vars);
            const label = classify(text, rules, assigned !== undefined);
            if (label && !findings.some((f) => f.indicator === label && f.text === line)) {
                findings.push({ indicator: label, text: line });
            }
            if (assigned) {
                const key = assigned.name.toLowerCase();
                const value = matchText(assigned.value, vars);
                vars.set(key, assigned.append ? (vars.get(key) ?? "") + value : value);
            }
        }
    }
    return findings;
}

/** Findings in a URI or path that is downloaded, copied or run as a whole (no verbs to weigh). */
export function scanValue(value: string, rules: ScanRules): Finding[] {
    const text = matchText(value, new Map());
    const hit = firstHit(rules.links, text) ?? firstHit(rules.names, text);
    return hit ? [{ indicator: hit.label, text: value }] : [];
}

const INSTALL_VERBS =
    /\b(?:msiexec(?![^|]*\s[/-]x\b)|start-process|invoke-webrequest|iwr|invoke-restmethod|irm|curl|wget|start-bitstransfer|downloadfile|expand-archive|install-\w+|add-appxpackage|add-appxprovisionedpackage|choco\s+install|cinst|winget\s+install|dism)\b/;

/**
 * The Azure Virtual Desktop agent, its boot loader and the host-pool registration package.
 *
 * Download locations as Microsoft documents them for registering a session host by hand:
 * - go.microsoft.com/fwlink/?linkid=2310011 (agent) and ?linkid=2311028 (boot loader): "Troubleshoot
 *   common Azure Virtual Desktop Agent issues", learn.microsoft.com/troubleshoot/azure/virtual-desktop/
 *   troubleshoot-agent ("Reinstall the agent and boot loader", 2025-01-21);
 * - the direct binaries query.prod.cms.rt.microsoft.com/cms/api/am/binary/RWrmXv (agent) and RWrxrH
 *   (boot loader), and the installer names Microsoft.RDInfra.RDAgent.Installer-x64-<version>.msi and
 *   Microsoft.RDInfra.RDAgentBootLoader.Installer-x64.msi: "Add session hosts to a host pool",
 *   learn.microsoft.com/azure/virtual-desktop/add-session-hosts-host-pool ("Register session hosts
 *   to a host pool", 2024-04-11 revision).
 * Only these two binary ids are matched, not the download host, which serves many other products.
 * go.microsoft.com/fwlink/?linkid=2139369 is the Remote Desktop client for Windows, not the agent.
 */
export const AVD_AGENT_RULES: ScanRules = {
    links: [
        { label: "the AVD agent download link (go.microsoft.com/fwlink/?linkid=2310011)", pattern: /linkid=2310011\b/ },
        { label: "the AVD agent boot loader download link (go.microsoft.com/fwlink/?linkid=2311028)", pattern: /linkid=2311028\b/ },
        { label: "the AVD agent download (query.prod.cms.rt.microsoft.com/cms/api/am/binary/RWrmXv)", pattern: /\/cms\/api\/am\/binary\/rwrmxv\b/ },
        { label: "the AVD agent boot loader download (query.prod.cms.rt.microsoft.com/cms/api/am/binary/RWrxrH)", pattern: /\/cms\/api\/am\/binary\/rwrxrh\b/ },
        { label: "the AVD registration DSC package store (wvdportalstorageblob)", pattern: /wvdportalstorageblob/ },
        { label: "an aka.ms AVD agent link", pattern: /aka\.ms\/(?:avd|wvd|rd)[-_]?(?:agent|infra|bootloader)/ },
    ],
    names: [
        { label: "the AVD agent installer (Microsoft.RDInfra.RDAgent.Installer-x64*.msi)", pattern: /microsoft\.rdinfra\.rdagent\.installer/, bare: true },
        {
            label: "the AVD agent boot loader installer (Microsoft.RDInfra.RDAgentBootLoader.Installer-x64*.msi)",
            pattern: /microsoft\.rdinfra\.rdagentbootloader\.installer/,
            bare: true,
        },
        { label: "the AVD registration DSC package (Configuration.zip)", pattern: /\bconfiguration\.zip\b/, bare: true },
        { label: "the AVD agent boot loader (RDAgentBootLoader)", pattern: /rdagentbootloader|remote\s*desktop\s*agent\s*boot\s*loader/, bare: true },
        { label: "the AVD agent (RDAgent / Remote Desktop Services Infrastructure Agent)", pattern: /rdagent|remote\s*desktop\s*services\s*infrastructure\s*agent/, bare: true },
        { label: "the AVD agent registration key (RDInfraAgent)", pattern: /rdinfraagent/, bare: true },
    ],
    action: /\b(?:msiexec(?![^|]*\s[/-]x\b)|start-process|invoke-webrequest|iwr|invoke-restmethod|irm|curl|wget|start-bitstransfer|downloadfile|copy-item|cp|move-item|mv|new-item|new-itemproperty|set-itemproperty|set-content|out-file|expand-archive|install-\w+|add-\w+|reg\s+add|choco\s+install|cinst|winget\s+install|new-service|register-scheduledtask|start-service)\b/,
    readOnly: /\b(?:get-\w+|test-path|remove-\w+|uninstall-\w+|stop-service|write-\w+|throw|select-string|where-object|foreach|if|elseif|while|switch)\b|-(?:like|notlike|match|notmatch|eq|ne|contains|notcontains|in|notin)\b/,
};

/** FSLogix installs (configuring the FSLogix that ships in multi-session images is fine). */
export const FSLOGIX_RULES: ScanRules = {
    links: [{ label: "the FSLogix download link (aka.ms/fslogix...)", pattern: /aka\.ms\/fslogix/ }],
    names: [
        { label: "the FSLogix installer (FSLogixAppsSetup.exe)", pattern: /fslogixappssetup/, bare: true },
        { label: "an FSLogix install", pattern: /fslogix/ },
    ],
    action: INSTALL_VERBS,
    readOnly: /\b(?:get-\w+|test-path)\b/,
};
