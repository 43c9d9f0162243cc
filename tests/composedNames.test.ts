// Names the program composes from the stack name, checked at the edge against Azure's limits: where
// the vendored REST spec encodes the limit (AVD's path parameters) the rule must agree with it; the
// scale-set and NIC limits come from Azure's naming-rules page, which the spec does not encode.
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { composedNames, stackNameProblem } from "../src/config/azureLimits";

const AVD_SPEC = resolve(__dirname, "azure-rest-specs/specification/desktopvirtualization/resource-manager/Microsoft.DesktopVirtualization/stable/2024-04-03/desktopvirtualization.json");

interface PathParameter {
    name: string;
    pattern?: string;
    minLength?: number;
    maxLength?: number;
}

function specParameter(name: string): PathParameter {
    const spec = JSON.parse(readFileSync(AVD_SPEC, "utf8")) as { parameters: Record<string, PathParameter> };
    const p = Object.values(spec.parameters).find((x) => x.name === name);
    assert.ok(p, `${name} is a parameter of the spec`);
    return p;
}

/** Whether Azure's REST spec accepts `value` for the parameter. */
function specAccepts(p: PathParameter, value: string): boolean {
    return value.length >= (p.minLength ?? 0) && value.length <= (p.maxLength ?? Infinity) && (p.pattern === undefined || new RegExp(p.pattern).test(value));
}

describe("names composed from the stack name", () => {
    const specNames: Record<string, string> = { "host pool": "hostPoolName", "application group": "applicationGroupName", workspace: "workspaceName" };

    it("agree with the DesktopVirtualization spec at the length edge", () => {
        for (const [what, parameter] of Object.entries(specNames)) {
            const p = specParameter(parameter);
            for (const length of [1, 20, 50, 53, 54, 55, 56, 60]) {
                const name = composedNames("s".repeat(length)).find((c) => c.what === what);
                assert.ok(name);
                const ours = name.name.length <= name.maxLength && name.pattern.test(name.name);
                assert.equal(ours, specAccepts(p, name.name), `${what} "${name.name}" (${name.name.length})`);
            }
        }
    });

    it("refuse the first stack name that makes any of them too long, and accept the longest that fits", () => {
        assert.equal(stackNameProblem("s".repeat(53)), undefined);
        assert.match(stackNameProblem("s".repeat(54)) ?? "", /host pool name .* 65 characters long; Azure allows at most 64, so the stack name can have at most 53 characters/);
    });

    it("refuse stack names whose characters Azure does not take in a scale-set name", () => {
        assert.equal(stackNameProblem("prod_eu.1"), undefined, "'_' and '.' inside are fine");
        assert.match(stackNameProblem("prod-") ?? "", /scale set name "vmss-avd-prod-", which Azure refuses/);
        assert.match(stackNameProblem("prod.") ?? "", /scale set name "vmss-avd-prod\.", which Azure refuses/);
    });
});
