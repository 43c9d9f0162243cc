// Runs the project's TypeScript for the offline preview and the policy pack it starts. Only .ts
// files are transpiled (esbuild strips the types; `npm test` type-checks them); everything in
// node_modules loads at native speed. A general-purpose loader such as tsx inspects every
// required file, which nearly doubled the time to load @pulumi/pulumi (docs/performance.md).
"use strict";
const { readFileSync } = require("node:fs");
const { transformSync } = require("esbuild");

require.extensions[".ts"] = function compileTypeScript(module, filename) {
    const { code } = transformSync(readFileSync(filename, "utf8"), {
        loader: "ts",
        format: "cjs",
        target: "node20",
        sourcefile: filename,
        sourcemap: "inline",
    });
    module._compile(code, filename);
};

// The policy pack started by the preview (preview/packProcess.ts) ends with its parent: its stdin
// is a pipe from the preview, which closes however the preview ends.
if (process.env.AVD_PREVIEW_EXIT_WITH_PARENT === "1") {
    delete process.env.AVD_PREVIEW_EXIT_WITH_PARENT;
    process.stdin.on("end", () => process.exit(0));
    process.stdin.on("error", () => process.exit(0));
    process.stdin.resume();
    process.stdin.unref?.();
}
