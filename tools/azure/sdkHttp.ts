// Runs an official Azure SDK client (a @azure/core-client ServiceClient) over an ArmClient: the
// SDK builds each request (path, api-version, body, user agent), ArmClient sends it through its
// own transmit path, so the token, the retries that honour Retry-After on the injectable clock,
// the rule never to repeat a POST after a 5xx or a dropped connection (ArmError.outcomeUnknown),
// the same-endpoint check and the stats stay those of every other call the tools make.
import type { TokenCredential } from "@azure/core-auth";
import { createHttpHeaders, type HttpClient, type Pipeline, type PipelineRequest, type PipelineResponse } from "@azure/core-rest-pipeline";
import type { ArmClient, HttpMethod } from "./arm";

const METHODS = new Set<string>(["GET", "PUT", "PATCH", "POST", "DELETE", "HEAD"]);

/**
 * Policies of the SDK's default pipeline that must not run: its retries sleep on real timers
 * (core-util `delay`), which the virtual clock cannot drive, and would repeat what ArmClient
 * already retried; its bearer policy refuses plain-http endpoints (the local fake) and ArmClient
 * attaches the same TokenProvider's token itself.
 */
export const REMOVED_SDK_POLICIES = [
    "defaultRetryPolicy",
    "retryPolicy",
    "exponentialRetryPolicy",
    "systemErrorRetryPolicy",
    "throttlingRetryPolicy",
    "bearerTokenAuthenticationPolicy",
] as const;

export function removeSdkRetryAndAuthPolicies(pipeline: Pipeline): void {
    for (const name of REMOVED_SDK_POLICIES) pipeline.removePolicy({ name });
}

/** An HttpClient that hands every request to `arm.send`; an error status arrives as ArmError, thrown by ArmClient. */
export function armHttpClient(arm: ArmClient): HttpClient {
    return {
        async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
            const method = request.method.toUpperCase();
            if (!METHODS.has(method)) throw new Error(`unsupported HTTP method ${request.method}`);
            if (request.body !== undefined && request.body !== null && typeof request.body !== "string") {
                throw new Error(`the SDK sent a non-text request body to ${method} ${request.url}; only JSON bodies are supported`);
            }
            const headers: Record<string, string> = {};
            for (const [name, value] of request.headers) headers[name.toLowerCase()] = value;
            delete headers.authorization;
            const res = await arm.send(method as HttpMethod, request.url, { headers, body: request.body ?? undefined });
            const responseHeaders = createHttpHeaders();
            res.headers.forEach((value, name) => responseHeaders.set(name, value));
            return { request, status: res.status, headers: responseHeaders, bodyAsText: res.body };
        },
    };
}

/** A TokenCredential over the ArmClient's TokenProvider (required by SDK constructors; ArmClient signs the requests). */
export function armCredential(arm: ArmClient): TokenCredential {
    return {
        async getToken(scopes) {
            const scope = Array.isArray(scopes) ? scopes[0] : scopes;
            return { token: await arm.tokenProvider.getToken(scope), expiresOnTimestamp: arm.clock.now() + 5 * 60_000 };
        },
    };
}
