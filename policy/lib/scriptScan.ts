// Finds software being installed or staged by build-VM scripts (PowerShell or shell lines)
// and by URIs/paths. Each statement is normalised before matching so that the usual ways of
// writing the same thing match alike: case, quoting, PowerShell escape backticks, literal
// concatenation within one line ('RDAgent' + '.msi'), and variables assigned earlier in the
// same script ($url = '...'; Invoke-WebRequest $url). A name split across lines is out of scope.

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

const PS_ASSIGNMENT = /^\s*(?:\[[^\]]+\]\s*)?\$([A-Za-z_]\w*)\s*=(?!=)\s*(.*)$/;
const SH_ASSIGNMENT = /^\s*(?:export\s+|local\s+|readonly\s+)?([A-Za-z_]\w*)=(.*)$/;
const VARIABLE = /\$\{([A-Za-z_]\w*)\}|\$([A-Za-z_]\w*)/g;

/** The line without its `#` comment (a `#` at the start or after whitespace, outside quotes). */
export function stripComment(line: string): string {
    let quote: string | undefined;
    for (let i = 0; i < line.length; i++) {
        const ch = line[i];
        if (quote) {
            if (ch === quote) quote = undefined;
        } else if (ch === "'" || ch === '"') {
            quote = ch;
        } else if (ch === "#" && (i === 0 || /\s/.test(line[i - 1]))) {
            return line.slice(0, i);
        }
    }
    return line;
}

function expand(text: string, vars: Map<string, string>): string {
    return text.replace(VARIABLE, (whole, braced: string | undefined, plain: string | undefined) => {
        const value = vars.get((braced ?? plain ?? "").toLowerCase());
        return value ?? whole;
    });
}

/**
 * The text a statement is matched as: escape backticks dropped, variables expanded, quotes and
 * `+` removed (so 'RD' + "Agent" reads RDAgent), lower case.
 */
function matchText(statement: string, vars: Map<string, string>): string {
    return expand(statement.replace(/`/g, ""), vars)
        .replace(/['"]/g, "")
        .replace(/\s*\+\s*/g, "")
        .toLowerCase();
}

function statements(line: string): string[] {
    return stripComment(line)
        .split(/;|&&|\|\|/)
        .filter((s) => s.trim() !== "");
}

function firstHit(indicators: Indicator[], text: string): Indicator | undefined {
    return indicators.find((i) => i.pattern.test(text));
}

function classify(text: string, rules: ScanRules, assignment: boolean): string | undefined {
    const link = firstHit(rules.links, text);
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

/** Findings in a script, one per statement that installs or stages what `rules` describe. */
export function scanScript(lines: readonly string[], rules: ScanRules): Finding[] {
    const vars = new Map<string, string>();
    const findings: Finding[] = [];
    for (const line of lines) {
        for (const statement of statements(line)) {
            const raw = statement.replace(/`/g, "");
            const assigned = PS_ASSIGNMENT.exec(raw) ?? SH_ASSIGNMENT.exec(raw);
            const text = matchText(statement, vars);
            const label = classify(text, rules, assigned !== null);
            if (label && !findings.some((f) => f.indicator === label && f.text === line)) {
                findings.push({ indicator: label, text: line });
            }
            if (assigned) vars.set(assigned[1].toLowerCase(), matchText(assigned[2], vars));
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

/** The Azure Virtual Desktop agent, its boot loader and the host-pool registration package. */
export const AVD_AGENT_RULES: ScanRules = {
    links: [
        { label: "the AVD agent download link (go.microsoft.com/fwlink/?linkid=2310011)", pattern: /linkid=2310011\b/ },
        { label: "the AVD agent boot loader download link (go.microsoft.com/fwlink/?linkid=2311028)", pattern: /linkid=2311028\b/ },
        { label: "the AVD agent download service (query.prod.cms.rdsservices.com)", pattern: /query\.prod\.cms\.rdsservices\.com/ },
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
