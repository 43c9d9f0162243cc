// Benchmark 2: type-check cost. Wall time and peak RSS of `tsc --noEmit -p .` and
// `tsc --noEmit -p policy`, and, in the same runs, two tiny generated programs that declare the
// same six resources (one from each azure-native submodule the program uses) under the
// project's compiler options: one imports the azure-native root module, the other the
// submodules. Peak RSS comes from a reporter preloaded into tsc's node process. The same
// comparison is made at run time (node loading either form, plain and under tsx's hooks, as
// the preview and the deploy-time tools run), so the README can say what the choice buys.
import * as fs from "node:fs";
import * as path from "node:path";
import { log, makeTempDir, median, PROJECT_DIR, rotated, round, runChild, table, TSC, verdict, writeMaxRssReporter } from "./measure";
import { PROGRAM_AZURE_NATIVE_SUBMODULES } from "./previewLatency";

const SECONDS_TARGET = 20;
const MEMORY_TARGET_MB = 1536;

/** The six resources, written once with `ns(module)` standing for how each form reaches a submodule. */
function tinyProgram(ns: (module: string) => string): string {
    return `const rg = new ${ns("resources")}.ResourceGroup("rg", { location: "westeurope" });
const identity = new ${ns("managedidentity")}.UserAssignedIdentity("id", { resourceGroupName: rg.name });
export const assignment = new ${ns("authorization")}.RoleAssignment("ra", {
    principalId: identity.principalId,
    principalType: "ServicePrincipal",
    roleDefinitionId: "/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7",
    scope: rg.id,
});
export const template = new ${ns("virtualmachineimages")}.VirtualMachineImageTemplate("it", {
    resourceGroupName: rg.name,
    identity: { type: "UserAssigned", userAssignedIdentities: [identity.id] },
    source: { type: "PlatformImage", publisher: "MicrosoftWindowsDesktop", offer: "office-365", sku: "win11-24h2-avd-m365", version: "latest" },
    distribute: [{ type: "SharedImage", galleryImageId: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/d/versions/1.0.0", runOutputName: "r" }],
});
export const pool = new ${ns("desktopvirtualization")}.HostPool("hp", {
    resourceGroupName: rg.name,
    hostPoolType: "Pooled",
    loadBalancerType: "BreadthFirst",
    preferredAppGroupType: "Desktop",
});
export const scaleSet = new ${ns("compute")}.VirtualMachineScaleSet("vmss", {
    resourceGroupName: rg.name,
    sku: { name: "Standard_D8s_v5", capacity: 2 },
    upgradePolicy: { mode: "Manual" },
    virtualMachineProfile: { storageProfile: { imageReference: { id: template.id }, osDisk: { createOption: "FromImage", diskSizeGB: 128 } } },
});
`;
}

const ROOT_PROGRAM = `import * as azure from "@pulumi/azure-native";\n${tinyProgram((m) => `azure.${m}`)}`;
const SUBMODULE_PROGRAM = `${PROGRAM_AZURE_NATIVE_SUBMODULES.map((m) => `import * as ${m} from "@pulumi/azure-native/${m}";`).join("\n")}\n${tinyProgram((m) => m)}`;

interface ProjectCompilerOptions {
    compilerOptions: Record<string, unknown>;
}

/** A directory holding one program and a tsconfig with the project's compiler options, node_modules linked in. */
function programDir(tmp: string, name: string, source: string): string {
    const dir = path.join(tmp, name);
    fs.mkdirSync(dir);
    const project = JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, "tsconfig.json"), "utf8")) as ProjectCompilerOptions;
    fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { ...project.compilerOptions, outDir: "bin" }, include: ["main.ts"] }, null, 2));
    fs.writeFileSync(path.join(dir, "main.ts"), source);
    fs.symlinkSync(path.join(PROJECT_DIR, "node_modules"), path.join(dir, "node_modules"), "dir");
    return dir;
}

interface TypecheckCandidate {
    name: string;
    project: string;
    /** Whether the < 20 s / < 1.5 GB targets apply. */
    targeted: boolean;
}

export interface TypecheckCandidateResult {
    medianSeconds: number;
    medianMaxRssMb: number;
    runsSeconds: number[];
    runsMaxRssMb: number[];
    exitCodes: number[];
    /** `error TS` lines in the last run (others may be editing the tree while the bench runs). */
    errors: number;
    targets?: { seconds: number; memoryMb: number; secondsMet: boolean; memoryMet: boolean };
}

export interface RuntimeLoadResult {
    medianMs: number;
    medianMaxRssMb: number;
}

export interface TypecheckResult {
    runs: number;
    candidates: Record<string, TypecheckCandidateResult>;
    /** Root over submodule imports, for the generated programs: time and peak memory ratios. */
    rootOverSubmodules: { typecheckTime: number; typecheckMemory: number; loadTime: number; loadTimeUnderTsx: number; loadMemory: number };
    runtimeLoad: Record<string, RuntimeLoadResult>;
    failures: string[];
}

export async function benchTypecheck(runs: number): Promise<TypecheckResult> {
    const tmp = makeTempDir("typecheck");
    const reporter = writeMaxRssReporter(tmp);
    const rootDir = programDir(tmp, "root-import", ROOT_PROGRAM);
    const subDir = programDir(tmp, "submodule-imports", SUBMODULE_PROGRAM);
    const candidates: TypecheckCandidate[] = [
        { name: "tsc --noEmit -p .", project: PROJECT_DIR, targeted: true },
        { name: "tsc --noEmit -p policy", project: path.join(PROJECT_DIR, "policy"), targeted: true },
        { name: "tiny program, root import (azure.compute...)", project: rootDir, targeted: false },
        { name: "tiny program, submodule imports", project: subDir, targeted: false },
    ];
    const rootLoad = `const azure = require("@pulumi/azure-native"); for (const m of ${JSON.stringify(PROGRAM_AZURE_NATIVE_SUBMODULES)}) void azure[m];`;
    const subLoad = `for (const m of ${JSON.stringify(PROGRAM_AZURE_NATIVE_SUBMODULES)}) require("@pulumi/azure-native/" + m);`;
    const tsxHook = require.resolve("tsx/cjs");
    const loads = [
        { name: "node: require root @pulumi/azure-native", args: ["-e", rootLoad] },
        { name: "node: require the six submodules", args: ["-e", subLoad] },
        { name: "node + tsx hooks: require root", args: ["--require", tsxHook, "-e", rootLoad] },
        { name: "node + tsx hooks: require the six submodules", args: ["--require", tsxHook, "-e", subLoad] },
    ];
    const seconds = new Map<string, number[]>();
    const rss = new Map<string, number[]>();
    const exits = new Map<string, number[]>();
    const errors = new Map<string, number>();
    const failures: string[] = [];
    const push = (m: Map<string, number[]>, k: string, v: number) => m.set(k, [...(m.get(k) ?? []), v]);

    for (let r = 0; r < runs; r++) {
        log(`type-check: run ${r + 1}/${runs}`);
        const order = rotated([...candidates.map((c) => c.name), ...loads.map((l) => l.name)], r);
        for (const name of order) {
            const c = candidates.find((x) => x.name === name);
            const l = loads.find((x) => x.name === name);
            const res = c
                ? await runChild(process.execPath, ["--require", reporter, TSC, "--noEmit", "-p", c.project], { timeoutMs: 300_000 })
                : await runChild(process.execPath, ["--require", reporter, ...(l?.args ?? [])], { cwd: PROJECT_DIR });
            if (l && res.exitCode !== 0) {
                failures.push(`${name} run ${r + 1}: exit ${res.exitCode}: ${res.stderr.trim().slice(-300)}`);
                continue;
            }
            if (c) {
                push(exits, name, res.exitCode);
                errors.set(name, (res.stdout.match(/error TS\d+/g) ?? []).length);
                if (res.exitCode !== 0 && !c.targeted) failures.push(`${name} run ${r + 1}: the generated program does not type-check: ${res.stdout.trim().slice(0, 500)}`);
            }
            push(seconds, name, res.wallMs / 1000);
            if (res.maxRssMb !== undefined) push(rss, name, res.maxRssMb);
        }
    }

    const result: Record<string, TypecheckCandidateResult> = {};
    for (const c of candidates) {
        const s = round(median(seconds.get(c.name) ?? []), 2);
        const m = round(median(rss.get(c.name) ?? []), 0);
        result[c.name] = {
            medianSeconds: s,
            medianMaxRssMb: m,
            runsSeconds: (seconds.get(c.name) ?? []).map((x) => round(x, 2)),
            runsMaxRssMb: (rss.get(c.name) ?? []).map((x) => round(x, 0)),
            exitCodes: exits.get(c.name) ?? [],
            errors: errors.get(c.name) ?? 0,
            targets: c.targeted ? { seconds: SECONDS_TARGET, memoryMb: MEMORY_TARGET_MB, secondsMet: s < SECONDS_TARGET, memoryMet: m < MEMORY_TARGET_MB } : undefined,
        };
    }
    const runtimeLoad: Record<string, RuntimeLoadResult> = {};
    for (const l of loads) runtimeLoad[l.name] = { medianMs: round(median((seconds.get(l.name) ?? []).map((x) => x * 1000))), medianMaxRssMb: round(median(rss.get(l.name) ?? []), 0) };
    const ratio = (a: number, b: number) => round(a / b, 2);
    const [root, sub] = [result[candidates[2].name], result[candidates[3].name]];
    const [lRoot, lSub, tRoot, tSub] = loads.map((l) => runtimeLoad[l.name]);
    fs.rmSync(tmp, { recursive: true, force: true });
    return {
        runs,
        candidates: result,
        rootOverSubmodules: {
            typecheckTime: ratio(root.medianSeconds, sub.medianSeconds),
            typecheckMemory: ratio(root.medianMaxRssMb, sub.medianMaxRssMb),
            loadTime: ratio(lRoot.medianMs, lSub.medianMs),
            loadTimeUnderTsx: ratio(tRoot.medianMs, tSub.medianMs),
            loadMemory: ratio(lRoot.medianMaxRssMb, lSub.medianMaxRssMb),
        },
        runtimeLoad,
        failures,
    };
}

export function renderTypecheck(r: TypecheckResult): string {
    const tsc = table(
        `Type-check cost (median of ${r.runs} interleaved runs)`,
        ["command", "wall", "peak RSS", "target", "verdict", "exit / errors"],
        Object.entries(r.candidates).map(([name, c]) => [
            name,
            `${c.medianSeconds} s`,
            `${c.medianMaxRssMb} MB`,
            c.targets ? `< ${c.targets.seconds} s, < ${c.targets.memoryMb} MB` : "-",
            c.targets ? `${verdict(c.targets.secondsMet)} / ${verdict(c.targets.memoryMet)}` : "-",
            `${c.exitCodes.join(",")} / ${c.errors}`,
        ]),
    );
    const load = table(
        "Loading azure-native at run time (median)",
        ["how", "wall", "peak RSS"],
        Object.entries(r.runtimeLoad).map(([name, l]) => [name, `${l.medianMs} ms`, `${l.medianMaxRssMb} MB`]),
    );
    const x = r.rootOverSubmodules;
    const summary = `Root import over submodule imports: type-check ${x.typecheckTime}x time, ${x.typecheckMemory}x memory; load ${x.loadTime}x time (${x.loadTimeUnderTsx}x under tsx), ${x.loadMemory}x memory.`;
    return [tsc, load, summary, ...(r.failures.length ? [`failures:\n  ${r.failures.join("\n  ")}`] : [])].join("\n\n");
}
