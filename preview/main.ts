// Entry point of `npm run preview`. It starts the policy pack's process before loading the Pulumi
// SDK and the program: each start-up costs most of a second, and this way they overlap.
import type * as Cli from "./cli";
import { spawnPolicyPackProcess } from "./packProcess";

const policyPack = spawnPolicyPackProcess();
// Loaded only now, so the pack is already starting while the SDK loads.
const cli = require("./cli") as typeof Cli;
cli.exitWith(cli.main(policyPack));
