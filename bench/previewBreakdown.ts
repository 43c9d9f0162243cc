// Where the offline preview's time goes, measured inside one fresh process (run by
// bench/previewLatency.ts as `tsx bench/previewBreakdown.ts`): start-up to this script, module
// loads (the SDK, the azure-native submodules, then the program with the preview modules), the
// policy pack's start-up, program evaluation per stack (cold, then the build ring again warm)
// and policy analysis per stack. The steps run one after another, unlike the CLI, which
// overlaps the pack's start-up with loading and evaluation. Then the program's rings as synthetic
// fleets (bench/syntheticFleet.ts: 1 image x 1 pool and 10 images x 20 pools per ring), evaluated and
// analyzed the same way in the now warm process. The last line of stdout is JSON.
import { performance } from "node:perf_hooks";
import { PROGRAM_AZURE_NATIVE_SUBMODULES as AZURE_NATIVE_SUBMODULES } from "./previewLatency";
import { evaluateFleet, FLEET_SHAPES, shapeName } from "./syntheticFleet";

const atScript = performance.now();

async function timed<T>(what: () => Promise<T>): Promise<[T, number]> {
    const start = performance.now();
    const value = await what();
    return [value, performance.now() - start];
}

async function main(): Promise<void> {
    // require(), as the CLI's compiled imports do (a dynamic import() would take tsx's slower ESM path).
    const [, loadPulumiMs] = await timed(async () => require("@pulumi/pulumi") as unknown);
    const [, loadAzureNativeMs] = await timed(async () => AZURE_NATIVE_SUBMODULES.map((m) => require(`@pulumi/azure-native/${m}`) as unknown));
    const [modules, loadProgramMs] = await timed(async () => {
        const cli: typeof import("../preview/cli") = require("../preview/cli");
        const engine: typeof import("../preview/engine") = require("../preview/engine");
        const runner: typeof import("../preview/policyRunner") = require("../preview/policyRunner");
        const stackConfig: typeof import("../preview/stackConfig") = require("../preview/stackConfig");
        const commands: typeof import("../preview/commands") = require("../preview/commands");
        const program: typeof import("../index") = require("../index");
        return { cli, engine, runner, stackConfig, commands, program };
    });
    const { cli, engine, runner, stackConfig, commands, program } = modules;

    const [pack, packStartupMs] = await timed(async () => {
        const handle = runner.startPolicyPack();
        // Zero resources: the calls return at once once the pack serves, so this is its start-up.
        await handle.analyze([], { stack: "test", config: null });
        return handle;
    });

    const stacks = ["test", "pilot", "prod"];
    const dir = cli.parseArgs(["--stack", stacks.join(",")], process.cwd()).dir;
    const configs = stacks.map((s) => stackConfig.readStackConfig(dir, s));
    const galleryVersions = cli.offlineGalleryVersions(configs);
    const validatedAt = cli.offlineValidatedAt(configs, new Date());
    const outputs = new Map<string, Record<string, unknown>>();
    const evaluateOne = (cfg: (typeof configs)[number]) =>
        engine.evaluate({
            project: cfg.project,
            stack: cfg.stack,
            config: cfg.config,
            secretKeys: cfg.secretKeys,
            program,
            simulation: {
                subscriptionId: cli.OFFLINE_SUBSCRIPTION_ID,
                tenantId: cli.OFFLINE_TENANT_ID,
                stackOutputs: (name) => outputs.get(name.split("/")[2] ?? ""),
                commandStdout: (args) => commands.simulatedCommandStdout(args, galleryVersions, validatedAt),
            },
        });

    const evaluateMs: Record<string, number> = {};
    const analyzeMs: Record<string, number> = {};
    const resources: Record<string, number> = {};
    const violations: Record<string, number> = {};
    const fleet: Record<string, { resources: Record<string, number>; evaluateMs: Record<string, number>; analyzeMs: Record<string, number> }> = {};
    let packCloseMs = NaN;
    try {
        for (const cfg of configs) {
            const [evaluation, ms] = await timed(() => evaluateOne(cfg));
            evaluateMs[cfg.stack] = ms;
            outputs.set(cfg.stack, evaluation.outputs);
            resources[cfg.stack] = evaluation.resources.length;
            const [found, aMs] = await timed(() => pack.analyze(evaluation.resources, { stack: cfg.stack }));
            analyzeMs[cfg.stack] = aMs;
            violations[cfg.stack] = found.length;
        }
        const [, warmMs] = await timed(() => evaluateOne(configs[0]));
        evaluateMs[`${configs[0].stack} (again, warm)`] = warmMs;
        for (const shape of FLEET_SHAPES) {
            const rings = await evaluateFleet(shape, configs);
            const fleetAnalyzeMs: Record<string, number> = {};
            for (const ring of rings) fleetAnalyzeMs[ring.stack] = (await timed(() => pack.analyze(ring.resources, { stack: ring.stack })))[1];
            fleet[shapeName(shape)] = {
                resources: Object.fromEntries(rings.map((r) => [r.stack, r.resources.length])),
                evaluateMs: Object.fromEntries(rings.map((r) => [r.stack, r.evaluateMs])),
                analyzeMs: fleetAnalyzeMs,
            };
        }
    } finally {
        const [, closeMs] = await timed(() => pack.close());
        packCloseMs = closeMs;
    }

    // The CLI's own path in this (now warm) process: pack start-up overlapped with evaluation, then close.
    const runPreviewMs: Record<string, number> = {};
    for (const set of [["prod"], stacks]) {
        const [outcome, ms] = await timed(() => cli.runPreview(cli.parseArgs(["--stack", set.join(",")], dir)));
        if (outcome.exitCode === 2) throw new Error(`runPreview ${set.join(",")} failed: ${outcome.reports.map((r) => r.error?.message ?? "").join("; ")}`);
        runPreviewMs[set.join(",")] = ms;
    }

    const result = {
        startupToScriptMs: atScript,
        loadPulumiMs,
        loadAzureNativeMs,
        azureNativeSubmodules: AZURE_NATIVE_SUBMODULES,
        loadProgramMs,
        packStartupMs,
        evaluateMs,
        analyzeMs,
        resources,
        violations,
        packCloseMs,
        runPreviewWarmMs: runPreviewMs,
        fleet,
        totalMs: performance.now(),
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().then(
    () => process.exit(0),
    (err: unknown) => {
        process.stderr.write(`preview breakdown failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
        process.exit(1);
    },
);
