// The commands the stack outputs and the tools' messages hand a user to paste: for every name the
// config allows (and for hostile names Azure might hand back), bash parses each command and passes
// exactly the intended arguments, and PowerShell's grammar reads each argument back unchanged.
// PowerShell itself cannot be installed on this machine, so the PowerShell side is checked with the
// small tokenizer below, written from the Windows PowerShell Language Specification 3.0, chapter 2
// (learn.microsoft.com/powershell/scripting/lang-spec/chapter-02).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { ImageGallery } from "../components/imageGallery";
import { GoldenImageBuild } from "../components/goldenImageBuild";
import { evaluate } from "../preview/engine";
import {
    bashWord,
    galleryImageVersionShowCommand,
    imageBuilderCancelCommand,
    imageBuilderRunCommands,
    powershellWord,
    sessionHostAllowNewSessionCommand,
} from "../src/aib/commands";
import { PROJECT, rules } from "../src/config/parse";
import { onlyImage } from "./fixtures/fleet";
import { singleImageRing } from "./fixtures/singleImageStacks";
import { imageTemplateName } from "../src/aib/template";

// ---- names --------------------------------------------------------------------------------------

/** Deterministic pseudo-random numbers (mulberry32), so a failure names a reproducible case. */
function random(seed: number): () => number {
    let a = seed;
    return () => {
        a = (a + 0x6d2b79f5) | 0;
        let t = Math.imul(a ^ (a >>> 15), 1 | a);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

const RESOURCE_GROUP_CHARS = "abcXYZ019-_.()";
const pick = (next: () => number, chars: string) => chars[Math.floor(next() * chars.length)];

/** Resource group names the config accepts, weighted towards the characters shells care about. */
function resourceGroupNames(count: number): string[] {
    const next = random(9);
    const names = ["-", "(", ")", "()", "-rg", "--", "rg.(x)", "_", "(rg)-test_1", "rg-avd-prod", "1kb", "0x10", "1e5", "x".repeat(90)];
    while (names.length < count) {
        const length = 1 + Math.floor(next() * 12);
        let name = "";
        for (let i = 0; i < length; i++) name += pick(next, RESOURCE_GROUP_CHARS);
        if (rules.resourceGroup.pattern.test(name)) names.push(name);
    }
    for (const n of names) assert.match(n, rules.resourceGroup.pattern, `the generator only makes names the config allows: ${n}`);
    return names;
}

/** Template names as the program composes them, from image definition names the config accepts. */
function templateNames(count: number): string[] {
    const next = random(11);
    const names: string[] = [];
    while (names.length < count) {
        const length = 1 + Math.floor(next() * 80);
        let definition = "";
        for (let i = 0; i < length; i++) definition += pick(next, "aZ09-_.");
        if (!rules.imageDefinitionName.pattern.test(definition)) continue;
        const fingerprint = Math.floor(next() * 0xffffffff).toString(16).padStart(8, "0");
        names.push(imageTemplateName(definition, `${Math.floor(next() * 3000)}.${Math.floor(next() * 20)}.0`, fingerprint));
    }
    return names;
}

/**
 * Names no config rule allows but a quoter must still survive, because some commands are built from
 * names Azure reports (host pools, resource groups of ids): every shell metacharacter, both shells'
 * quotes including PowerShell's typographic ones, Unicode letters and spaces.
 */
const HOSTILE_NAMES = [
    "it's",
    "a'b''c",
    "\u2018curly\u2019",
    "low\u201Ahigh\u201B",
    "'",
    "\u2019",
    '"',
    "$(touch /tmp/x)",
    "`whoami`",
    "$HOME",
    "a;b|c&d",
    "semi;colon",
    "sp ace",
    "tab\there",
    "back\\slash",
    "glob*?[x]",
    "~home",
    "#hash",
    "{brace}",
    "@splat",
    "<in>out",
    "!bang",
    "Grüße-Ω-東京",
    "\u201Cdq\u201D\u201E",
    "-Name",
    "--%",
    "=",
];

// ---- bash -----------------------------------------------------------------------------------------

function bashParses(command: string): void {
    const r = spawnSync("bash", ["-n", "-c", command], { encoding: "utf8" });
    assert.equal(r.status, 0, `bash -n rejects: ${command}\n${r.stderr}`);
}

/** The arguments bash passes to `az`, for each command, when the commands run as one script. */
function bashArguments(commands: string[]): string[][] {
    // `az` is a shell function here that prints its arguments NUL-separated, one record per call.
    const script = [`az() { printf '%s\\0' "$@"; printf '\\036'; }`, ...commands].join("\n");
    const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout
        .split("\u001e")
        .slice(0, -1)
        .map((record) => record.split("\0").slice(0, -1));
}

/** The argument an az option reaches the CLI as: `--opt value`, or `--opt=value` for a leading dash. */
const azArgs = (option: string, value: string) => (value.startsWith("-") ? [`${option}=${value}`] : [option, value]);

// ---- PowerShell (test-only tokenizer) ---------------------------------------------------------

/** single-quote-character, §2.3.5.2. */
const SINGLE_QUOTES = new Set(["'", "\u2018", "\u2019", "\u201A", "\u201B"]);
/** double-quote-character, §2.3.5.2. */
const DOUBLE_QUOTES = new Set(['"', "\u201C", "\u201D", "\u201E"]);
/** Characters that end a generic-token (§2.3.3) besides quotes and white space. */
const GENERIC_TOKEN_STOPS = new Set(["{", "}", "(", ")", ";", ",", "|", "&", "$", "`"]);
/** dash, §2.2.3. */
const DASHES = new Set(["-", "\u2013", "\u2014", "\u2015"]);
const isWhitespace = (c: string) => c === " " || c === "\t";

type PsToken = { parameter: string } | { argument: string };

/**
 * Tokenizes one PowerShell command line in argument mode: the command name, `-Parameter` tokens
 * (§2.3.4), verbatim strings (§2.3.5.2) and bare generic tokens (§2.3.3). Anything else (expandable
 * strings, variables, numbers, comments, splats, redirections, a string glued to the next token) is
 * not modelled and throws, so a test can only pass on the two argument forms this models.
 */
function tokenizePowerShell(line: string): { command: string; tokens: PsToken[] } {
    const words: Array<{ text: string; quoted: boolean }> = [];
    let i = 0;
    while (i < line.length) {
        const c = line[i];
        if (isWhitespace(c)) {
            i++;
            continue;
        }
        if (SINGLE_QUOTES.has(c)) {
            let value = "";
            i++;
            for (;;) {
                if (i >= line.length) throw new Error(`unterminated verbatim string in: ${line}`);
                const ch = line[i];
                if (SINGLE_QUOTES.has(ch)) {
                    // A pair of single-quote-characters stands for one (the tokenizer keeps the second).
                    if (i + 1 < line.length && SINGLE_QUOTES.has(line[i + 1])) {
                        value += line[i + 1];
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                value += ch;
                i++;
            }
            if (i < line.length && !isWhitespace(line[i])) throw new Error(`not modelled: a verbatim string followed by ${JSON.stringify(line[i])} in: ${line}`);
            words.push({ text: value, quoted: true });
            continue;
        }
        let text = "";
        while (i < line.length && !isWhitespace(line[i])) {
            const ch = line[i];
            if (SINGLE_QUOTES.has(ch) || DOUBLE_QUOTES.has(ch) || GENERIC_TOKEN_STOPS.has(ch)) {
                throw new Error(`not modelled: ${JSON.stringify(ch)} in a bare word of: ${line}`);
            }
            text += ch;
            i++;
        }
        if (/^[#@<>]/.test(text) || /^[0-9]|^\.[0-9]/.test(text) || />/.test(text)) {
            throw new Error(`not modelled: ${JSON.stringify(text)} is a comment, splat, redirection or possibly a number`);
        }
        words.push({ text, quoted: false });
    }
    const [command, ...rest] = words;
    if (!command || command.quoted) throw new Error(`no command name in: ${line}`);
    const tokens = rest.map((w): PsToken => {
        if (!w.quoted && DASHES.has(w.text[0])) {
            if (!/^.[A-Za-z_?][^{}();,|&.[:\s]*$/.test(w.text)) throw new Error(`not modelled: ${JSON.stringify(w.text)}`);
            return { parameter: w.text };
        }
        return { argument: w.text };
    });
    return { command: command.text, tokens };
}

// ---- tests ----------------------------------------------------------------------------------------

describe("copy-paste commands", () => {
    const groups = resourceGroupNames(160);
    const templates = templateNames(60);

    describe("the quoters", () => {
        it("leave plain names bare and quote the rest", () => {
            assert.equal(bashWord("rg-avd-prod"), "rg-avd-prod");
            assert.equal(bashWord("rg-(eu)"), "'rg-(eu)'");
            assert.equal(bashWord("it's"), "'it'\\''s'");
            assert.equal(bashWord(""), "''");
            assert.equal(powershellWord("rg-avd-prod"), "rg-avd-prod");
            assert.equal(powershellWord("-rg"), "'-rg'", "a bare -rg would be a parameter name");
            assert.equal(powershellWord("1kb"), "'1kb'", "a bare 1kb would be the number 1024");
            assert.equal(powershellWord("it's"), "'it''s'");
            assert.equal(powershellWord(""), "''");
        });

        it("double PowerShell's typographic single quotes, which close a verbatim string like '", () => {
            assert.equal(powershellWord("a\u2018b\u2019c\u201Ad\u201Be"), "'a\u2018\u2018b\u2019\u2019c\u201A\u201Ad\u201B\u201Be'");
            assert.deepEqual(tokenizePowerShell(`X ${powershellWord("\u2019")}`).tokens, [{ argument: "\u2019" }]);
        });

        it("round-trip every name through bash and through PowerShell's grammar", function () {
            this.timeout(60_000);
            const names = [...groups, ...templates, ...HOSTILE_NAMES];
            const echoed = bashArguments(names.map((n) => `az ${bashWord(n)}`));
            assert.deepEqual(echoed, names.map((n) => [n]));
            for (const n of names) {
                assert.deepEqual(tokenizePowerShell(`Write-Output ${powershellWord(n)}`).tokens, [{ argument: n }], `PowerShell reads back ${JSON.stringify(n)}`);
            }
        });
    });

    describe("the test tokenizer itself", () => {
        it("rejects what would not read back as the intended text", () => {
            assert.throws(() => tokenizePowerShell("X 'it's'"), /not modelled|unterminated/);
            assert.throws(() => tokenizePowerShell("X \u2018open"), /unterminated/);
            assert.throws(() => tokenizePowerShell("X rg-(eu)"), /not modelled/);
            assert.throws(() => tokenizePowerShell("X $HOME"), /not modelled/);
            assert.throws(() => tokenizePowerShell("X 1kb"), /possibly a number/);
            assert.throws(() => tokenizePowerShell("X 'a'b"), /followed by/);
            assert.deepEqual(tokenizePowerShell("X -rg").tokens, [{ parameter: "-rg" }]);
        });
    });

    describe("buildCommandCli / buildCommandPowershell", () => {
        const pairs = groups.map((rg, i) => ({ rg, template: templates[i % templates.length] }));

        it("parse in bash and pass exactly the resource group and template name", function () {
            this.timeout(60_000);
            const commands = pairs.map(({ rg, template }) => imageBuilderRunCommands(rg, template).cli);
            for (const c of commands) bashParses(c);
            assert.deepEqual(
                bashArguments(commands),
                pairs.map(({ rg, template }) => ["image", "builder", "run", ...azArgs("--resource-group", rg), ...azArgs("--name", template)]),
            );
        });

        it("read in PowerShell as Start-AzImageBuilderTemplate with the two intended values", () => {
            for (const { rg, template } of pairs) {
                assert.deepEqual(tokenizePowerShell(imageBuilderRunCommands(rg, template).powershell), {
                    command: "Start-AzImageBuilderTemplate",
                    tokens: [{ parameter: "-ResourceGroupName" }, { argument: rg }, { parameter: "-Name" }, { argument: template }],
                });
            }
        });

        it("are what the golden-image component exports for a config-allowed resource group", async function () {
            this.timeout(60_000);
            const resourceGroupName = "-(avd)_images.test";
            const ring = singleImageRing("test", { resourceGroupName });
            const image = onlyImage(ring);
            const evaluation = await evaluate({
                project: PROJECT,
                stack: "test",
                config: {},
                secretKeys: [],
                simulation: {
                    subscriptionId: "8c6f4f2e-3a1b-4d5c-9e7f-2b1a0c9d8e7f",
                    tenantId: "0f1e2d3c-4b5a-4697-8877-665544332211",
                    stackOutputs: () => undefined,
                    commandStdout: () => "",
                },
                program: async () => {
                    const gallery = new ImageGallery("images", {
                        resourceGroupName,
                        location: ring.location,
                        galleryName: image.gallery.name,
                        imageDefinitions: { [image.name]: { definition: image.gallery, logicalSuffix: "" } },
                        tags: ring.tags,
                    });
                    const golden = new GoldenImageBuild("golden", {
                        resourceGroupName,
                        resourceGroupId: `/subscriptions/8c6f4f2e-3a1b-4d5c-9e7f-2b1a0c9d8e7f/resourceGroups/${resourceGroupName}`,
                        location: ring.location,
                        imageVersion: image.imageVersion,
                        image,
                        imageDefinitionId: gallery.imageDefinitionIds[image.name],
                        tags: ring.tags,
                    });
                    return { templateName: golden.templateName, cli: golden.buildCommandCli, powershell: golden.buildCommandPowershell };
                },
            });
            const o = evaluation.outputs as { templateName: string; cli: string; powershell: string };
            assert.equal(o.cli, `az image builder run --resource-group='-(avd)_images.test' --name ${o.templateName}`);
            assert.equal(o.powershell, `Start-AzImageBuilderTemplate -ResourceGroupName '-(avd)_images.test' -Name ${o.templateName}`);
            bashParses(o.cli);
            assert.deepEqual(bashArguments([o.cli]), [["image", "builder", "run", "--resource-group=-(avd)_images.test", "--name", o.templateName]]);
        });
    });

    describe("the tools' hints", () => {
        const names = [...groups.slice(0, 40), ...HOSTILE_NAMES];

        it("az image builder cancel, az sig image-version show and the session-host hint pass the intended values", function () {
            this.timeout(60_000);
            const commands: string[] = [];
            const expected: string[][] = [];
            names.forEach((rg, i) => {
                const other = names[(i * 7 + 3) % names.length];
                commands.push(imageBuilderCancelCommand(rg, other));
                expected.push(["image", "builder", "cancel", ...azArgs("--resource-group", rg), ...azArgs("--name", other)]);
                commands.push(galleryImageVersionShowCommand({ resourceGroupName: rg, galleryName: "avd_golden", imageDefinitionName: other, version: "1.2.0" }));
                expected.push(["sig", "image-version", "show", ...azArgs("--resource-group", rg), "--gallery-name", "avd_golden", ...azArgs("--gallery-image-definition", other), "--gallery-image-version", "1.2.0"]);
                commands.push(sessionHostAllowNewSessionCommand(rg, other, "vm-avd-prod-0.corp.contoso.com"));
                expected.push(["desktopvirtualization", "sessionhost", "update", ...azArgs("--resource-group", rg), ...azArgs("--host-pool-name", other), "--name", "vm-avd-prod-0.corp.contoso.com", "--allow-new-session", "true"]);
            });
            for (const c of commands) bashParses(c);
            assert.deepEqual(bashArguments(commands), expected);
        });

        it("keep a placeholder for what the tool does not know", () => {
            assert.equal(
                sessionHostAllowNewSessionCommand("rg-avd-(prod)", "vdpool-avd-prod"),
                "az desktopvirtualization sessionhost update --resource-group 'rg-avd-(prod)' --host-pool-name vdpool-avd-prod --name <session host> --allow-new-session true",
            );
            assert.equal(imageBuilderCancelCommand(undefined, "it-x"), "az image builder cancel --resource-group <rg> --name it-x");
        });
    });
});
