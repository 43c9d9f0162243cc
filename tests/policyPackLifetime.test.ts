import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { join } from "node:path";

const ROOT = join(__dirname, "..");

function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

describe("the preview's policy pack process", function () {
    this.timeout(30000);

    it("ends when the preview is killed, instead of serving forever", async () => {
        // A stand-in for the preview: starts the pack, reports its pid once it serves, then waits.
        const parentScript = `
            const { spawnPolicyPackProcess } = require(${JSON.stringify(join(ROOT, "preview/packProcess.ts"))});
            const pack = spawnPolicyPackProcess();
            pack.stdout.once("data", () => console.log(pack.pid));
            setInterval(() => {}, 1000);
        `;
        const parent = spawn(process.execPath, ["--require", join(ROOT, "preview/loader.cjs"), "-e", parentScript], { stdio: ["ignore", "pipe", "inherit"] });
        const packPid = await new Promise<number>((resolve, reject) => {
            parent.stdout.once("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
            parent.once("exit", () => reject(new Error("the stand-in preview exited early")));
        });
        assert.ok(alive(packPid), "the pack serves while the preview runs");

        parent.kill("SIGKILL");
        const deadline = Date.now() + 10000;
        while (alive(packPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        assert.ok(!alive(packPid), "the pack process is gone after its preview was killed");
    });
});
