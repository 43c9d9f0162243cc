import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

const ROOT = join(__dirname, "..");
const read = (path: string): unknown => parse(readFileSync(join(ROOT, path), "utf8"));

type Step = { name?: string; uses?: string; run?: string; if?: string; with?: Record<string, unknown>; "working-directory"?: string };
type Job = {
    if?: string;
    uses?: string;
    with?: Record<string, unknown>;
    secrets?: unknown;
    concurrency?: { group: string; "cancel-in-progress": boolean };
    environment?: string;
    "timeout-minutes"?: unknown;
    permissions?: Record<string, string>;
    env?: Record<string, string>;
    steps?: Step[];
};
type Workflow = { on: Record<string, unknown>; permissions?: Record<string, string>; jobs: Record<string, Job> };

const deploy = read(".github/workflows/deploy.yml") as Workflow;
const up = read(".github/workflows/pulumi-up.yml") as Workflow;
const preview = read(".github/workflows/preview.yml") as Workflow;
const sdkVersion = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies["@pulumi/pulumi"];
const upJob = up.jobs.up;
const upSteps = upJob.steps ?? [];

function stackValue(stack: string, path: string[]): unknown {
    const doc = read(`Pulumi.${stack}.yaml`) as { config: Record<string, unknown> };
    return path.reduce<unknown>((v, k) => (v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined), doc.config);
}

describe("deploy workflow (.github/workflows/deploy.yml and pulumi-up.yml)", () => {
    it("deploys test on every merge to main, pilot and prod only by manual dispatch", () => {
        assert.deepEqual(deploy.on.push, { branches: ["main"] });
        const dispatch = deploy.on.workflow_dispatch as { inputs: { ring: { options: string[] } } };
        assert.deepEqual(dispatch.inputs.ring.options, ["pilot", "prod"]);
        assert.match(deploy.jobs.test.if ?? "", /github\.event_name == 'push'/);
        assert.match(deploy.jobs.pilot.if ?? "", /workflow_dispatch' && inputs\.ring == 'pilot'/);
        assert.match(deploy.jobs.prod.if ?? "", /workflow_dispatch' && inputs\.ring == 'prod'/);
    });

    it("runs each ring through the reusable pulumi up in that ring's GitHub Environment", () => {
        for (const ring of ["test", "pilot", "prod"]) {
            const job = deploy.jobs[ring];
            assert.equal(job.uses, "./.github/workflows/pulumi-up.yml");
            assert.equal(job.with?.ring, ring);
            assert.equal(job.secrets, "inherit");
        }
        assert.equal(upJob.environment, "${{ inputs.ring }}", "required reviewers of the pilot and prod environments gate the job");
    });

    it("one run per stack at a time, never cancelling one in progress", () => {
        for (const ring of ["test", "pilot", "prod"]) {
            assert.deepEqual(deploy.jobs[ring].concurrency, { group: `pulumi-up-${ring}`, "cancel-in-progress": false });
        }
    });

    it("signs in with OIDC: id-token: write, ARM_USE_OIDC and the ARM_* ids, no client secret", () => {
        assert.equal(deploy.permissions?.["id-token"], "write");
        assert.equal(up.permissions?.["id-token"], "write");
        const env = upJob.env ?? {};
        assert.equal(env.ARM_USE_OIDC, "true");
        for (const key of ["ARM_CLIENT_ID", "ARM_TENANT_ID", "ARM_SUBSCRIPTION_ID"]) assert.ok(env[key], `${key} is set`);
        assert.ok(!("ARM_CLIENT_SECRET" in env));
    });

    it("runs pulumi/actions@v7 with the CLI version matching @pulumi/pulumi, on Node 24", () => {
        const actions = upSteps.filter((s) => s.uses?.startsWith("pulumi/actions"));
        assert.ok(actions.length >= 1);
        for (const s of actions) {
            assert.equal(s.uses, "pulumi/actions@v7");
            assert.equal(String(s.with?.["pulumi-version"]), sdkVersion);
        }
        assert.equal(upSteps.find((s) => s.uses?.startsWith("actions/setup-node"))?.with?.["node-version"], 24);
        const upStep = actions.find((s) => s.with?.command === "up");
        assert.ok(upStep, "a step runs `pulumi up`");
        assert.equal(upStep.with?.["stack-name"], "${{ env.STACK }}");
        assert.equal(upJob.env?.STACK, "${{ vars.PULUMI_ORG }}/avd-image-rings/${{ inputs.ring }}");
    });

    it("runs the policy pack with the ring's own config", () => {
        const upStep = upSteps.find((s) => s.with?.command === "up");
        assert.equal(upStep?.with?.policyPacks, "policy");
        assert.equal(upStep?.with?.policyPackConfigs, "policy/config/${{ inputs.ring }}.json");
        for (const ring of ["test", "pilot", "prod"]) readFileSync(join(ROOT, `policy/config/${ring}.json`));
        assert.ok(upSteps.some((s) => s.run === "npm ci" && s["working-directory"] === "policy"), "the pack's own dependencies are installed");
    });

    it("prod's job limit exceeds the rollout's maxRunMinutes by the setup margin and stays under GitHub's 6 h", () => {
        // The rollout stops cleanly between batches at maxRunMinutes; the job must outlive it, or
        // GitHub kills `pulumi up` mid-batch. The pools roll out side by side (no dependency between
        // them), so the longest pool's time box counts; 300 is what Pulumi.prod.yaml sets for office.
        const pools = stackValue("prod", ["avd-image-rings:hostPools"]) as Record<string, { rollout?: { maxRunMinutes?: number } }>;
        const maxRunMinutes = Math.max(...Object.values(pools).map((p) => Number(p.rollout?.maxRunMinutes ?? 300)));
        const timeout = Number(deploy.jobs.prod.with?.["timeout-minutes"]);
        assert.ok(timeout >= maxRunMinutes + 30, `timeout ${timeout} leaves at least 30 minutes over maxRunMinutes ${maxRunMinutes}`);
        assert.ok(timeout < 360, "under the 6 h limit of GitHub-hosted runners");
        assert.equal(upJob["timeout-minutes"], "${{ inputs.timeout-minutes }}");
    });

    it("test's job limit exceeds the AIB build timeout its stack file sets, under 6 h", () => {
        // The images build side by side: the longest build counts.
        const images = stackValue("test", ["avd-image-rings:images"]) as Record<string, { build?: { timeoutMinutes?: number } }>;
        const buildTimeout = Math.max(...Object.values(images).map((i) => Number(i.build?.timeoutMinutes ?? 240)));
        const timeout = Number(deploy.jobs.test.with?.["timeout-minutes"]);
        assert.ok(timeout > buildTimeout, `timeout ${timeout} > build timeout ${buildTimeout}`);
        assert.ok(timeout < 360);
    });

    it("a re-run recovers the interrupted update before pulumi up, so it resumes", () => {
        const recover = upSteps.findIndex((s) => s.run?.includes("npm run --silent recover-update -- --stack \"$STACK\""));
        const upIndex = upSteps.findIndex((s) => s.with?.command === "up");
        assert.ok(recover >= 0 && recover < upIndex, "recovery runs before `pulumi up`");
        assert.match(upSteps[recover].if ?? "", /github\.run_attempt > 1/);
        const scripts = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
        assert.equal(scripts["recover-update"], "tsx scripts/recoverInterruptedUpdate.ts");
    });

    it("the pull-request preview uses the same action, CLI version and Node 24", () => {
        const steps = preview.jobs.cloud.steps ?? [];
        const action = steps.find((s) => s.uses?.startsWith("pulumi/actions"));
        assert.equal(action?.uses, "pulumi/actions@v7");
        assert.equal(String(action?.with?.["pulumi-version"]), sdkVersion);
        for (const job of Object.values(preview.jobs)) {
            assert.equal((job.steps ?? []).find((s) => s.uses?.startsWith("actions/setup-node"))?.with?.["node-version"], 24);
        }
    });
});
