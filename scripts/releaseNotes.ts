// `npm run release-notes -- --stack test [--image <name>] [--version X.Y.Z] [--from <json file>] [--previous <json file>]`:
// the release notes of the build ring's newest version as Markdown, on stdout.
//
// Where the notes come from:
// - `--from <file>`: offline. The file holds the notes themselves, the build tool's JSON result
//   (`{..., releaseNotes}`), or the stack's outputs as `pulumi stack output --json --stack <ring>`
//   prints them (`images.<name>.releaseNotes` or `builds.<name>.releaseNotes`, or a top-level `releaseNotes`).
// - otherwise: `pulumi stack output --json --stack <ring>` is run (needs the Pulumi CLI and a login).
// The stack output holds the newest build's notes only; keep each version's notes file (e.g. as a
// workflow artifact) to render or compare older ones.
// `--previous <file>`: the previous version's full notes; the change list is then computed from them
// (applications and modules included) instead of the summary tags the build compared with.
// `--version X.Y.Z` refuses notes of another version, so a script never publishes the wrong ones.
//
// Exit 0: printed. 2: bad arguments, no notes for that image or version, unreadable input.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { renderReleaseNotes } from "../src/lifecycle/markdown";
import { diffReleaseNotes, parseReleaseNotes, type ReleaseNotes } from "../src/lifecycle/releaseNotes";
import type { Io } from "../tools/shared/tool";

const USAGE = "usage: npm run release-notes -- --stack <ring> [--image <name>] [--version X.Y.Z] [--from <notes or stack-output json>] [--previous <notes json>]";

class InputError extends Error {}

interface Args {
    stack: string;
    image?: string;
    version?: string;
    from?: string;
    previous?: string;
}

function parseArgs(argv: readonly string[]): Args {
    const args: Partial<Args> = {};
    const flags: Record<string, keyof Args> = { "--stack": "stack", "--image": "image", "--version": "version", "--from": "from", "--previous": "previous" };
    for (let i = 0; i < argv.length; i++) {
        const key = flags[argv[i]];
        const value = argv[i + 1];
        if (!key) throw new InputError(`unknown argument ${JSON.stringify(argv[i])}`);
        if (value === undefined || value.startsWith("--")) throw new InputError(`${argv[i]} needs a value`);
        args[key] = value;
        i++;
    }
    if (!args.stack) throw new InputError("--stack is required");
    if (args.version !== undefined && !/^\d+\.\d+\.\d+$/.test(args.version)) throw new InputError(`--version must be MAJOR.MINOR.PATCH, got ${JSON.stringify(args.version)}`);
    return { ...args, stack: args.stack };
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Release notes by image name in any of the accepted documents. */
export function notesIn(doc: unknown): Map<string, unknown> {
    const found = new Map<string, unknown>();
    if (!isRecord(doc)) return found;
    if (typeof doc.imageVersion === "string" && isRecord(doc.config)) found.set("default", doc);
    else if (isRecord(doc.releaseNotes)) found.set("default", doc.releaseNotes);
    // images.<name>.releaseNotes (the promotion contract), or builds.<name>.releaseNotes (the build ring's handles).
    for (const map of [doc.builds, doc.images]) {
        if (!isRecord(map)) continue;
        for (const [name, entry] of Object.entries(map)) {
            if (isRecord(entry) && isRecord(entry.releaseNotes)) found.set(name, entry.releaseNotes);
        }
    }
    return found;
}

function readJson(file: string, what: string): unknown {
    let text: string;
    try {
        text = readFileSync(file, "utf8");
    } catch (e) {
        throw new InputError(`cannot read ${what} ${file}: ${e instanceof Error ? e.message : String(e)}`);
    }
    try {
        return JSON.parse(text) as unknown;
    } catch {
        throw new InputError(`${what} ${file} is not JSON`);
    }
}

export type StackOutputReader = (stack: string) => Promise<unknown>;

const run = promisify(execFile);

const pulumiStackOutput: StackOutputReader = async (stack) => {
    try {
        const { stdout } = await run("pulumi", ["stack", "output", "--json", "--stack", stack], { maxBuffer: 64 * 1024 * 1024 });
        return JSON.parse(stdout) as unknown;
    } catch (e) {
        const reason = e instanceof Error ? e.message.split("\n")[0] : String(e);
        throw new InputError(`could not read the stack outputs with the Pulumi CLI (${reason}); save them with \`pulumi stack output --json --stack ${stack} > outputs.json\` and pass --from outputs.json`);
    }
};

function pick(doc: unknown, args: Args, where: string): ReleaseNotes {
    const all = notesIn(doc);
    if (all.size === 0) throw new InputError(`${where} holds no release notes (expected the notes, the build result, or stack outputs with images.<name>.releaseNotes)`);
    const name = args.image ?? (all.size === 1 ? [...all.keys()][0] : undefined);
    if (name === undefined) throw new InputError(`${where} holds release notes of several images (${[...all.keys()].join(", ")}); choose one with --image`);
    const raw = all.get(name);
    if (raw === undefined) throw new InputError(`${where} holds no release notes for image ${JSON.stringify(name)} (it has ${[...all.keys()].join(", ")})`);
    let notes: ReleaseNotes;
    try {
        notes = parseReleaseNotes(raw);
    } catch (e) {
        throw new InputError(`${where}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (args.version && notes.imageVersion !== args.version) {
        throw new InputError(`${where} holds the notes of ${notes.imageVersion}, not ${args.version}; the stack output keeps only the newest build's notes, so render ${args.version} from the notes file saved when it was built`);
    }
    return notes;
}

export async function main(argv: readonly string[], io: Io, readStackOutput: StackOutputReader = pulumiStackOutput): Promise<number> {
    try {
        const args = parseArgs(argv);
        const doc = args.from ? readJson(args.from, "--from") : await readStackOutput(args.stack);
        let notes = pick(doc, args, args.from ?? `the outputs of stack ${args.stack}`);
        if (args.previous) {
            const previous = pick(readJson(args.previous, "--previous"), { ...args, version: undefined }, args.previous);
            notes = { ...notes, changes: diffReleaseNotes(previous, notes) };
        }
        const definition = notes.imageVersionId.match(/\/images\/([^/]+)\/versions\//i)?.[1];
        io.stdout(renderReleaseNotes(notes, definition ?? `${args.image ?? "image"}`).trimEnd());
        return 0;
    } catch (e) {
        io.stderr(`release-notes: ${e instanceof Error ? e.message : String(e)}`);
        if (e instanceof InputError && /--stack is required|unknown argument|needs a value/.test(e.message)) io.stderr(USAGE);
        return 2;
    }
}

if (require.main === module) {
    const io: Io = { stdout: (l) => process.stdout.write(`${l}\n`), stderr: (l) => process.stderr.write(`${l}\n`) };
    void main(process.argv.slice(2), io).then((code) => {
        process.exitCode = code;
    });
}
