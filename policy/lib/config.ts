// Policy configuration with defaults. The Pulumi CLI fills schema defaults in before it
// configures the pack; applying them here as well keeps a policy correct when it is called
// directly (tests, benchmarks) or by an engine that sends no configuration.

export interface ConfigSource {
    getConfig<T extends object>(): T;
}

export function readConfig<T extends object>(args: ConfigSource, defaults: T): T {
    const given = args.getConfig<Partial<T>>();
    const merged: T = { ...defaults };
    for (const key of Object.keys(defaults) as Array<keyof T>) {
        const value = given[key];
        if (value !== undefined && value !== null) merged[key] = value as T[keyof T];
    }
    return merged;
}
