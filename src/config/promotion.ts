// Soak time and sign-off before promotion (seed 001 phase 2: validate for a day or two, then the
// pilot users' sign-off; seed 004's pre-publish checklist). Two keys:
// - `avd-image-rings:promotion: {minSoakHours, requireSignOff}` in a promoted ring's stack file: what
//   this ring demands of a version before it runs it.
// - `avd-image-rings:signOffs: {"<version>" | "<image>:<version>": {approvedBy, approvedDate}}` in the
//   ring that validates the version (the upstream of the ring that demands it): who approved it and
//   when, as the seed's ApprovedBy/ApprovedDate tags; the ring exports them for the next ring.
import { galleryVersionProblem, rules } from "./parse";
import type { Reader } from "./reader";

export interface PromotionPolicy {
    /** Hours since the upstream ring validated the version before this ring may run it; 0 = none. */
    minSoakHours: number;
    /** The upstream ring's stack file must record who approved the version (signOffs). */
    requireSignOff: boolean;
}

export interface SignOff {
    approvedBy: string;
    /** `YYYY-MM-DD` or an ISO 8601 time, as written. */
    approvedDate: string;
}

/** Sign-offs by key as written: `X.Y.Z` (any image of the ring) or `<image>:X.Y.Z`. */
export type SignOffs = Record<string, SignOff>;

/** A year of soak is already far beyond any image's monthly cycle; more is a typo. */
export const MAX_SOAK_HOURS = 8760;

const APPROVED_DATE = {
    pattern: /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/,
    hint: 'must be a date "YYYY-MM-DD" or an ISO 8601 time such as "2026-12-18T09:30:00Z"',
};
const IMAGE_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9])?$/;

/** `promotion` of a promoted ring; undefined when absent (no soak, no sign-off). */
export function parsePromotion(r: Reader, promoteFrom: string | undefined): PromotionPolicy | undefined {
    const p = r.optObj("promotion");
    if (!p) return undefined;
    if (!promoteFrom) {
        r.fail("promotion", "is only allowed in a promoted ring (one with promoteFrom): the build ring runs what it builds, there is no upstream ring to soak in or sign off");
    }
    const policy: PromotionPolicy = {
        minSoakHours: p.int("minSoakHours", { min: 0, max: MAX_SOAK_HOURS }, 0),
        requireSignOff: p.bool("requireSignOff", false),
    };
    p.done();
    return policy;
}

/** The date of a sign-off as a time: a plain date means the start of that UTC day. */
function approvedTime(signOff: SignOff): number {
    return Date.parse(signOff.approvedDate.length === 10 ? `${signOff.approvedDate}T00:00:00Z` : signOff.approvedDate);
}

/** The `YYYY-MM-DD` part names a day that exists (Date.parse accepts February 30th). */
function realCalendarDay(text: string): boolean {
    const [y, m, d] = text.slice(0, 10).split("-").map(Number);
    const day = new Date(Date.UTC(y, m - 1, d));
    return day.getUTCFullYear() === y && day.getUTCMonth() === m - 1 && day.getUTCDate() === d;
}

/** `signOffs` of any ring; `{}` when absent. */
export function parseSignOffs(r: Reader): SignOffs {
    const out: SignOffs = {};
    for (const [key, value, map] of r.entries("signOffs")) {
        const colon = key.lastIndexOf(":");
        const [image, version] = colon >= 0 ? [key.slice(0, colon), key.slice(colon + 1)] : [undefined, key];
        if (image !== undefined && !IMAGE_NAME.test(image)) map.fail(key, `is not "<version>" or "<image>:<version>": "${image}" is not an image name`);
        const problem = galleryVersionProblem(version);
        if (problem) map.fail(key, `is not "<version>" or "<image>:<version>": the version ${problem}`);
        if (typeof value !== "object" || value === null || Array.isArray(value)) map.fail(key, "must be {approvedBy, approvedDate}");
        const s = map.obj(key);
        const signOff: SignOff = { approvedBy: s.str("approvedBy", rules.text), approvedDate: s.str("approvedDate", APPROVED_DATE) };
        if (!realCalendarDay(signOff.approvedDate) || Number.isNaN(approvedTime(signOff))) s.fail("approvedDate", `is not a real date, got ${JSON.stringify(signOff.approvedDate)}`);
        s.done();
        out[key] = signOff;
    }
    return out;
}

/** The sign-off recorded for `image`'s `version`: the image-specific key first, then the plain version. */
export function signOffFor(signOffs: SignOffs, image: string, version: string): SignOff | undefined {
    return signOffs[`${image}:${version}`] ?? signOffs[version];
}

/** A sign-off for `<image>:<version>` of an image this ring does not run would never match: refused. */
export function checkSignOffImages(r: Reader, signOffs: SignOffs, images: readonly string[]): void {
    for (const key of Object.keys(signOffs)) {
        const colon = key.lastIndexOf(":");
        if (colon < 0) continue;
        const image = key.slice(0, colon);
        if (!images.includes(image)) r.fail(`signOffs.${key}`, `names the image "${image}", which this ring does not run (its images: ${images.join(", ")})`);
    }
}
