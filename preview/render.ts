// Renders preview results: a terminal plan like `pulumi preview`, the documented JSON
// object, and a markdown summary for pull-request comments.
import type { RecordedResource } from "./engine";

export interface Violation {
    policyPack: string;
    policy: string;
    enforcementLevel: "advisory" | "mandatory" | "remediate" | "disabled";
    message: string;
    urn?: string;
}

export interface StackReport {
    stack: string;
    resources: Array<Pick<RecordedResource, "urn" | "type" | "name" | "parent" | "inputs" | "options">>;
    outputs: Record<string, unknown>;
    violations: Violation[];
    /** One-line notes on how the preview read the stack (an ESC environment it cannot open). */
    notices?: string[];
    /** Set when the ring refused its pinned version (exit 1) or the program failed (exit 2). */
    error?: { kind: "promotion" | "config" | "program"; message: string };
}

type Inputs = Record<string, unknown>;

function get(inputs: Inputs, path: string): unknown {
    return path.split(".").reduce<unknown>((v, k) => (v && typeof v === "object" ? (v as Inputs)[k] : undefined), inputs);
}

function str(v: unknown): string {
    return v === undefined || v === null ? "" : typeof v === "string" ? v : JSON.stringify(v);
}

function lastSegment(id: unknown): string {
    return str(id).split("/").pop() ?? "";
}

/** The few inputs that tell a reviewer what a resource is. */
export function keyInputs(r: Pick<RecordedResource, "type" | "inputs">): string {
    const i = r.inputs;
    switch (r.type) {
        case "azure-native:resources:ResourceGroup":
            return `${str(i.resourceGroupName)} (${str(i.location)})`;
        case "azure-native:compute:Gallery":
            return str(i.galleryName);
        case "azure-native:compute:GalleryImage":
            return `${str(i.galleryImageName)} ${str(get(i, "identifier.sku"))} ${str(i.hyperVGeneration)}`.trim();
        case "azure-native:virtualmachineimages:VirtualMachineImageTemplate": {
            const customize = Array.isArray(i.customize) ? i.customize.length : 0;
            const distribute = Array.isArray(i.distribute) ? (i.distribute[0] as Inputs | undefined) : undefined;
            return `${str(i.imageTemplateName)}: ${customize} customizers -> version ${lastSegment(distribute?.galleryImageId)}`;
        }
        case "azure-native:managedidentity:UserAssignedIdentity":
            return str(i.resourceName);
        case "azure-native:authorization:RoleDefinition": {
            const perms = Array.isArray(i.permissions) ? (i.permissions[0] as Inputs | undefined) : undefined;
            const actions = Array.isArray(perms?.actions) ? perms.actions.length : 0;
            return `${str(i.roleName)} (${actions} actions)`;
        }
        case "azure-native:authorization:RoleAssignment":
            return `role ${lastSegment(i.roleDefinitionId)} on ${lastSegment(i.scope)}`;
        case "command:local:Command": {
            const create = str(i.create);
            return create.replace(/^node_modules\/\.bin\/tsx\s+/, "");
        }
        case "azure-native:desktopvirtualization:HostPool":
            return `${str(i.hostPoolName)} ${str(i.hostPoolType)} ${str(i.loadBalancerType)} max ${str(i.maxSessionLimit)}`;
        case "azure-native:desktopvirtualization:ApplicationGroup":
            return `${str(i.applicationGroupName)} ${str(i.applicationGroupType)}`;
        case "azure-native:desktopvirtualization:Workspace":
            return str(i.workspaceName);
        case "azure-native:compute:VirtualMachineScaleSet":
            return [
                str(i.vmScaleSetName),
                `${str(get(i, "sku.capacity"))} x ${str(get(i, "sku.name"))}`,
                `upgrade ${str(get(i, "upgradePolicy.mode"))}`,
                `image ${lastSegment(get(i, "virtualMachineProfile.storageProfile.imageReference.id"))}`,
            ].join(", ");
        case "azure-native:operationalinsights:Workspace":
            return `${str(i.workspaceName)} ${str(get(i, "sku.name"))} ${str(i.retentionInDays)} days`;
        case "azure-native:monitor:DiagnosticSetting": {
            const logs = Array.isArray(i.logs) ? (i.logs as Inputs[]).filter((l) => l.enabled === true).map((l) => str(l.category)) : [];
            return `${lastSegment(i.resourceUri)} -> ${lastSegment(i.workspaceId)}: ${logs.join(", ")}`;
        }
        case "pulumi:pulumi:StackReference":
            return str(i.name);
    }
    return "";
}

function shortType(type: string): string {
    return type.replace(/^azure-native:/, "azure:");
}

/** Marks the options that change what `pulumi destroy` does, after the resource's name. */
function optionMarks(r: Pick<RecordedResource, "options">): string {
    return `${r.options.protect ? " [protected]" : ""}${r.options.retainOnDelete ? " [retained on delete]" : ""}`;
}

/** Resources as a tree by parent, like the CLI's preview. */
function treeLines(resources: StackReport["resources"]): string[] {
    const children = new Map<string | undefined, StackReport["resources"]>();
    for (const r of resources) {
        const key = r.parent && resources.some((p) => p.urn === r.parent) ? r.parent : undefined;
        children.set(key, [...(children.get(key) ?? []), r]);
    }
    const lines: string[] = [];
    const walk = (parent: string | undefined, prefix: string) => {
        const list = children.get(parent) ?? [];
        list.forEach((r, idx) => {
            const last = idx === list.length - 1;
            const branch = parent === undefined ? "" : last ? "└─ " : "├─ ";
            const label = `${prefix}${branch}${shortType(r.type)}`;
            const op = r.type === "pulumi:pulumi:StackReference" ? "read" : "+";
            const detail = keyInputs(r);
            lines.push(` ${op.padEnd(4)} ${label.padEnd(68)} ${r.name}${optionMarks(r)}${detail ? `  ${detail}` : ""}`);
            walk(r.urn, parent === undefined ? prefix : prefix + (last ? "   " : "│  "));
        });
    };
    walk(undefined, "");
    return lines;
}

export function renderText(report: StackReport): string {
    const out: string[] = [`Previewing stack ${report.stack} (offline: mock engine, no Azure calls)`, ...(report.notices ?? []).map((n) => `  note: ${n}`), ""];
    if (report.error) {
        const label = report.error.kind === "promotion" ? "Promotion refused" : report.error.kind === "config" ? "Configuration error" : "Program error";
        out.push(`  ${label}: ${report.error.message}`, "");
        return out.join("\n");
    }
    out.push(...treeLines(report.resources), "");
    if (report.resources.some((r) => r.options.protect)) {
        out.push(
            "[protected]: `pulumi destroy` and any replacement stop at these resources; [retained on delete]: removing them from the",
            "stack leaves them in Azure. README.md \"Tearing down\" says how to remove them on purpose.",
            "",
        );
    }
    out.push("Outputs:");
    for (const [k, v] of Object.entries(report.outputs).sort(([a], [b]) => a.localeCompare(b))) {
        out.push(`    ${k}: ${JSON.stringify(v)}`);
    }
    out.push("");
    if (report.violations.length === 0) {
        out.push("Policies:", "    avd-image-rings-guardrails: all policies passed");
    } else {
        out.push("Policy violations:");
        for (const v of report.violations) {
            out.push(`    [${v.enforcementLevel}] ${v.policy} (${v.urn ? v.urn.split("::").pop() : "stack"})`);
            out.push(`        ${v.message.replace(/\n+/g, "\n        ")}`);
        }
    }
    const count = report.resources.filter((r) => r.type !== "pulumi:pulumi:StackReference").length;
    out.push("", `Resources: ${count} to create`);
    return out.join("\n");
}

/** The documented JSON object for one stack. */
export function toJson(report: StackReport): Record<string, unknown> {
    return {
        stack: report.stack,
        resources: report.resources.map((r) => ({ urn: r.urn, type: r.type, name: r.name, parent: r.parent ?? null, inputs: r.inputs, options: r.options })),
        outputs: report.outputs,
        violations: report.violations,
        ...(report.error ? { error: report.error } : {}),
    };
}

function mdEscape(text: string): string {
    return text.replace(/\|/g, "\\|").replace(/\n+/g, " ");
}

/** A pull-request comment: per ring, the version it runs, resources by kind, policy results. */
export function renderMarkdown(reports: StackReport[]): string {
    const out: string[] = ["## avd-image-rings offline preview", ""];
    out.push("| ring | image version | resources | mandatory | advisory | result |", "|---|---|---|---|---|---|");
    for (const r of reports) {
        const mandatory = r.violations.filter((v) => v.enforcementLevel === "mandatory").length;
        const advisory = r.violations.filter((v) => v.enforcementLevel === "advisory").length;
        const result = r.error
            ? r.error.kind === "promotion"
                ? "promotion refused"
                : "error"
            : mandatory > 0
              ? "blocked"
              : "ok";
        const icon = result === "ok" ? "✅" : "❌";
        out.push(`| \`${r.stack}\` | ${str(r.outputs.imageVersion) || "-"} | ${r.resources.length} | ${mandatory} | ${advisory} | ${icon} ${result} |`);
    }
    for (const r of reports) {
        out.push("", `### \`${r.stack}\``, "");
        for (const n of r.notices ?? []) out.push(`> ${mdEscape(n)}`, "");
        if (r.error) {
            out.push(`> **${r.error.kind === "promotion" ? "Promotion refused" : "Error"}:** ${mdEscape(r.error.message)}`);
            continue;
        }
        const kinds = new Map<string, number>();
        for (const res of r.resources) kinds.set(shortType(res.type), (kinds.get(shortType(res.type)) ?? 0) + 1);
        out.push("<details><summary>Resources by kind</summary>", "", "| kind | count |", "|---|---|");
        for (const [kind, n] of [...kinds].sort(([a], [b]) => a.localeCompare(b))) out.push(`| ${kind} | ${n} |`);
        out.push("", "</details>", "");
        if (r.violations.length === 0) {
            out.push("All policies passed.");
        } else {
            out.push("| level | policy | resource | message |", "|---|---|---|---|");
            for (const v of r.violations) {
                out.push(`| ${v.enforcementLevel} | \`${v.policy}\` | ${v.urn ? `\`${v.urn.split("::").pop()}\`` : "stack"} | ${mdEscape(v.message)} |`);
            }
        }
    }
    return out.join("\n") + "\n";
}
