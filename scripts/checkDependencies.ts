// `npm run check-deps [-- --releases]`: fails when a direct dependency of the program or of the
// policy pack is not pinned exactly, is deprecated on the registry, or (for a Pulumi provider
// package) installs a plugin version the registry gives no reason to believe was released.
//
// The mock engine never loads provider plugins, so a mis-published provider version passes every
// offline test and breaks the first real `pulumi up` (the brief's known pitfall; @pulumi/command
// 4.5.0 was one). What each check proves is printed with its result and listed in README.md
// "Deploying for real".
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import * as semver from "semver";

/** One direct dependency as a manifest pins it. */
export interface Pin {
    manifest: string;
    name: string;
    spec: string;
}

/** The fields of `npm view <name>@<version> --json` this check reads (the published manifest). */
export interface RegistryAnswer {
    version?: string;
    deprecated?: string | boolean;
    "dist-tags"?: Record<string, string>;
    pulumi?: { resource?: boolean; name?: string; version?: string; server?: string };
    scripts?: Record<string, string>;
    repository?: string | { url?: string };
}

export interface ProviderPlugin {
    name: string;
    /** The version the package installs, without a leading `v`; undefined when it declares none. */
    version?: string;
    /** A third-party plugin server (`pulumi.server`); undefined for the provider's own releases. */
    server?: string;
}

export interface Finding {
    pin: Pin;
    ok: boolean;
    /** What was established, one line each; failures first. */
    problems: string[];
    proven: string[];
    plugin?: ProviderPlugin;
    repository?: string;
}

const INSTALL_SCRIPT = /install-pulumi-plugin\.js\s+resource\s+(\S+)\s+(\S+)/;

/** The plugin a provider package installs, from its `pulumi` manifest field or its install script. */
export function providerPlugin(answer: RegistryAnswer): ProviderPlugin | undefined {
    const script = Object.values(answer.scripts ?? {})
        .map((s) => INSTALL_SCRIPT.exec(s))
        .find((m) => m !== null);
    if (answer.pulumi?.resource !== true && !script) return undefined;
    const fromField = answer.pulumi?.version;
    const fromScript = script?.[2];
    const version = (fromField ?? fromScript)?.replace(/^v/, "");
    return { name: answer.pulumi?.name ?? script?.[1] ?? "", version, server: answer.pulumi?.server };
}

function repositoryUrl(answer: RegistryAnswer): string | undefined {
    const raw = typeof answer.repository === "string" ? answer.repository : answer.repository?.url;
    return raw?.replace(/^git\+/, "").replace(/\.git$/, "");
}

/** Judges one pin against the registry's answer for exactly that version. Pure: no I/O. */
export function judge(pin: Pin, answer: RegistryAnswer | undefined): Finding {
    const problems: string[] = [];
    const proven: string[] = [];
    const finding = (): Finding => ({ pin, ok: problems.length === 0, problems, proven, plugin, repository: answer ? repositoryUrl(answer) : undefined });
    let plugin: ProviderPlugin | undefined;

    if (semver.valid(pin.spec) === null) {
        problems.push(`pinned as "${pin.spec}", not an exact version: a fresh install could resolve a different (or deprecated) release; pin it with npm install --save-exact`);
        return finding();
    }
    if (!answer || answer.version !== pin.spec) {
        problems.push(`the registry has no version ${pin.spec}`);
        return finding();
    }
    proven.push(`${pin.spec} is published`);
    if (answer.deprecated) {
        problems.push(`${pin.spec} is deprecated on the registry: "${String(answer.deprecated)}"`);
    } else {
        proven.push("not deprecated");
    }

    plugin = providerPlugin(answer);
    if (plugin) {
        const latest = answer["dist-tags"]?.latest;
        if (plugin.version === undefined) {
            problems.push(`provider package whose published manifest declares no plugin version`);
        } else if (plugin.version !== pin.spec) {
            problems.push(`installs the ${plugin.name} plugin v${plugin.version}, not v${pin.spec}: provider packages ship the plugin of their own version`);
        } else {
            proven.push(`its published manifest installs the ${plugin.name} plugin v${plugin.version}, the package's own version`);
        }
        if (latest === undefined || semver.valid(latest) === null) {
            problems.push("the registry gives no latest release to compare with");
        } else if (semver.gt(pin.spec, latest)) {
            problems.push(
                `${pin.spec} is newer than the registry's latest release ${latest}: provider releases are tagged latest when published, so this one was published out of line and its plugin release may not exist`,
            );
        } else {
            proven.push(`not newer than the latest release ${latest}`);
        }
        if (plugin.server) proven.push(`plugin served from ${plugin.server}`);
    }
    return finding();
}

/** Direct dependencies of one manifest (dependencies and devDependencies). */
export function pinsOf(manifest: string, pkg: { dependencies?: Record<string, string>; devDependencies?: Record<string, string> }): Pin[] {
    return Object.entries({ ...pkg.dependencies, ...pkg.devDependencies }).map(([name, spec]) => ({ manifest, name, spec }));
}

/** The provider's release page for the plugin version, from the repository the package names. */
export function releaseUrl(finding: Finding): string | undefined {
    if (!finding.plugin?.version || finding.plugin.server || !finding.repository?.includes("github.com/")) return undefined;
    return `${finding.repository}/releases/tag/v${finding.plugin.version}`;
}

const run = promisify(execFile);

/** `npm view <pkg>@<version> --json` through the npm CLI, so the user's registry settings apply. */
async function npmView(name: string, version: string): Promise<RegistryAnswer | undefined> {
    try {
        const { stdout } = await run("npm", ["view", `${name}@${version}`, "--json"], { timeout: 20_000, maxBuffer: 16 * 1024 * 1024 });
        const parsed: unknown = stdout.trim() ? JSON.parse(stdout) : undefined;
        // A range matching several versions answers a list; an exact pin answers one object.
        return (Array.isArray(parsed) ? parsed.at(-1) : parsed) as RegistryAnswer | undefined;
    } catch (err) {
        const text = err instanceof Error ? err.message : String(err);
        if (/E404|404 Not Found|is not in this registry/.test(text)) return undefined;
        throw new Error(`npm view ${name}@${version} failed: ${text.split("\n")[0]}`);
    }
}

/** Whether the provider's release page answers; undefined when the network does not reach it. */
async function releaseExists(url: string): Promise<boolean | undefined> {
    try {
        const res = await fetch(url, { method: "HEAD", redirect: "follow", signal: AbortSignal.timeout(10_000) });
        if (res.status === 404) return false;
        return res.ok ? true : undefined;
    } catch {
        return undefined;
    }
}

async function main(argv: string[]): Promise<number> {
    const releases = argv.includes("--releases");
    const unknown = argv.filter((a) => a !== "--releases");
    if (unknown.length > 0) {
        process.stderr.write(`unknown argument "${unknown[0]}"\nusage: npm run check-deps [-- --releases]\n`);
        return 2;
    }
    const root = join(__dirname, "..");
    const pins = ["package.json", "policy/package.json"].flatMap((manifest) => pinsOf(manifest, JSON.parse(readFileSync(join(root, manifest), "utf8"))));
    // One `npm view` per distinct name@version, all at once: the check stays well under 30 s.
    const answers = new Map<string, Promise<RegistryAnswer | undefined>>();
    for (const pin of pins) {
        const key = `${pin.name}@${pin.spec}`;
        if (semver.valid(pin.spec) !== null && !answers.has(key)) answers.set(key, npmView(pin.name, pin.spec));
    }
    const findings = await Promise.all(pins.map(async (pin) => judge(pin, await answers.get(`${pin.name}@${pin.spec}`))));

    if (releases) {
        await Promise.all(
            findings.map(async (f) => {
                const url = releaseUrl(f);
                if (!url) return;
                const exists = await releaseExists(url);
                if (exists === false) f.problems.push(`the provider has no release v${f.plugin?.version} (${url} answers 404)`);
                else if (exists === true) f.proven.push(`the provider's release v${f.plugin?.version} exists (${url})`);
                else f.proven.push(`release page not reachable from here; not checked (${url})`);
                f.ok = f.problems.length === 0;
            }),
        );
    }
    for (const f of findings) {
        const head = `${f.ok ? "ok  " : "FAIL"} ${f.pin.name}@${f.pin.spec} (${f.pin.manifest})`;
        process.stdout.write(`${head}${f.ok ? `: ${f.proven.join("; ")}` : ""}\n`);
        for (const p of f.problems) process.stdout.write(`       ${p}\n`);
    }
    const failed = findings.filter((f) => !f.ok).length;
    process.stdout.write(
        `\ncheck-deps: ${findings.length - failed} of ${findings.length} direct dependencies ok${failed ? `, ${failed} not` : ""}\n` +
            "Registry evidence only: a provider version that is published, not deprecated, installs the plugin of its own version and\n" +
            "is not newer than the latest release is one Pulumi released through its normal pipeline; it does not prove the plugin\n" +
            `binary can be downloaded${releases ? "" : " (run with --releases where GitHub is reachable to check each provider's release)"}.\n`,
    );
    return failed === 0 ? 0 : 1;
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => process.exit(code),
        (err: unknown) => {
            process.stderr.write(`check-deps: ${err instanceof Error ? err.message : String(err)}\n`);
            process.exit(2);
        },
    );
}
