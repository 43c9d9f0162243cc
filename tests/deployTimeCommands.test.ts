import { strict as assert } from "node:assert";
import { join } from "node:path";
import { runPreview } from "../preview/cli";

describe("deploy-time commands (offline preview of the shipped rings)", function () {
    this.timeout(60000);

    it("the build, rollout and health-gate commands log stderr only and never get their previous output in the environment", async () => {
        const { reports } = await runPreview({ stacks: ["test", "prod"], format: "json", dir: join(__dirname, ".."), policies: false });
        const commands = reports.flatMap((r) => r.resources.filter((res) => res.type === "command:local:Command").map((res) => ({ stack: r.stack, ...res })));
        const names = commands.map((c) => `${c.stack}/${c.name}`).sort();
        assert.deepEqual(names, [
            "prod/rollout-dev-drain-and-upgrade",
            "prod/rollout-dev-health-gate",
            "prod/rollout-office-drain-and-upgrade",
            "prod/rollout-office-health-gate",
            "test/golden-image-dev-build",
            "test/golden-image-m365-build",
            "test/rollout-dev-health-gate",
            "test/rollout-office-health-gate",
        ]);
        for (const c of commands) {
            assert.equal(c.inputs.logging, "stderr", `${c.stack}/${c.name} logging`);
            assert.equal(c.inputs.addPreviousOutputInEnv, false, `${c.stack}/${c.name} addPreviousOutputInEnv`);
        }
    });
});
