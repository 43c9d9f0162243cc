// Which ring a resource belongs to. The stack name is read from the resource URN
// (`urn:pulumi:<stack>::<project>::<type>::<name>`), never from tags: tags are data the
// program controls, the URN is what the engine deploys.

const URN_PREFIX = "urn:pulumi:";

export function stackFromUrn(urn: string): string {
    if (!urn.startsWith(URN_PREFIX)) return "";
    const rest = urn.slice(URN_PREFIX.length);
    const end = rest.indexOf("::");
    return end < 0 ? rest : rest.slice(0, end);
}

/** Glob-ish match: `*` any run of characters, `?` one character; case-insensitive. */
export function globMatch(pattern: string, text: string): boolean {
    const source = pattern
        .split("")
        .map((ch) => (ch === "*" ? ".*" : ch === "?" ? "." : ch.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
        .join("");
    return new RegExp(`^${source}$`, "i").test(text);
}

export function stackMatches(patterns: readonly string[], urn: string): boolean {
    const stack = stackFromUrn(urn);
    return patterns.some((p) => globMatch(p, stack));
}

export const DEFAULT_PRODUCTION_STACKS: readonly string[] = ["prod", "prod-*"];
export const DEFAULT_TEST_STACKS: readonly string[] = ["test", "test-*"];

/** JSON schema for a list of stack-name patterns (shared by the policies' configSchema). */
export function stackPatternsSchema(defaults: readonly string[], description: string) {
    return {
        type: "array" as const,
        items: { type: "string" as const, minLength: 1 },
        default: [...defaults],
        description,
    };
}
