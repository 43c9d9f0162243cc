import { strict as assert } from "node:assert";
import { checkBuildResult, parseBuildResult } from "../src/aib/buildResult";
import { placeholderReleaseNotes } from "../src/lifecycle/releaseNotes";

const VERSION_ID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/d/versions/1.2.0";
const RESULT = {
    imageVersion: "1.2.0",
    imageVersionId: VERSION_ID,
    runState: "Succeeded",
    reusedExistingVersion: false,
    publishedImageVersions: ["1.10.0", "1.2.0", "1.1.0"],
    baseImageExactVersion: "26100.2314.241107",
    releaseNotes: { ...placeholderReleaseNotes("1.2.0", VERSION_ID, "no log"), baseImageExactVersion: "26100.2314.241107" },
};

describe("build tool result", () => {
    it("reads the JSON object on the last stdout line, after any other output", () => {
        const r = parseBuildResult(`starting\nwaiting\n${JSON.stringify(RESULT)}\n\n`);
        assert.equal(r.imageVersion, "1.2.0");
        assert.equal(r.reusedExistingVersion, false);
    });

    it("orders published versions numerically, ascending", () => {
        assert.deepEqual(parseBuildResult(JSON.stringify(RESULT)).publishedImageVersions, ["1.1.0", "1.2.0", "1.10.0"]);
    });

    it("fails clearly, quoting the output, when the last line is not JSON", () => {
        assert.throws(() => parseBuildResult("Build failed: AuthorizationFailed"), (err: Error) => {
            assert.match(err.message, /tools\/buildImage\.ts: its last stdout line is not JSON/);
            assert.match(err.message, /Build failed: AuthorizationFailed/);
            return true;
        });
    });

    it("fails when the tool printed nothing", () => {
        assert.throws(() => parseBuildResult(""), /printed nothing on stdout/);
    });

    it("fails when publishedImageVersions is missing or holds something other than versions", () => {
        assert.throws(() => parseBuildResult(JSON.stringify({ ...RESULT, publishedImageVersions: undefined })), /publishedImageVersions/);
        assert.throws(() => parseBuildResult(JSON.stringify({ ...RESULT, publishedImageVersions: ["latest"] })), /publishedImageVersions/);
        assert.throws(() => parseBuildResult(JSON.stringify([RESULT])), /not a JSON object/);
    });

    it("reads the base image's exact version and the release notes", () => {
        const r = parseBuildResult(JSON.stringify(RESULT));
        assert.equal(r.baseImageExactVersion, "26100.2314.241107");
        assert.equal(r.releaseNotes.imageVersion, "1.2.0");
        assert.deepEqual(r.releaseNotes.problems, ["no log"]);
        const { baseImageExactVersion: _, ...withoutExact } = RESULT;
        assert.equal(parseBuildResult(JSON.stringify(withoutExact)).baseImageExactVersion, undefined);
    });

    it("fails when the release notes are missing or malformed", () => {
        assert.throws(() => parseBuildResult(JSON.stringify({ ...RESULT, releaseNotes: undefined })), /"releaseNotes" are not release notes/);
        assert.throws(() => parseBuildResult(JSON.stringify({ ...RESULT, releaseNotes: { ...RESULT.releaseNotes, schema: 7 } })), /schema 7/);
        assert.throws(() => parseBuildResult(JSON.stringify({ ...RESULT, baseImageExactVersion: 26100 })), /baseImageExactVersion/);
        const huge = JSON.stringify({ ...RESULT, releaseNotes: { ...RESULT.releaseNotes, schema: 9, padding: "x".repeat(100_000) } });
        assert.throws(() => parseBuildResult(huge), (err: Error) => err.message.length < 2000 && /… \(\d+ characters\)/.test(err.message));
    });

    it("refuses a result for another version, or one that does not list the built version as published", () => {
        const r = parseBuildResult(JSON.stringify(RESULT));
        assert.equal(checkBuildResult(r, "1.2.0"), r);
        assert.throws(() => checkBuildResult(r, "1.3.0"), /reported image version 1\.2\.0, but this stack builds 1\.3\.0/);
        assert.throws(() => checkBuildResult({ ...r, publishedImageVersions: ["1.1.0"] }, "1.2.0"), /1\.2\.0 is not among the published versions/);
    });
});
