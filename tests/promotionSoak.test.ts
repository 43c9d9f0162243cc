import { strict as assert } from "node:assert";
import { parsePromotion, parseSignOffs, signOffFor, type PromotionPolicy } from "../src/config/promotion";
import { ConfigError, Reader } from "../src/config/reader";
import { PromotionRefusedError } from "../src/promotion/gate";
import { decideSoak, lastValidatedAt, readSignOffsOutput, requireSoaked, signOffCommands, validatedAtFrom, type SoakRequest, type UpstreamSoakFacts } from "../src/promotion/soak";

const reader = (values: Record<string, unknown>, file = "Pulumi.pilot.yaml") => Reader.root(file, "avd-image-rings", values);
const refusal = (fn: () => unknown): string => {
    try {
        fn();
    } catch (e) {
        assert.ok(e instanceof ConfigError, String(e));
        return e.message;
    }
    assert.fail("expected a ConfigError");
};

const VALIDATED_AT = "2026-12-15T10:00:00.000Z";
const upstream = (over: Partial<UpstreamSoakFacts> = {}): UpstreamSoakFacts => ({
    stack: "contoso/avd-image-rings/test",
    validatedImageVersion: "1.3.0",
    validatedAt: VALIDATED_AT,
    signOffs: {},
    ...over,
});
const request = (policy: PromotionPolicy | undefined, now: string, over: Partial<SoakRequest> = {}): SoakRequest => ({
    ring: { stack: "pilot", stackFile: "Pulumi.pilot.yaml", form: "single" },
    image: "default",
    version: "1.3.0",
    kind: "promotion",
    policy,
    upstream: upstream(),
    now: new Date(now),
    ...over,
});
const reason = (d: ReturnType<typeof decideSoak>): string => {
    assert.equal(d.allowed, false);
    return (d as { reason: string }).reason;
};

describe("promotion config: avd-image-rings:promotion and avd-image-rings:signOffs (src/config/promotion.ts)", () => {
    it("parses minSoakHours and requireSignOff with their defaults; absent means no policy", () => {
        const promoteFrom = "contoso/avd-image-rings/test";
        assert.deepEqual(parsePromotion(reader({ promotion: { minSoakHours: 48, requireSignOff: true } }), promoteFrom), { minSoakHours: 48, requireSignOff: true });
        assert.deepEqual(parsePromotion(reader({ promotion: { minSoakHours: "24" } }), promoteFrom), { minSoakHours: 24, requireSignOff: false });
        assert.equal(parsePromotion(reader({}), promoteFrom), undefined);
    });

    it("refuses promotion in the build ring, out-of-range hours and unknown keys, naming file and key", () => {
        assert.match(refusal(() => parsePromotion(reader({ promotion: { minSoakHours: 1 } }, "Pulumi.test.yaml"), undefined)), /^Pulumi\.test\.yaml: avd-image-rings:promotion is only allowed in a promoted ring/);
        assert.match(refusal(() => parsePromotion(reader({ promotion: { minSoakHours: -1 } }), "o/avd-image-rings/test")), /^Pulumi\.pilot\.yaml: avd-image-rings:promotion\.minSoakHours must be between 0 and 8760/);
        assert.match(refusal(() => parsePromotion(reader({ promotion: { minSoakHour: 4 } }), "o/avd-image-rings/test")), /avd-image-rings:promotion\.minSoakHour is not a known key \(did you mean "minSoakHours"\?\)/);
    });

    it("parses sign-offs by version or image:version, as the seed's ApprovedBy/ApprovedDate", () => {
        const signOffs = parseSignOffs(
            reader({
                signOffs: {
                    "1.3.0": { approvedBy: "John Doe", approvedDate: "2026-01-27" },
                    "win11-dev:2.1.0": { approvedBy: "Jane Roe", approvedDate: "2026-12-18T09:30:00Z" },
                },
            }),
        );
        assert.deepEqual(signOffFor(signOffs, "default", "1.3.0"), { approvedBy: "John Doe", approvedDate: "2026-01-27" });
        assert.deepEqual(signOffFor(signOffs, "win11-dev", "2.1.0"), { approvedBy: "Jane Roe", approvedDate: "2026-12-18T09:30:00Z" });
        assert.deepEqual(signOffFor(signOffs, "kiosk", "1.3.0")?.approvedBy, "John Doe", "a plain version covers every image");
        assert.equal(signOffFor(signOffs, "default", "2.1.0"), undefined, "an image's sign-off is that image's only");
        assert.deepEqual(parseSignOffs(reader({})), {});
    });

    it("refuses a bad version key, a missing approver, a malformed or impossible date", () => {
        assert.match(refusal(() => parseSignOffs(reader({ signOffs: { "1.3": { approvedBy: "a", approvedDate: "2026-12-18" } } }))), /avd-image-rings:signOffs\.1\.3 is not "<version>" or "<image>:<version>": the version must be a MAJOR\.MINOR\.PATCH/);
        assert.match(refusal(() => parseSignOffs(reader({ signOffs: { "1.3.0": { approvedDate: "2026-12-18" } } }))), /avd-image-rings:signOffs\.1\.3\.0\.approvedBy is required/);
        assert.match(refusal(() => parseSignOffs(reader({ signOffs: { "1.3.0": { approvedBy: "a", approvedDate: "18/12/2026" } } }))), /approvedDate must be a date "YYYY-MM-DD"/);
        assert.match(refusal(() => parseSignOffs(reader({ signOffs: { "1.3.0": { approvedBy: "a", approvedDate: "2026-13-45" } } }))), /approvedDate is not a real date/);
        assert.match(refusal(() => parseSignOffs(reader({ signOffs: { "1.3.0": { approvedBy: "a", approvedDate: "2026-02-30" } } }))), /approvedDate is not a real date, got "2026-02-30"/);
        assert.match(refusal(() => parseSignOffs(reader({ signOffs: { "1.3.0": "John" } }))), /signOffs\.1\.3\.0 must be \{approvedBy, approvedDate\}/);
    });
});

describe("soak time and sign-off before promotion (src/promotion/soak.ts)", () => {
    const policy = { minSoakHours: 48, requireSignOff: false };

    it("refuses before the soak is over, saying how many hours remain and when to run again", () => {
        const r = reason(decideSoak(request(policy, "2026-12-16T16:00:00Z")));
        assert.equal(
            r,
            "Pulumi.pilot.yaml: avd-image-rings:imageVersion 1.3.0 is refused: contoso/avd-image-rings/test validated 1.3.0 at 2026-12-15T10:00:00.000Z, 30.0 hours ago, and avd-image-rings:promotion.minSoakHours is 48: 18.0 hours remain (run `pulumi up -s pilot` again at or after 2026-12-17T10:00:00.000Z).",
        );
        assert.match(reason(decideSoak(request(policy, "2026-12-17T09:59:59Z"))), /0\.1 hours remain/, "a refusal never says 0.0 hours remain");
    });

    it("allows once the soak is over, and reports how long the version soaked", () => {
        assert.deepEqual(decideSoak(request(policy, "2026-12-17T10:00:00Z")), { allowed: true, soakedHours: 48 });
    });

    it("refuses when the upstream exports no validation time for the version", () => {
        const r = reason(decideSoak(request(policy, "2026-12-20T00:00:00Z", { upstream: upstream({ validatedAt: undefined }) })));
        assert.match(r, /contoso\/avd-image-rings\/test exports no validation time for 1\.3\.0 \(output validatedAt\), so its soak of 48 h .* cannot be proven/);
        assert.match(r, /pulumi up -s test --replace/);
    });

    it("refuses without a sign-off, naming the upstream stack file, the key and the exact pulumi config set commands", () => {
        const r = reason(decideSoak(request({ minSoakHours: 0, requireSignOff: true }, "2026-12-18T08:00:00Z")));
        assert.match(r, /^Pulumi\.pilot\.yaml: avd-image-rings:imageVersion 1\.3\.0 is refused: avd-image-rings:promotion\.requireSignOff is true and contoso\/avd-image-rings\/test records no sign-off for 1\.3\.0/);
        assert.match(r, /records it in Pulumi\.test\.yaml under avd-image-rings:signOffs/);
        assert.ok(r.includes("`pulumi config set --path 'avd-image-rings:signOffs[\"1.3.0\"].approvedBy' '<name of the approver>' --stack contoso/avd-image-rings/test`"), r);
        assert.ok(r.includes("`pulumi config set --path 'avd-image-rings:signOffs[\"1.3.0\"].approvedDate' 2026-12-18 --stack contoso/avd-image-rings/test`"), r);
        assert.match(r, /then `pulumi up -s test` exports it\.$/);
    });

    it("names both problems in one message when the soak is short and the sign-off missing", () => {
        const r = reason(decideSoak(request({ minSoakHours: 48, requireSignOff: true }, "2026-12-16T10:00:00Z")));
        assert.match(r, /24\.0 hours remain .*; and avd-image-rings:promotion\.requireSignOff is true/);
    });

    it("allows with the recorded sign-off, by version or image:version; a fleet image is named in the key", () => {
        const signOffs = { "1.3.0": { approvedBy: "John Doe", approvedDate: "2026-12-17" } };
        assert.deepEqual(decideSoak(request({ minSoakHours: 0, requireSignOff: true }, "2026-12-18T00:00:00Z", { upstream: upstream({ signOffs }) })), {
            allowed: true,
            signOff: signOffs["1.3.0"],
        });
        const fleet = { stack: "pilot", stackFile: "Pulumi.pilot.yaml", form: "fleet" } as const;
        const r = reason(decideSoak(request({ minSoakHours: 0, requireSignOff: true }, "2026-12-18T00:00:00Z", { ring: fleet, image: "win11-dev" })));
        assert.match(r, /^Pulumi\.pilot\.yaml: avd-image-rings:imageVersions\.win11-dev 1\.3\.0 is refused: .* no sign-off for win11-dev 1\.3\.0/);
        assert.ok(r.includes(`pulumi config set --path 'avd-image-rings:signOffs["win11-dev:1.3.0"].approvedBy' '<name of the approver>' --stack contoso/avd-image-rings/test`), r);
        assert.deepEqual(signOffCommands("o/avd-image-rings/test", "1.3.0", new Date("2026-12-18T00:00:00Z"))[1], "pulumi config set --path 'avd-image-rings:signOffs[\"1.3.0\"].approvedDate' 2026-12-18 --stack o/avd-image-rings/test");
    });

    it("never holds back a rollback, a ring without a policy, or a zero policy", () => {
        const strict = { minSoakHours: 48, requireSignOff: true };
        assert.deepEqual(decideSoak(request(strict, "2026-12-15T10:00:00Z", { kind: "rollback", version: "1.2.0" })), { allowed: true });
        assert.deepEqual(decideSoak(request(undefined, "2026-12-15T10:00:00Z")), { allowed: true });
        assert.deepEqual(decideSoak(request({ minSoakHours: 0, requireSignOff: false }, "2026-12-15T10:00:00Z")), { allowed: true });
    });

    it("requireSoaked decides every image the gate allowed and throws one PromotionRefusedError naming each held back", () => {
        const ring = { stack: "pilot", stackFile: "Pulumi.pilot.yaml", form: "fleet" as const, imageVersions: { m365: "1.3.0", cad: "2.0.0", kiosk: "1.0.0" }, promotion: policy };
        const image = (validatedImageVersion: string, validatedAt?: string) => ({ imageDefinitionId: "d", publishedImageVersions: [validatedImageVersion], validatedImageVersion, validatedAt });
        const upstreamRing = {
            stack: "contoso/avd-image-rings/test",
            galleryId: "g",
            galleryName: "g",
            images: { m365: image("1.3.0", VALIDATED_AT), cad: image("2.0.0", "2026-12-16T10:00:00.000Z"), kiosk: image("1.1.0") },
            signOffs: {},
        };
        const now = new Date("2026-12-17T12:00:00Z");
        assert.throws(
            () => requireSoaked(ring, { m365: "promotion", cad: "promotion", kiosk: "rollback" }, upstreamRing, now),
            (e: unknown) =>
                e instanceof PromotionRefusedError &&
                /^Pulumi\.pilot\.yaml: avd-image-rings:imageVersions\.cad 2\.0\.0 is refused: .*22\.0 hours remain/.test(e.message) &&
                !/m365|kiosk/.test(e.message),
        );
        assert.doesNotThrow(() => requireSoaked(ring, { m365: "promotion", cad: "promotion" }, upstreamRing, new Date("2026-12-18T10:00:00Z")));
    });

    it("an image counts as validated when the last of its pools' gates passed; a pool without a time leaves it unknown", () => {
        assert.equal(lastValidatedAt(["2026-12-15T10:00:00.000Z", "2026-12-15T12:30:00.000Z"]), "2026-12-15T12:30:00.000Z");
        assert.equal(lastValidatedAt(["2026-12-15T10:00:00.000Z", undefined]), undefined);
        assert.equal(lastValidatedAt([]), undefined);
    });

    it("reads validatedAt from the health gate's last JSON line; a result without it gives none", () => {
        const line = (o: object) => `probing...\n${JSON.stringify(o)}\n`;
        assert.equal(validatedAtFrom(line({ validatedImageVersion: "1.3.0", validatedAt: VALIDATED_AT })), VALIDATED_AT);
        assert.equal(validatedAtFrom(line({ validatedImageVersion: "1.3.0" })), undefined);
        assert.equal(validatedAtFrom(line({ validatedImageVersion: "1.3.0", validatedAt: "yesterday" })), undefined);
        assert.throws(() => validatedAtFrom("no result"), /did not print its result as a JSON object/);
    });

    it("reads the upstream's signOffs output: none exported yet is {}, a malformed one is refused as undefined", () => {
        const signOffs = { "1.3.0": { approvedBy: "John Doe", approvedDate: "2026-12-17" } };
        assert.deepEqual(readSignOffsOutput(signOffs), signOffs);
        assert.deepEqual(readSignOffsOutput(undefined), {});
        assert.equal(readSignOffsOutput(["1.3.0"]), undefined);
        assert.equal(readSignOffsOutput({ "1.3.0": { approvedBy: "John Doe" } }), undefined);
    });
});
