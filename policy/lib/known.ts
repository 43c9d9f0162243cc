// Tolerant reads for stack policies that link resources to each other. @pulumi/policy throws
// when a policy reads a value that is unknown during preview and then reports the whole policy
// as advisory. Linking code that can fall back on what is known (property dependencies, other
// fields) reads through `known` instead, so the mandatory check still runs.

function isUnknownValueError(err: unknown): boolean {
    return err instanceof Error && err.constructor.name === "UnknownValueError";
}

/** `read()`'s value, or undefined when it depends on a value unknown during preview. */
export function known<T>(read: () => T): T | undefined {
    try {
        return read();
    } catch (err) {
        if (isUnknownValueError(err)) return undefined;
        throw err;
    }
}
