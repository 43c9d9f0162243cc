// `npm run config-diff -- --base <stack file> --head <stack file> [--stack <name>]`
// Prints, as Markdown, what changes in the build ring's images between two versions of its stack
// file (the pull request's base, e.g. `git show <base>:Pulumi.test.yaml > base.yaml`, and its head):
// version bump, Chocolatey packages, script steps and their checksums, PowerShell modules, base
// image, Windows Update settings. Both files are validated by the program's own config parser first.
// An empty base file stands for a ring that did not exist at the base. `--stack` names the ring
// (default: from the head's file name Pulumi.<stack>.yaml, else "test").
// Exit 0 = printed; 2 = bad arguments or a configuration the program would refuse (one message).
import { readFileSync, existsSync } from "node:fs";
import { basename } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError } from "../src/config/reader";
import { diffRingImages, renderConfigDiff, ringImages, type ImageSnapshot } from "../src/lifecycle/configDiff";
import { ringConfigFromText } from "../src/lifecycle/stackFile";
import { runScript, UsageError, type ScriptIo } from "./scriptIo";

const USAGE = "usage: npm run config-diff -- --base <stack file> --head <stack file> [--stack <name>]";

function images(side: "base" | "head", path: string, stack: string): Record<string, ImageSnapshot> {
    if (!existsSync(path)) throw new UsageError(`--${side} ${path}: no such file`);
    const text = readFileSync(path, "utf8");
    if (side === "base" && text.trim() === "") return {};
    try {
        return ringImages(ringConfigFromText(text, stack, path));
    } catch (err) {
        if (err instanceof ConfigError) throw new ConfigError(`${side} (${path}): ${err.message}`, { file: path, key: err.key });
        throw err;
    }
}

export function main(argv: string[], io: ScriptIo): number {
    const { values } = parseArgs({
        args: argv,
        options: { base: { type: "string" }, head: { type: "string" }, stack: { type: "string" } },
        strict: true,
        allowPositionals: false,
    });
    if (!values.base || !values.head) throw new UsageError(`--base and --head are required\n${USAGE}`);
    const stack = values.stack ?? /^Pulumi\.([A-Za-z0-9_.-]+)\.yaml$/.exec(basename(values.head))?.[1] ?? "test";
    const diffs = diffRingImages(images("base", values.base, stack), images("head", values.head, stack));
    io.stdout(renderConfigDiff(diffs, `Image configuration change in Pulumi.${stack}.yaml`).trimEnd());
    return 0;
}

if (require.main === module) runScript("config-diff", USAGE, (argv, io) => main(argv, io));
