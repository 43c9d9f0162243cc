// The promoted ring's own conditions on top of "the upstream ring validated it" (gate.ts): a
// minimum soak time since that validation and an explicit sign-off recorded upstream. Pure: the
// upstream facts and the time come in, a decision with one actionable message comes out.
import { signOffFor, type PromotionPolicy, type SignOff, type SignOffs } from "../config/promotion";
import { PROJECT } from "../config/parse";
import { lastJsonLine } from "../rollout/commands";
import { imageVersionKey, PromotionRefusedError, type PromotedRing, type PromotionKind, type UpstreamRing } from "./gate";

const HOUR_MS = 60 * 60 * 1000;

/** What the upstream ring exports about one image, as far as soak and sign-off need it. */
export interface UpstreamSoakFacts {
    /** Fully-qualified upstream stack (promoteFrom). */
    stack: string;
    /** The version the upstream ring validated last; undefined until its health gate first passes. */
    validatedImageVersion?: string;
    /** When its health gate validated that version (ISO 8601); undefined from a ring deployed before it was recorded. */
    validatedAt?: string;
    /** The upstream ring's `signOffs`. */
    signOffs: SignOffs;
}

export interface SoakRequest {
    ring: PromotedRing;
    /** The image, by its fleet name (`default` for the single form). */
    image: string;
    /** The version this ring pins for the image; gate.ts already allowed it. */
    version: string;
    /** gate.ts's verdict: a rollback to an older version is never held back. */
    kind: PromotionKind;
    policy: PromotionPolicy | undefined;
    upstream: UpstreamSoakFacts;
    now: Date;
}

export type SoakDecision = { allowed: true; signOff?: SignOff; soakedHours?: number } | { allowed: false; reason: string };

const short = (stack: string): string => stack.split("/").pop() ?? stack;
/** Hours with one decimal, rounded up for what remains so "0.0 hours remain" is never said of a refusal. */
const hours = (ms: number, up = false): string => ((up ? Math.ceil(ms / (HOUR_MS / 10)) : Math.floor(ms / (HOUR_MS / 10))) / 10).toFixed(1);

/** The `signOffs` key a sign-off is best recorded under: the version in the single form, `<image>:<version>` in a fleet. */
export function signOffKey(ring: Pick<PromotedRing, "form">, image: string, version: string): string {
    return ring.form === "single" ? version : `${image}:${version}`;
}

/** The `pulumi config set` commands that record a sign-off under `key` in the upstream ring's stack file. */
export function signOffCommands(upstreamStack: string, key: string, today: Date): string[] {
    const path = `${PROJECT}:signOffs["${key}"]`;
    return [
        `pulumi config set --path '${path}.approvedBy' '<name of the approver>' --stack ${upstreamStack}`,
        `pulumi config set --path '${path}.approvedDate' ${today.toISOString().slice(0, 10)} --stack ${upstreamStack}`,
    ];
}

/**
 * Whether the ring may run `version` now: the upstream ring validated it at least minSoakHours ago
 * and, when required, someone approved it in the upstream ring's stack file. Both problems are named
 * in one message when both apply. Rollbacks and rings without a policy pass.
 */
export function decideSoak(req: SoakRequest): SoakDecision {
    const { policy, upstream, version, image } = req;
    if (!policy || req.kind === "rollback" || (policy.minSoakHours === 0 && !policy.requireSignOff)) return { allowed: true };
    const where = `${req.ring.stackFile}: ${imageVersionKey(req.ring, image)} ${version}`;
    const upstreamFile = `Pulumi.${short(upstream.stack)}.yaml`;
    const problems: string[] = [];
    let soakedHours: number | undefined;

    if (policy.minSoakHours > 0) {
        const at = upstream.validatedImageVersion === version && upstream.validatedAt ? Date.parse(upstream.validatedAt) : NaN;
        if (Number.isNaN(at)) {
            problems.push(
                `${upstream.stack} exports no validation time for ${version} (output validatedAt), so its soak of ${policy.minSoakHours} h (${PROJECT}:promotion.minSoakHours) cannot be proven; a ring deployed before validation times were recorded has none: re-run its health gate with \`pulumi up -s ${short(upstream.stack)} --replace <URN of its health-gate command>\` and let the soak start then`,
            );
        } else {
            const soakedMs = req.now.getTime() - at;
            const remainingMs = policy.minSoakHours * HOUR_MS - soakedMs;
            soakedHours = Math.max(0, soakedMs) / HOUR_MS;
            if (remainingMs > 0) {
                problems.push(
                    `${upstream.stack} validated ${version} at ${new Date(at).toISOString()}, ${hours(Math.max(0, soakedMs))} hours ago, and ${PROJECT}:promotion.minSoakHours is ${policy.minSoakHours}: ${hours(remainingMs, true)} hours remain (run \`pulumi up -s ${req.ring.stack}\` again at or after ${new Date(at + policy.minSoakHours * HOUR_MS).toISOString()})`,
                );
            }
        }
    }

    const signOff = signOffFor(upstream.signOffs, image, version);
    if (policy.requireSignOff && !signOff) {
        problems.push(
            `${PROJECT}:promotion.requireSignOff is true and ${upstream.stack} records no sign-off for ${req.ring.form === "single" ? version : `${image} ${version}`}: the approver of the version in the ${short(upstream.stack)} ring (the sign-off of the pre-publish checklist) records it in ${upstreamFile} under ${PROJECT}:signOffs, e.g. ${signOffCommands(upstream.stack, signOffKey(req.ring, image, version), req.now).map((c) => `\`${c}\``).join(" and ")}, then \`pulumi up -s ${short(upstream.stack)}\` exports it`,
        );
    }

    if (problems.length > 0) return { allowed: false, reason: `${where} is refused: ${problems.join("; and ")}.` };
    return { allowed: true, ...(signOff ? { signOff } : {}), ...(soakedHours !== undefined ? { soakedHours } : {}) };
}

/**
 * Decides every image the promotion gate allowed (`kinds`, from requirePromotable) and throws one
 * PromotionRefusedError (exit 1 offline, the CLI's plain message) naming each image held back.
 */
export function requireSoaked(
    ring: PromotedRing & { imageVersions: Record<string, string>; promotion?: PromotionPolicy },
    kinds: Record<string, PromotionKind>,
    upstream: UpstreamRing,
    now: Date,
): void {
    const refused: string[] = [];
    for (const [image, kind] of Object.entries(kinds)) {
        const facts = upstream.images[image];
        const decision = decideSoak({
            ring,
            image,
            version: ring.imageVersions[image],
            kind,
            policy: ring.promotion,
            upstream: { stack: upstream.stack, validatedImageVersion: facts?.validatedImageVersion, validatedAt: facts?.validatedAt, signOffs: upstream.signOffs },
            now,
        });
        if (!decision.allowed) refused.push(decision.reason);
    }
    if (refused.length > 0) throw new PromotionRefusedError(refused.join("\n"));
}

/**
 * When an image counts as validated by all the pools running it: the last of their gates' times
 * (never earlier than the truth, so a soak is never cut short); undefined when any pool has none.
 */
export function lastValidatedAt(times: ReadonlyArray<string | undefined>): string | undefined {
    if (times.length === 0 || times.some((t) => t === undefined || Number.isNaN(Date.parse(t)))) return undefined;
    return new Date(Math.max(...(times as string[]).map((t) => Date.parse(t)))).toISOString();
}

/**
 * When the health gate passed, from its result (the last JSON line of its stdout); undefined for a
 * result recorded before the gate reported it, which the soak check then refuses to guess.
 */
export function validatedAtFrom(stdout: string): string | undefined {
    const at = lastJsonLine(stdout, "the health gate (tools/healthGate.ts)").validatedAt;
    return typeof at === "string" && !Number.isNaN(Date.parse(at)) ? at : undefined;
}

/**
 * The `signOffs` output of an upstream ring: `{}` when it exports none yet (a ring deployed before
 * sign-offs were exported has nothing recorded either); undefined when it is not that shape.
 */
export function readSignOffsOutput(value: unknown): SignOffs | undefined {
    if (value === undefined || value === null) return {};
    if (typeof value !== "object" || Array.isArray(value)) return undefined;
    const out: SignOffs = {};
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
        const s = v as Partial<SignOff> | null;
        if (!s || typeof s.approvedBy !== "string" || typeof s.approvedDate !== "string") return undefined;
        out[key] = { approvedBy: s.approvedBy, approvedDate: s.approvedDate };
    }
    return out;
}
