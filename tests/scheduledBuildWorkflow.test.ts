import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

const ROOT = join(__dirname, "..");
const read = (path: string): unknown => parse(readFileSync(join(ROOT, path), "utf8"));

type Step = { name?: string; id?: string; uses?: string; run?: string; if?: string; with?: Record<string, unknown>; env?: Record<string, string> };
type Job = { "runs-on"?: string; "timeout-minutes"?: number; env?: Record<string, string>; steps: Step[] };
type Workflow = { on: Record<string, unknown>; permissions?: Record<string, string>; concurrency?: { group: string; "cancel-in-progress": boolean }; env?: Record<string, string>; jobs: Record<string, Job> };

const scheduled = read(".github/workflows/scheduled-build.yml") as Workflow;
const preview = read(".github/workflows/preview.yml") as Workflow;
const deploy = read(".github/workflows/deploy.yml") as Workflow;
const scripts = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
const steps = scheduled.jobs.bump.steps;
const stepIndex = (pred: (s: Step) => boolean): number => steps.findIndex(pred);
const byId = (id: string): Step => {
    const s = steps.find((x) => x.id === id);
    assert.ok(s, `a step with id ${id}`);
    return s;
};
const BUILD_DUE = "steps.due.outputs.build == 'true'";

describe("scheduled build workflow (.github/workflows/scheduled-build.yml)", () => {
    it("runs daily by cron (cron cannot say second Tuesday + 7) and by manual dispatch with a version scheme", () => {
        const schedule = scheduled.on.schedule as Array<{ cron: string }>;
        assert.equal(schedule.length, 1);
        const [minute, hour, dom, month, dow] = schedule[0].cron.split(" ");
        assert.ok(/^\d+$/.test(minute) && /^\d+$/.test(hour), "one fixed time a day");
        assert.deepEqual([dom, month, dow], ["*", "*", "*"], "every day: the script decides which day builds");
        const dispatch = scheduled.on.workflow_dispatch as { inputs: { scheme: { options: string[]; default: string } } };
        assert.deepEqual(dispatch.inputs.scheme.options, ["minor", "date"]);
        assert.equal(dispatch.inputs.scheme.default, "minor");
        assert.deepEqual(scheduled.concurrency, { group: "scheduled-build", "cancel-in-progress": false });
    });

    it("decides with patch-tuesday --check, or the dispatch, and otherwise asks check-base-image", () => {
        const schedule = byId("schedule");
        assert.match(schedule.run ?? "", /npm run -s patch-tuesday -- --check/);
        assert.match(schedule.run ?? "", /workflow_dispatch/);
        assert.equal(scripts["patch-tuesday"], "tsx scripts/patchTuesday.ts");
        const base = byId("base-image");
        assert.match(base.run ?? "", /npm run -s check-base-image -- --stack "\$BUILD_STACK"/);
        assert.match(base.run ?? "", /1\) echo "due=true"/, "exit 1 (a newer marketplace image) makes a build due");
        assert.match(base.if ?? "", /steps\.schedule\.outputs\.due != 'true'/, "asked only when the schedule did not already decide");
        assert.match(base.if ?? "", /vars\.AZURE_CLIENT_ID != ''/, "only where Azure credentials are configured");
        assert.equal(scheduled.env?.BUILD_STACK, "test");
        assert.ok(stepIndex((s) => s.id === "schedule") < stepIndex((s) => s.id === "base-image"));
        assert.ok(stepIndex((s) => s.id === "base-image") < stepIndex((s) => s.id === "due"));
    });

    it("signs in to Azure with OIDC like the deploy workflow, no client secret", () => {
        assert.equal(scheduled.permissions?.["id-token"], "write");
        const env = scheduled.jobs.bump.env ?? {};
        assert.equal(env.ARM_USE_OIDC, "true");
        for (const key of ["ARM_CLIENT_ID", "ARM_TENANT_ID", "ARM_SUBSCRIPTION_ID"]) assert.ok(env[key], key);
        assert.ok(!("ARM_CLIENT_SECRET" in env));
    });

    it("every later step runs only when a build is due; the bump uses next-version on the build ring", () => {
        const due = stepIndex((s) => s.id === "due");
        for (const s of steps.slice(due + 1)) {
            assert.ok((s.if ?? "").includes(BUILD_DUE) || (s.if ?? "").includes("steps.pr.outputs.pull-request-number"), `${s.name} is guarded`);
        }
        const bump = byId("bump");
        assert.match(bump.run ?? "", /npm run -s next-version -- --stack "\$BUILD_STACK" --scheme "\$SCHEME"/);
        assert.match(bump.env?.SCHEME ?? "", /inputs\.scheme \|\| vars\.IMAGE_VERSION_SCHEME \|\| 'minor'/);
        assert.equal(scripts["next-version"], "tsx scripts/nextVersion.ts");
    });

    it("opens one pull request on a fixed branch with only the stack file, through a pinned action", () => {
        const pr = byId("pr");
        assert.equal(pr.uses, "peter-evans/create-pull-request@v7");
        assert.equal(pr.with?.branch, "scheduled-build/${{ env.BUILD_STACK }}");
        assert.equal(pr.with?.base, "main");
        assert.equal(pr.with?.["add-paths"], "Pulumi.${{ env.BUILD_STACK }}.yaml");
        assert.match(String(pr.with?.title), /steps\.bump\.outputs\.summary/);
        assert.equal(scheduled.permissions?.contents, "write");
        assert.equal(scheduled.permissions?.["pull-requests"], "write");
        for (const s of steps.filter((x) => x.uses)) assert.match(s.uses ?? "", /@v\d+$/, `${s.uses} is pinned to a major version`);
    });

    it("comments the same offline policy preview as preview.yml, under the same marker, plus the config diff", () => {
        const offline = preview.jobs.offline.steps;
        const previewRun = offline.find((s) => s.name === "Preview all rings")?.run ?? "";
        const command = /npm run --silent preview -- --stack test,pilot,prod --format markdown/;
        assert.match(previewRun, command);
        const mine = byId("preview");
        assert.match(mine.run ?? "", command);
        assert.match(mine.run ?? "", /npm run -s config-diff -- --base "\$RUNNER_TEMP\/base\.yaml" --head "Pulumi\.\$BUILD_STACK\.yaml"/);
        const marker = "<!-- avd-image-rings-preview -->";
        const comment = steps.find((s) => s.uses === "actions/github-script@v7");
        assert.ok(String(comment?.with?.script).includes(marker));
        assert.ok(String(offline.find((s) => s.uses === "actions/github-script@v7")?.with?.script).includes(marker), "preview.yml updates the same comment");
        assert.equal(comment?.env?.PR_NUMBER, "${{ steps.pr.outputs.pull-request-number }}");
    });

    it("fails the run after commenting when the preview finds a mandatory violation, a refused promotion or an error", () => {
        const last = steps[steps.length - 1];
        assert.equal(last.run, "exit ${{ steps.preview.outputs.exit }}");
        assert.ok(stepIndex((s) => s.id === "pr") < steps.length - 1);
    });

    it("leaves the build to deploy.yml: merging to main runs pulumi up -s test", () => {
        assert.deepEqual(deploy.on.push, { branches: ["main"] });
        assert.ok(!steps.some((s) => s.uses?.startsWith("pulumi/actions") && s.with?.command), "the scheduled workflow itself never runs pulumi up");
    });

    it("Node 24 and the Pulumi CLI version matching @pulumi/pulumi, as the other workflows", () => {
        assert.equal(steps.find((s) => s.uses === "actions/setup-node@v4")?.with?.["node-version"], 24);
        const sdk = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies["@pulumi/pulumi"];
        assert.equal(String(steps.find((s) => s.uses === "pulumi/actions@v7")?.with?.["pulumi-version"]), sdk);
    });
});

describe("preview workflow: the config change of the build ring's images in the pull-request comment", () => {
    const offline = preview.jobs.offline.steps;
    it("diffs Pulumi.test.yaml at the pull request's base against the previewed head, before commenting", () => {
        const i = offline.findIndex((s) => (s.run ?? "").includes("npm run -s config-diff"));
        assert.ok(i >= 0);
        const run = offline[i].run ?? "";
        assert.equal(offline[i].env?.BASE_SHA, "${{ github.event.pull_request.base.sha }}");
        assert.match(run, /git fetch --no-tags --depth=1 origin "\$BASE_SHA"/);
        assert.match(run, /git show "\$BASE_SHA:Pulumi\.test\.yaml"/);
        assert.match(run, /--head Pulumi\.test\.yaml --stack test > config-diff\.md/);
        const comment = offline.findIndex((s) => s.uses === "actions/github-script@v7");
        assert.ok(i < comment);
        assert.match(String(offline[comment].with?.script), /readFileSync\("config-diff\.md", "utf8"\)/);
        assert.equal(scripts["config-diff"], "tsx scripts/configDiff.ts");
    });
});
