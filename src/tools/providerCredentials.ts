// The azure-native provider's credential settings from the stack config (`azure-native:*`),
// as the ARM_* variables the deploy-time tools read (tools/azure/credentials.ts). Variables the
// `pulumi up` process already has reach the tools anyway (a command inherits its environment);
// this covers a provider configured through the stack file instead. Key -> variable as the
// provider maps them (pulumi-azure-native provider/pkg/provider/auth_azidentity.go, readAuthConfig);
// a stack setting wins over an inherited variable, as it does for the provider.
import * as pulumi from "@pulumi/pulumi";

/** Non-secret settings, handed over as plain strings. */
const PLAIN_SETTINGS = {
    clientId: "ARM_CLIENT_ID",
    tenantId: "ARM_TENANT_ID",
    subscriptionId: "ARM_SUBSCRIPTION_ID",
    clientCertificatePath: "ARM_CLIENT_CERTIFICATE_PATH",
    useOidc: "ARM_USE_OIDC",
    oidcTokenFilePath: "ARM_OIDC_TOKEN_FILE_PATH",
    oidcRequestUrl: "ARM_OIDC_REQUEST_URL",
    useMsi: "ARM_USE_MSI",
    useDefaultAzureCredential: "ARM_USE_DEFAULT_AZURE_CREDENTIAL",
    environment: "ARM_ENVIRONMENT",
    auxiliaryTenantIds: "ARM_AUXILIARY_TENANT_IDS",
    disableInstanceDiscovery: "ARM_DISABLE_INSTANCE_DISCOVERY",
} as const;

/** Secret settings: always Pulumi secrets, so the command's environment is stored encrypted and shown as [secret]. */
const SECRET_SETTINGS = {
    clientSecret: "ARM_CLIENT_SECRET",
    clientCertificatePassword: "ARM_CLIENT_CERTIFICATE_PASSWORD",
    oidcToken: "ARM_OIDC_TOKEN",
    oidcRequestToken: "ARM_OIDC_REQUEST_TOKEN",
} as const;

export type ProviderCredentialEnvironment = Record<string, pulumi.Input<string>>;

/** What a config reader offers; `new pulumi.Config("azure-native")` in the program. */
export interface ProviderConfig {
    get(key: string): string | undefined;
    getSecret(key: string): pulumi.Output<string> | undefined;
}

/**
 * The ARM_* entries to add to each deploy-time command's environment; empty when the stack
 * config has no azure-native credential setting. A changed entry re-runs the command like any
 * other environment change (@pulumi/command runs `create` again on update), which is the least
 * surprising choice: a rotated secret is used at once instead of a stale one kept by
 * ignoreChanges, and every tool is idempotent (the build finds its version published, the
 * rollout finds every host current, the gate validates again). Values that change on every run
 * (OIDC tokens) belong in the inherited variables, which are no input and re-run nothing.
 */
export function providerCredentialEnvironment(config: ProviderConfig): ProviderCredentialEnvironment {
    const env: ProviderCredentialEnvironment = {};
    for (const [key, variable] of Object.entries(PLAIN_SETTINGS)) {
        const value = config.get(key);
        if (value !== undefined && value !== "") env[variable] = value;
    }
    for (const [key, variable] of Object.entries(SECRET_SETTINGS)) {
        const value = config.getSecret(key);
        if (value !== undefined) env[variable] = pulumi.secret(value);
    }
    return env;
}

/** The stack's own azure-native settings, read once per program run. */
export function stackProviderCredentials(): ProviderCredentialEnvironment {
    return providerCredentialEnvironment(new pulumi.Config("azure-native"));
}

/** A command's environment plus the credential entries (the whole becomes secret when any entry is). */
export function withProviderCredentials(
    environment: pulumi.Input<Record<string, pulumi.Input<string>>>,
    credentials: ProviderCredentialEnvironment,
): pulumi.Output<Record<string, string>> {
    return pulumi.all([pulumi.output(environment), pulumi.output(credentials)]).apply(([env, creds]) => ({ ...env, ...creds }));
}
