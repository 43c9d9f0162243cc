// A small Azure Resource Manager REST client for the deploy-time tools: bearer auth,
// throttling and transient-failure retries that never undercut Retry-After, long-running
// operations (Azure-AsyncOperation, Location, or provisioningState), nextLink paging, and
// counters a benchmark can read. Responses are `unknown`; narrow them with ./json.
// Hand-written rather than @azure/core-rest-pipeline + @azure/core-lro: their retry, throttling
// and polling waits sleep on real timers (core-util `delay`), which the virtual clock the tests and
// benchmarks share with the fake cannot drive; see docs/build-trigger.md (Azure clients). Official
// clients whose api-version matches run over this client instead (`send`, tools/azure/sdkHttp.ts).
import type { Clock } from "./clock";
import { systemClock } from "./clock";
import { ARM_DEFAULT_ENDPOINT, armEndpointFromEnvironment, armScopeFor, tokenProviderFromEnvironment, type TokenProvider } from "./credentials";
import { isRecord, optionalString } from "./json";
import { formatDuration } from "./clock";
import { StopRequested } from "../shared/stop";

export type HttpMethod = "GET" | "PUT" | "PATCH" | "POST" | "DELETE" | "HEAD";

export type QueryValue = string | number | boolean | undefined;

export interface RequestOptions {
    /** `api-version` query parameter; omitted when the path (a nextLink or status URL) already carries one. */
    apiVersion?: string;
    /** JSON request body. */
    body?: unknown;
    query?: Record<string, QueryValue>;
    headers?: Record<string, string>;
    /** Statuses >= 400 that are answers rather than errors (e.g. 404 on a lookup). */
    acceptStatuses?: number[];
    /** Clock time (ms) by which the call must be done: a Retry-After or backoff reaching past it fails at once. */
    deadline?: number;
}

/**
 * Where a long-running operation's final result comes from (the spec's
 * `x-ms-long-running-operation-options.final-state-via`), as @azure/core-lro resolves it:
 * PUT always re-reads the resource, DELETE has no result, PATCH and POST read the Location URL
 * ("location", the default), the original URL ("original-uri"), or take the Azure-AsyncOperation
 * body itself ("azure-async-operation").
 */
export type FinalStateVia = "azure-async-operation" | "location" | "original-uri";

export interface LroOptions extends RequestOptions {
    pollIntervalMs?: number;
    finalStateVia?: FinalStateVia;
}

export interface ArmResponse {
    status: number;
    headers: Headers;
    /** Parsed JSON, the raw text when the body is not JSON, or undefined when empty. */
    body: unknown;
}

export interface RetryPolicy {
    /** Attempts per request, first included. */
    maxAttempts: number;
    /** First backoff for 5xx/network failures; doubles per attempt. */
    initialBackoffMs: number;
    maxBackoffMs: number;
}

export interface ArmClientOptions {
    endpoint?: string;
    tokenProvider: TokenProvider;
    clock?: Clock;
    retry?: Partial<RetryPolicy>;
    /** Poll interval for long-running operations that send no Retry-After. */
    defaultPollIntervalMs?: number;
    /** Per-request network timeout (real time). */
    requestTimeoutMs?: number;
    fetch?: typeof fetch;
    /** Jitter source for backoff, in [0, 1). */
    random?: () => number;
    userAgent?: string;
    /** Aborted when the tool must stop: every wait then rejects with StopRequested. */
    signal?: AbortSignal;
    /**
     * The longest single retry wait (Retry-After or backoff) any call accepts: a tool sets it from its
     * own deadline, so a Retry-After of a day fails the call at once with the numbers instead of
     * sleeping for a day. Per-call `deadline`s still apply.
     */
    maxRetryWaitMs?: number;
    /** Receives a line at least every `heartbeatMs` during a longer wait, saying what it waits for. */
    heartbeat?: (line: string) => void;
    heartbeatMs?: number;
}

export interface ArmStats {
    /** Requests sent, by HTTP method (retries and polls included). */
    byMethod: Record<string, number>;
    requests: number;
    /** Requests repeated after a throttle, transient failure or network error. */
    retries: number;
    /** Responses that were 429. */
    throttled: number;
    /** Total time spent waiting (Retry-After, backoff, poll intervals, tool-level waits). */
    sleptMs: number;
}

/** A failed ARM call: HTTP status, ARM error code and message, as ARM reported them. */
export class ArmError extends Error {
    constructor(
        readonly status: number,
        readonly code: string,
        readonly armMessage: string,
        readonly method: string,
        /** Path of the request (query strings dropped so no SAS or token leaks). */
        readonly path: string,
        readonly attempts: number,
    ) {
        super(`${method} ${path} failed with HTTP ${status || "(no response)"} ${code}: ${armMessage}${attempts > 1 ? ` (after ${attempts} attempts)` : ""}`);
        this.name = "ArmError";
    }

    /**
     * A non-idempotent request (POST) that got no answer or a server error: Azure may have
     * applied it and only the response was lost. The caller re-reads the state and reconciles;
     * the client never repeats such a request on its own.
     */
    get outcomeUnknown(): boolean {
        return !isIdempotent(this.method) && (this.status === 0 || this.status === 408 || this.status >= 500) && this.code !== "UntrustedUrl";
    }
}

/** PUT, PATCH, GET, HEAD and DELETE may be repeated; a POST (run, cancel, manualupgrade, sendMessage, ...) may not. */
export function isIdempotent(method: string): boolean {
    return method !== "POST";
}

/** A long-running operation that ended Failed or Canceled. */
export class LroFailedError extends ArmError {
    constructor(
        readonly operationStatus: string,
        code: string,
        message: string,
        method: string,
        path: string,
    ) {
        super(200, code, message, method, path, 1);
        this.message = `${method} ${path}: the operation ended ${operationStatus}: ${code}: ${message}`;
        this.name = "LroFailedError";
    }
}

const TERMINAL = new Set(["succeeded", "failed", "canceled", "cancelled"]);

export function isTerminalStatus(status: string | undefined): boolean {
    return status !== undefined && TERMINAL.has(status.toLowerCase());
}

/** `{error:{code,message}}` (ARM), `{code,message}` (some RPs), or Storage's XML `<Error><Code>`. */
export function errorDetails(body: unknown, status: number): { code: string; message: string } {
    const inner = isRecord(body) && isRecord(body.error) ? body.error : body;
    const code = optionalString(inner, "code");
    const message = optionalString(inner, "message");
    if (code || message) return { code: code ?? `HTTP${status}`, message: message ?? "" };
    if (typeof body === "string") {
        const xmlCode = /<Code>([^<]*)<\/Code>/.exec(body)?.[1];
        const xmlMessage = /<Message>([^<]*)<\/Message>/.exec(body)?.[1];
        if (xmlCode) return { code: xmlCode, message: (xmlMessage ?? "").split("\n")[0] };
        if (body.trim()) return { code: `HTTP${status}`, message: body.trim().slice(0, 300) };
    }
    return { code: `HTTP${status}`, message: "no error details in the response" };
}

/**
 * The longest wait the response asks for, in ms: `retry-after-ms`, `x-ms-retry-after-ms`,
 * and `Retry-After` as seconds or an HTTP date. Undefined when none is present.
 */
export function retryAfterMs(headers: Headers, now: number): number | undefined {
    const candidates: number[] = [];
    for (const name of ["retry-after-ms", "x-ms-retry-after-ms"]) {
        const v = headers.get(name);
        if (v !== null && /^\s*\d+(\.\d+)?\s*$/.test(v)) candidates.push(Number(v));
    }
    const ra = headers.get("retry-after");
    if (ra !== null) {
        if (/^\s*\d+(\.\d+)?\s*$/.test(ra)) candidates.push(Number(ra) * 1000);
        else {
            const date = Date.parse(ra);
            if (!Number.isNaN(date)) candidates.push(Math.max(0, date - now));
        }
    }
    return candidates.length ? Math.max(...candidates) : undefined;
}

/** Drops query strings (api-version, SAS signatures, skip tokens) from a URL for messages. */
export function redactUrl(url: string): string {
    try {
        const u = new URL(url);
        return u.pathname;
    } catch {
        return url.split("?")[0];
    }
}

type Disposition = { retry: false } | { retry: true; throttled: boolean; honourRetryAfter: boolean };

function classify(method: HttpMethod, status: number, body: unknown): Disposition {
    // 429 and Retryable* conflicts are refusals before anything happened: safe to repeat for any
    // method. A 5xx may come after Azure applied the request, so only idempotent methods repeat it.
    if (status === 429) return { retry: true, throttled: true, honourRetryAfter: true };
    if (status === 503 && isIdempotent(method)) return { retry: true, throttled: false, honourRetryAfter: true };
    if ((status === 408 || status === 500 || status === 502 || status === 504) && isIdempotent(method)) return { retry: true, throttled: false, honourRetryAfter: false };
    if (status >= 400) {
        // RPs answer e.g. 409 RetryableErrorDueToAnotherOperation while another operation holds the resource.
        const { code } = errorDetails(body, status);
        if (/^Retryable/i.test(code)) return { retry: true, throttled: false, honourRetryAfter: true };
    }
    return { retry: false };
}

interface Transmission {
    method: HttpMethod;
    url: string;
    headers: Record<string, string>;
    body?: string;
    /** Scope of the bearer token to attach; undefined sends no Authorization header. */
    scope?: string;
    acceptStatuses?: number[];
    /** Keep the body as text (data-plane XML, logs) instead of parsing JSON. */
    text?: boolean;
    deadline?: number;
}

export class ArmClient {
    readonly endpoint: string;
    readonly clock: Clock;
    readonly stats: ArmStats = { byMethod: {}, requests: 0, retries: 0, throttled: 0, sleptMs: 0 };
    private readonly tokens: TokenProvider;
    private readonly retry: RetryPolicy;
    private readonly pollIntervalMs: number;
    private readonly requestTimeoutMs: number;
    private readonly fetchImpl: typeof fetch;
    private readonly random: () => number;
    private readonly userAgent: string;
    private readonly scope: string;
    private readonly signal?: AbortSignal;
    private readonly heartbeat?: (line: string) => void;
    private readonly heartbeatMs: number;
    private readonly maxRetryWaitMs?: number;

    constructor(options: ArmClientOptions) {
        this.endpoint = (options.endpoint ?? ARM_DEFAULT_ENDPOINT).replace(/\/+$/, "");
        this.tokens = options.tokenProvider;
        this.clock = options.clock ?? systemClock;
        this.retry = { maxAttempts: 6, initialBackoffMs: 1000, maxBackoffMs: 30_000, ...options.retry };
        this.pollIntervalMs = options.defaultPollIntervalMs ?? 15_000;
        this.requestTimeoutMs = options.requestTimeoutMs ?? 100_000;
        this.fetchImpl = options.fetch ?? fetch;
        this.random = options.random ?? Math.random;
        this.userAgent = options.userAgent ?? "avd-image-rings-tools";
        this.scope = armScopeFor(this.endpoint);
        this.signal = options.signal;
        this.heartbeat = options.heartbeat;
        this.heartbeatMs = options.heartbeatMs ?? 5 * 60_000;
        this.maxRetryWaitMs = options.maxRetryWaitMs;
    }

    /** A client configured from AZURE_RESOURCE_MANAGER_ENDPOINT (else ARM_ENVIRONMENT's cloud) and the credentials of tools/azure/credentials.ts. */
    static fromEnvironment(env: NodeJS.ProcessEnv, options: Partial<ArmClientOptions> = {}): ArmClient {
        const endpoint = options.endpoint ?? (env.AZURE_RESOURCE_MANAGER_ENDPOINT?.trim() || armEndpointFromEnvironment(env));
        const clock = options.clock ?? systemClock;
        return new ArmClient({ ...options, endpoint, clock, tokenProvider: options.tokenProvider ?? tokenProviderFromEnvironment(env, endpoint, clock) });
    }

    get tokenProvider(): TokenProvider {
        return this.tokens;
    }

    async get(path: string, options: RequestOptions = {}): Promise<unknown> {
        return (await this.request("GET", path, options)).body;
    }

    async put(path: string, options: RequestOptions = {}): Promise<unknown> {
        return (await this.request("PUT", path, options)).body;
    }

    async patch(path: string, options: RequestOptions = {}): Promise<unknown> {
        return (await this.request("PATCH", path, options)).body;
    }

    async post(path: string, options: RequestOptions = {}): Promise<unknown> {
        return (await this.request("POST", path, options)).body;
    }

    async delete(path: string, options: RequestOptions = {}): Promise<unknown> {
        return (await this.request("DELETE", path, options)).body;
    }

    /** GET that answers undefined for 404 instead of throwing. */
    async tryGet(path: string, options: RequestOptions = {}): Promise<unknown | undefined> {
        const res = await this.request("GET", path, { ...options, acceptStatuses: [404, ...(options.acceptStatuses ?? [])] });
        return res.status === 404 ? undefined : res.body;
    }

    /** One ARM call with retries; throws ArmError for a final status >= 400 not in acceptStatuses. */
    async request(method: HttpMethod, path: string, options: RequestOptions = {}): Promise<ArmResponse> {
        const headers: Record<string, string> = { accept: "application/json", ...options.headers };
        let body: string | undefined;
        if (options.body !== undefined) {
            headers["content-type"] = "application/json";
            body = JSON.stringify(options.body);
        }
        return this.transmit({ method, url: this.url(path, options), headers, body, scope: this.scope, acceptStatuses: options.acceptStatuses, deadline: options.deadline });
    }

    /**
     * A request to a non-ARM URL (e.g. a blob with a SAS) under the same retry policy and
     * counters; the body stays text. Sends a bearer token only when `scope` is given.
     */
    async external(method: HttpMethod, url: string, options: { headers?: Record<string, string>; scope?: string; acceptStatuses?: number[] } = {}): Promise<ArmResponse & { body: string }> {
        const res = await this.transmit({ method, url, headers: { ...options.headers }, scope: options.scope, acceptStatuses: options.acceptStatuses, text: true });
        return { ...res, body: typeof res.body === "string" ? res.body : "" };
    }

    /**
     * One request built by someone else (an official SDK's pipeline, see tools/azure/sdkHttp.ts)
     * on this client's transmit path: ARM token, retries that honour Retry-After on the clock,
     * no repeat of a POST after a 5xx or a dropped connection, stats. A final status >= 400 not in
     * `acceptStatuses` throws ArmError before the caller sees it. The URL must be on the ARM endpoint.
     */
    async send(method: HttpMethod, url: string, options: { headers?: Record<string, string>; body?: string; acceptStatuses?: number[] } = {}): Promise<ArmResponse & { body: string }> {
        const res = await this.transmit({ method, url: this.url(url), headers: { ...options.headers }, body: options.body, scope: this.scope, acceptStatuses: options.acceptStatuses, text: true });
        return { ...res, body: typeof res.body === "string" ? res.body : "" };
    }

    /** Every item of a paged list (`value`), following `nextLink`. */
    async list(path: string, options: RequestOptions = {}): Promise<unknown[]> {
        const items: unknown[] = [];
        const seen = new Set<string>();
        let next: string | undefined = path;
        let opts: RequestOptions = options;
        while (next) {
            const page = await this.get(next, opts);
            if (!isRecord(page) || !Array.isArray(page.value)) {
                throw new ArmError(200, "InvalidListResponse", "expected a {value: [...]} list", "GET", redactUrl(this.url(next, opts)), 1);
            }
            items.push(...page.value);
            next = optionalString(page, "nextLink") || undefined;
            if (next) {
                if (seen.has(next)) throw new ArmError(200, "NextLinkLoop", "the service returned the same nextLink twice", "GET", redactUrl(next), 1);
                seen.add(next);
                // A nextLink carries its own api-version and filters.
                opts = { headers: options.headers };
            }
        }
        return items;
    }

    /** Starts a long-running operation and returns a poller without waiting for it. */
    async begin(method: HttpMethod, path: string, options: LroOptions = {}): Promise<LroPoller> {
        const initial = await this.request(method, path, options);
        return new LroPoller(this, method, path, options, initial, options.pollIntervalMs ?? this.pollIntervalMs, options.finalStateVia ?? "location");
    }

    /** Runs a long-running operation to completion; returns the final resource/result body. */
    async lro(method: HttpMethod, path: string, options: LroOptions & { timeoutMs?: number } = {}): Promise<unknown> {
        const poller = await this.begin(method, path, options);
        return poller.pollUntilDone(options.timeoutMs);
    }

    /**
     * Waits on the client's clock and counts the time as waiting. Rejects with StopRequested once
     * the client's signal is aborted; a wait longer than `heartbeatMs` reports `what` it waits for
     * and until when at least every `heartbeatMs`.
     */
    async sleep(ms: number, what?: string): Promise<void> {
        const wait = Math.max(0, ms);
        const until = this.clock.now() + wait;
        this.stats.sleptMs += wait;
        for (;;) {
            this.throwIfStopped(what);
            const left = until - this.clock.now();
            if (left <= 0) return;
            const chunk = this.heartbeat ? Math.min(left, this.heartbeatMs) : left;
            if (this.heartbeat && wait > this.heartbeatMs) {
                this.heartbeat(`waiting ${formatDuration(left)} more (until ${new Date(until).toISOString()}) for ${what ?? "Azure"}`);
            }
            await this.abortable(this.clock.sleep(chunk), what);
        }
    }

    /** Rejects with StopRequested when the client's signal has been aborted. */
    throwIfStopped(where?: string): void {
        if (this.signal?.aborted) throw new StopRequested(where);
    }

    private abortable(wait: Promise<void>, where?: string): Promise<void> {
        const signal = this.signal;
        if (!signal) return wait;
        return new Promise((resolve, reject) => {
            const onAbort = () => reject(new StopRequested(where));
            signal.addEventListener("abort", onAbort, { once: true });
            wait.then(() => {
                signal.removeEventListener("abort", onAbort);
                resolve();
            }, reject);
        });
    }

    /** Absolute URL for an ARM path or an absolute URL on the same endpoint. */
    url(path: string, options: RequestOptions = {}): string {
        let url: URL;
        if (/^https?:\/\//i.test(path)) {
            url = new URL(path);
            if (url.origin !== new URL(this.endpoint).origin) {
                // Never send the ARM token to a host the caller did not configure.
                throw new ArmError(0, "UntrustedUrl", `refusing to follow a link to ${url.origin}, which is not the ARM endpoint ${this.endpoint}`, "GET", url.pathname, 0);
            }
        } else {
            url = new URL(this.endpoint + (path.startsWith("/") ? path : `/${path}`));
        }
        if (options.apiVersion && !url.searchParams.has("api-version")) url.searchParams.set("api-version", options.apiVersion);
        for (const [k, v] of Object.entries(options.query ?? {})) {
            if (v !== undefined) url.searchParams.set(k, String(v));
        }
        return url.toString();
    }

    private backoffMs(attempt: number): number {
        const base = Math.min(this.retry.maxBackoffMs, this.retry.initialBackoffMs * 2 ** (attempt - 1));
        // Jitter downwards only, so the cap holds and concurrent clients spread out.
        return Math.round(base * (0.75 + 0.25 * this.random()));
    }

    private async transmit(t: Transmission): Promise<ArmResponse> {
        const path = redactUrl(t.url);
        for (let attempt = 1; ; attempt++) {
            const headers: Record<string, string> = { "user-agent": this.userAgent, ...t.headers };
            if (t.scope) headers.authorization = `Bearer ${await this.tokens.getToken(t.scope)}`;
            this.stats.requests++;
            this.stats.byMethod[t.method] = (this.stats.byMethod[t.method] ?? 0) + 1;
            let res: Response;
            try {
                res = await this.fetchImpl(t.url, { method: t.method, headers, body: t.body, signal: AbortSignal.timeout(this.requestTimeoutMs) });
            } catch (e) {
                const reason = e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e);
                if (attempt >= this.retry.maxAttempts || !isIdempotent(t.method)) throw new ArmError(0, "NetworkError", reason, t.method, path, attempt);
                this.stats.retries++;
                await this.waitToRetry(t, this.backoffMs(attempt), path, 0, "NetworkError", reason, attempt);
                continue;
            }
            const body = await readBody(res, t.text === true);
            const disposition = classify(t.method, res.status, body);
            if (!disposition.retry) {
                if (res.status >= 400 && !(t.acceptStatuses ?? []).includes(res.status)) {
                    const { code, message } = errorDetails(body, res.status);
                    throw new ArmError(res.status, code, message, t.method, path, attempt);
                }
                return { status: res.status, headers: res.headers, body };
            }
            if (disposition.throttled) this.stats.throttled++;
            if (attempt >= this.retry.maxAttempts) {
                const { code, message } = errorDetails(body, res.status);
                throw new ArmError(res.status, code, message, t.method, path, attempt);
            }
            const asked = retryAfterMs(res.headers, this.clock.now());
            const delay = disposition.honourRetryAfter && asked !== undefined ? asked : Math.max(this.backoffMs(attempt), asked ?? 0);
            this.stats.retries++;
            const { code, message } = errorDetails(body, res.status);
            await this.waitToRetry(t, delay, path, res.status, code, message, attempt);
        }
    }

    /** Sleeps before a retry, unless the wait would pass the call's deadline: then fails with what Azure said. */
    private async waitToRetry(t: Transmission, delay: number, path: string, status: number, code: string, message: string, attempt: number): Promise<void> {
        if (t.deadline !== undefined && this.clock.now() + delay > t.deadline) {
            const left = Math.max(0, t.deadline - this.clock.now());
            throw new ArmError(status, code, `${message}; Azure asked to retry in ${formatDuration(delay)}, but only ${formatDuration(left)} remain before this step's deadline`, t.method, path, attempt);
        }
        if (this.maxRetryWaitMs !== undefined && delay > this.maxRetryWaitMs) {
            throw new ArmError(status, code, `${message}; Azure asked to retry in ${formatDuration(delay)}, longer than this tool waits for one call (${formatDuration(this.maxRetryWaitMs)})`, t.method, path, attempt);
        }
        await this.sleep(delay, `a retry of ${t.method} ${path} (HTTP ${status || "no response"} ${code})`);
    }
}

async function readBody(res: Response, asText: boolean): Promise<unknown> {
    const text = await res.text();
    if (asText) return text;
    if (!text.trim()) return undefined;
    try {
        return JSON.parse(text) as unknown;
    } catch {
        return text;
    }
}

type PollMode = "done" | "async" | "location" | "resource";

/**
 * Tracks one long-running operation the way ARM documents it: poll Azure-AsyncOperation
 * when present (terminal status Succeeded/Failed/Canceled), else Location (202 = running),
 * else the resource's provisioningState; wait Retry-After (or the default) between polls.
 */
export class LroPoller {
    private mode: PollMode;
    private readonly asyncUrl?: string;
    private readonly locationUrl?: string;
    private lastHeaders: Headers;
    private finalBody: unknown;
    /** Last status seen: InProgress, Succeeded, Failed, Canceled (or an RP's own running state). */
    status: string;

    constructor(
        private readonly client: ArmClient,
        private readonly method: HttpMethod,
        private readonly path: string,
        private readonly options: RequestOptions,
        readonly initial: ArmResponse,
        private readonly defaultIntervalMs: number,
        private readonly finalStateVia: FinalStateVia = "location",
    ) {
        this.lastHeaders = initial.headers;
        this.asyncUrl = initial.headers.get("azure-asyncoperation") ?? undefined;
        this.locationUrl = initial.headers.get("location") ?? undefined;
        this.status = "InProgress";
        const provisioningState = optionalString(initial.body, "properties.provisioningState");
        if (initial.status === 204) {
            this.mode = "done";
        } else if (this.asyncUrl && initial.status <= 202) {
            this.mode = "async";
        } else if (this.locationUrl && initial.status === 202) {
            this.mode = "location";
        } else if ((method === "PUT" || method === "PATCH") && provisioningState !== undefined && !isTerminalStatus(provisioningState)) {
            this.mode = "resource";
        } else if (initial.status === 202) {
            throw new ArmError(202, "NoOperationUrl", "the service accepted the request but sent neither Azure-AsyncOperation nor Location to poll", method, redactUrl(client.url(path, options)), 1);
        } else {
            this.mode = "done";
        }
        if (this.mode === "done") {
            this.status = "Succeeded";
            this.finalBody = initial.body;
            if (provisioningState !== undefined && /^(failed|canceled)$/i.test(provisioningState)) this.fail(provisioningState, initial.body);
        }
    }

    get done(): boolean {
        return this.mode === "done";
    }

    /** The final body (resource for PUT/PATCH, result for POST, undefined for DELETE) once done. */
    get result(): unknown {
        return this.finalBody;
    }

    /** How long to wait before the next poll: Retry-After from the last response, else the default. */
    nextPollDelayMs(): number {
        return retryAfterMs(this.lastHeaders, this.client.clock.now()) ?? this.defaultIntervalMs;
    }

    /** One status request (no waiting). Throws LroFailedError when the operation failed. */
    async poll(): Promise<void> {
        if (this.mode === "done") return;
        if (this.mode === "async" && this.asyncUrl) {
            const res = await this.client.request("GET", this.asyncUrl);
            this.lastHeaders = res.headers;
            const status = optionalString(res.body, "status") ?? "InProgress";
            this.status = status;
            if (!isTerminalStatus(status)) return;
            if (!/^succeeded$/i.test(status)) this.fail(status, res.body);
            await this.finish(res.body);
            return;
        }
        if (this.mode === "location" && this.locationUrl) {
            const res = await this.client.request("GET", this.locationUrl);
            this.lastHeaders = res.headers;
            if (res.status === 202) return;
            this.status = "Succeeded";
            if (this.method === "PUT" || (this.method !== "DELETE" && this.finalStateVia === "original-uri")) {
                this.finalBody = await this.client.get(this.path, { apiVersion: this.options.apiVersion, headers: this.options.headers });
            } else {
                this.finalBody = this.method === "DELETE" ? undefined : res.body;
            }
            this.mode = "done";
            return;
        }
        const res = await this.client.request("GET", this.path, { apiVersion: this.options.apiVersion, headers: this.options.headers });
        this.lastHeaders = res.headers;
        const state = optionalString(res.body, "properties.provisioningState") ?? "Succeeded";
        this.status = state;
        if (!isTerminalStatus(state)) return;
        if (!/^succeeded$/i.test(state)) this.fail(state, res.body);
        this.mode = "done";
        this.finalBody = res.body;
    }

    /** Polls (waiting between polls) until the operation ends; throws on Failed/Canceled or timeout. */
    async pollUntilDone(timeoutMs?: number): Promise<unknown> {
        const deadline = timeoutMs === undefined ? undefined : this.client.clock.now() + timeoutMs;
        const what = `${this.method} ${redactUrl(this.client.url(this.path, this.options))} to finish`;
        while (!this.done) {
            const delay = this.nextPollDelayMs();
            if (deadline !== undefined && this.client.clock.now() + delay > deadline) {
                // Polling before Retry-After would be refused: wait out the deadline, then stop.
                await this.client.sleep(deadline - this.client.clock.now(), what);
                const askedNote = delay > this.defaultIntervalMs ? `; Azure asked to poll again only after ${formatDuration(delay)}` : "";
                throw new ArmError(0, "OperationTimedOut", `the operation did not finish within ${formatDuration(timeoutMs ?? 0)} (last status ${this.status}${askedNote})`, this.method, redactUrl(this.client.url(this.path, this.options)), 1);
            }
            await this.client.sleep(delay, what);
            await this.poll();
        }
        return this.finalBody;
    }

    private async finish(operationBody: unknown): Promise<void> {
        this.status = "Succeeded";
        const via = this.finalStateVia;
        if (this.method === "DELETE") {
            this.finalBody = undefined;
        } else if (this.method === "PUT" || via === "original-uri" || (this.method === "PATCH" && !(via === "location" && this.locationUrl))) {
            this.finalBody = await this.client.get(this.path, { apiVersion: this.options.apiVersion, headers: this.options.headers });
        } else if (via === "location" && this.locationUrl) {
            const res = await this.client.request("GET", this.locationUrl);
            this.finalBody = res.body;
        } else {
            this.finalBody = isRecord(operationBody) && "properties" in operationBody ? operationBody.properties : undefined;
        }
        this.mode = "done";
    }

    private fail(status: string, body: unknown): never {
        this.status = status;
        const inner = isRecord(body) && isRecord(body.error) ? body.error : isRecord(body) ? optionalRecordOrSelf(body) : undefined;
        const code = optionalString(inner, "code") ?? (/^canceled$/i.test(status) ? "OperationCanceled" : "OperationFailed");
        const message = optionalString(inner, "message") ?? `the operation ended ${status}`;
        throw new LroFailedError(status, code, message, this.method, redactUrl(this.client.url(this.path, this.options)));
    }
}

/** Resource bodies carry a failure under properties.provisioningError or properties.error, when at all. */
function optionalRecordOrSelf(body: Record<string, unknown>): unknown {
    const props = isRecord(body.properties) ? body.properties : undefined;
    if (props && isRecord(props.error)) return props.error;
    if (props && isRecord(props.provisioningError)) {
        const pe = props.provisioningError;
        return { code: pe.provisioningErrorCode ?? pe.code, message: pe.message };
    }
    return undefined;
}
