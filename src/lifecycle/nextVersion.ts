// The monthly version bump of the build ring's stack file (seed 001 "Versioning"): semantic
// (`1.3.0` after `1.2.x`) or date-based (`2026.12.0`, `2026.12.1` for a second build that month).
// The file is edited in place, only the version scalars change: comments, quoting and layout
// stay as the engineer wrote them, so the pull request's diff is the bump and nothing else.
import * as semver from "semver";
import { isMap, isScalar, parseDocument, type Scalar } from "yaml";
import { galleryVersionProblem, PROJECT } from "../config/parse";
import { ConfigError } from "../config/reader";

export type VersionScheme = "minor" | "date";
export const VERSION_SCHEMES: readonly VersionScheme[] = ["minor", "date"];

/** The single form's key and the fleet's map of image name -> version. */
export const SINGLE_KEY = `${PROJECT}:imageVersion`;
export const FLEET_KEY = `${PROJECT}:imageVersions`;
/** The image name the single form stands for (a one-image fleet). */
export const DEFAULT_IMAGE = "default";

/**
 * The version after `current` in `scheme`, never lower than `current`. Date-based versions are
 * YEAR.MONTH.N of `today` (UTC) without leading zeros, which Azure's gallery refuses.
 */
export function nextImageVersion(current: string, scheme: VersionScheme, today: Date): string {
    const problem = galleryVersionProblem(current);
    if (problem) throw new Error(`the current version ${problem}`);
    const v = semver.parse(current) as semver.SemVer;
    let next: string;
    if (scheme === "minor") {
        next = `${v.major}.${v.minor + 1}.0`;
    } else {
        const [year, month] = [today.getUTCFullYear(), today.getUTCMonth() + 1];
        next = `${year}.${month}.0`;
        if (v.major === year && v.minor === month) next = `${year}.${month}.${v.patch + 1}`;
        else if (semver.lte(next, current)) {
            throw new Error(`the date-based version for ${year}-${String(month).padStart(2, "0")} is ${next}, lower than the current ${current}; versions never go down (use --scheme minor)`);
        }
    }
    const nextProblem = galleryVersionProblem(next);
    if (nextProblem) throw new Error(`the next version ${nextProblem}`);
    return next;
}

export interface VersionBump {
    image: string;
    /** Full key path in the stack file, e.g. `avd-image-rings:imageVersions.win11`. */
    key: string;
    from: string;
    to: string;
}

export interface BumpOptions {
    scheme: VersionScheme;
    today: Date;
    /** Bump only this image; default every image of the ring. */
    image?: string;
}

/** The scalar's new source text in the quoting the file already uses. */
function quoted(node: Scalar, value: string): string {
    if (node.type === "QUOTE_DOUBLE") return JSON.stringify(value);
    if (node.type === "QUOTE_SINGLE") return `'${value}'`;
    return value;
}

/**
 * Bumps the image version(s) of a build ring's stack file text (`file` names it in errors).
 * Returns the new text and what changed; throws ConfigError naming the file and key.
 */
export function bumpStackFile(text: string, file: string, opts: BumpOptions): { text: string; bumps: VersionBump[] } {
    const doc = parseDocument(text);
    if (doc.errors.length > 0) throw new ConfigError(`${file}: not valid YAML: ${doc.errors[0].message.split("\n")[0]}`, { file });
    const config = doc.get("config", true);
    if (!isMap(config)) throw new ConfigError(`${file}: has no config: mapping`, { file });
    const promoteFrom = config.get(`${PROJECT}:promoteFrom`);
    if (typeof promoteFrom === "string" && promoteFrom !== "") {
        throw new ConfigError(
            `${file}: ${PROJECT}:promoteFrom is set (${promoteFrom}): this is a promoted ring, whose versions are promoted by hand to what its upstream ring validated; next-version bumps the build ring (the ring without promoteFrom)`,
            { file, key: `${PROJECT}:promoteFrom` },
        );
    }

    const targets: Array<{ image: string; key: string; node: unknown }> = [];
    if (config.has(SINGLE_KEY)) targets.push({ image: DEFAULT_IMAGE, key: SINGLE_KEY, node: config.get(SINGLE_KEY, true) });
    const fleet = config.get(FLEET_KEY, true);
    if (fleet !== undefined) {
        if (!isMap(fleet)) throw new ConfigError(`${file}: ${FLEET_KEY} must be a map of image name -> version`, { file, key: FLEET_KEY });
        for (const pair of fleet.items) {
            const name = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
            targets.push({ image: name, key: `${FLEET_KEY}.${name}`, node: pair.value });
        }
    }
    if (targets.length === 0) throw new ConfigError(`${file}: sets neither ${SINGLE_KEY} nor ${FLEET_KEY}; there is no version to bump`, { file, key: SINGLE_KEY });
    const chosen = opts.image === undefined ? targets : targets.filter((t) => t.image === opts.image);
    if (chosen.length === 0) {
        throw new ConfigError(`${file}: has no image "${opts.image}"; its images are ${targets.map((t) => t.image).join(", ")}`, { file, key: FLEET_KEY });
    }

    const edits: Array<{ start: number; end: number; text: string }> = [];
    const bumps: VersionBump[] = [];
    for (const t of chosen) {
        const node = t.node;
        if (!isScalar(node) || typeof node.value !== "string" || !node.range) {
            throw new ConfigError(`${file}: ${t.key} must be a version string such as "1.2.0"`, { file, key: t.key });
        }
        let to: string;
        try {
            to = nextImageVersion(node.value, opts.scheme, opts.today);
        } catch (err) {
            throw new ConfigError(`${file}: ${t.key}: ${err instanceof Error ? err.message : String(err)}`, { file, key: t.key });
        }
        edits.push({ start: node.range[0], end: node.range[1], text: quoted(node, to) });
        bumps.push({ image: t.image, key: t.key, from: node.value, to });
    }
    let out = text;
    for (const e of [...edits].sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.text + out.slice(e.end);

    // The edit went through source ranges; read it back, so a surprise in the file's layout cannot
    // produce a file that says something else.
    const check = parseDocument(out);
    for (const b of bumps) {
        const path = b.key === SINGLE_KEY ? ["config", SINGLE_KEY] : ["config", FLEET_KEY, b.image];
        if (check.errors.length > 0 || check.getIn(path) !== b.to) throw new Error(`${file}: rewriting ${b.key} to ${b.to} did not read back as written`);
    }
    return { text: out, bumps };
}
