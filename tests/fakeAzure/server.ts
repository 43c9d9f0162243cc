// A local fake of the Azure REST API on 127.0.0.1 for the deploy-time tools' tests.
// The core does what every ARM call shares: bearer auth, api-version checks with ARM's
// error shape, per-subscription read/write token buckets answering 429 + Retry-After,
// failure injection, long-running operations (Azure-AsyncOperation and Location), paging,
// a request log, and a record of every request that came sooner than a Retry-After allowed.
// Resource providers plug in as modules (see README.md); their bodies come from Azure's own
// example payloads, vendored in tests/fakeAzure/examples (copied from Azure/azure-rest-api-specs;
// examples/sources.tsv names each file's origin).
import { createHash, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { systemClock, type Clock } from "../../tools/azure/clock";

export const FAKE_SUBSCRIPTION_ID = "6c3b1f0e-8d2a-4e5b-9f71-2a4c8e0d5b93";
export const FAKE_TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/** Where Azure's example payloads live; override with AZURE_API_EXAMPLES_DIR. */
export function examplesDir(): string {
    return process.env.AZURE_API_EXAMPLES_DIR ?? path.resolve(__dirname, "examples");
}

/**
 * One response body of an Azure x-ms-examples file, deep-copied, with the example's
 * `{subscription-id}`-style placeholders replaced by the fake's subscription.
 */
export function exampleBody(relativeFile: string, status: string, subscriptionId = FAKE_SUBSCRIPTION_ID): Record<string, unknown> {
    const file = path.join(examplesDir(), relativeFile);
    const key = `${file}\n${status}\n${subscriptionId}`;
    let body = parsedExamples.get(key);
    if (!body) {
        let raw: string;
        try {
            raw = readFileSync(file, "utf8");
        } catch {
            throw new Error(`the fake Azure needs Azure's example payload ${file}; set AZURE_API_EXAMPLES_DIR to the azure-api-examples folder`);
        }
        const text = raw.replace(/\{subscription-?[iI]d\}/g, subscriptionId);
        body = asRecord(asRecord(asRecord(asRecord(JSON.parse(text) as unknown).responses)[status]).body);
        if (Object.keys(body).length === 0) throw new Error(`${relativeFile} has no ${status} response body`);
        parsedExamples.set(key, body);
    }
    return structuredClone(body);
}

/**
 * The first item of an example list body (`value[0]`), deep-copied: list routes render one item
 * per resource, so copying only the item (not the example's whole list) keeps a 1,000-host page cheap.
 */
export function exampleListItem(relativeFile: string, status: string, subscriptionId = FAKE_SUBSCRIPTION_ID): Record<string, unknown> {
    const key = `${relativeFile}\n${status}\n${subscriptionId}\nvalue[0]`;
    let item = parsedExamples.get(key);
    if (!item) {
        const value = exampleBody(relativeFile, status, subscriptionId).value;
        item = asRecord(Array.isArray(value) ? value[0] : undefined);
        if (Object.keys(item).length === 0) throw new Error(`${relativeFile} has no ${status} list item`);
        parsedExamples.set(key, item);
    }
    return structuredClone(item);
}

/** The items of an example whose response body is a bare JSON array (e.g. VirtualMachineImages_List). */
export function exampleList(relativeFile: string, status: string, subscriptionId = FAKE_SUBSCRIPTION_ID): Record<string, unknown>[] {
    const file = path.join(examplesDir(), relativeFile);
    let raw: string;
    try {
        raw = readFileSync(file, "utf8");
    } catch {
        throw new Error(`the fake Azure needs Azure's example payload ${file}; set AZURE_API_EXAMPLES_DIR to the azure-api-examples folder`);
    }
    const body = asRecord(asRecord(asRecord(JSON.parse(raw.replace(/\{subscription-?[iI]d\}/g, subscriptionId)) as unknown).responses)[status]).body;
    if (!Array.isArray(body) || body.length === 0) throw new Error(`${relativeFile} has no ${status} response list`);
    return body.map(asRecord);
}

/** Each example is read and parsed once; callers get their own copy. */
const parsedExamples = new Map<string, Record<string, unknown>>();

function asRecord(value: unknown): Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

export type Method = "GET" | "PUT" | "PATCH" | "POST" | "DELETE" | "HEAD";

export interface FakeRequest {
    method: Method;
    /** Decoded path, no query. */
    path: string;
    url: URL;
    query: URLSearchParams;
    /** Values of `{name}` placeholders in the route pattern. */
    params: Record<string, string>;
    headers: http.IncomingHttpHeaders;
    /** Parsed JSON body, or undefined. */
    body: unknown;
    rawBody: string;
    /** Fake time of the request (ms). */
    now: number;
}

export interface FakeResponse {
    status: number;
    /** JSON body. */
    body?: unknown;
    /** Non-JSON body (blob content, XML); sent as-is. */
    text?: string;
    headers?: Record<string, string>;
}

export type Handler = (req: FakeRequest) => FakeResponse | Promise<FakeResponse>;

export interface RouteSpec {
    method: Method;
    /** ARM path with `{name}` placeholders (one segment) and an optional trailing `{*name}` (the rest). */
    pattern: string;
    /** api-version(s) the route accepts. Required for ARM routes. */
    apiVersion?: string | string[];
    handler: Handler;
    /** Not an ARM call (e.g. blob data plane): no bearer, api-version or ARM throttling checks. */
    raw?: boolean;
}

/** A resource-provider module: registers its routes when installed. */
export interface ResourceProviderModule {
    install(fake: FakeAzure): void;
}

export interface BucketConfig {
    capacity: number;
    refillPerSecond: number;
}

export interface ThrottleConfig {
    reads: BucketConfig;
    writes: BucketConfig;
}

export interface FakeAzureOptions {
    clock?: Clock;
    subscriptionId?: string;
    /** When set, only this bearer token is accepted. */
    acceptToken?: string;
    /** ARM's subscription token buckets (defaults: reads 250 @ 25/s, writes 200 @ 10/s); false turns throttling off. */
    throttle?: Partial<ThrottleConfig> | false;
    /** Retry-After (s) on running operations; 0 still sends the header. */
    operationRetryAfterSeconds?: number;
    /** Polls an operation takes before it completes when its module does not drive it. */
    defaultOperationPolls?: number;
    /** Items per page in lists before a nextLink. */
    pageSize?: number;
    /** Applied-then-lost responses for a share of requests (see LostResponses). */
    lostResponses?: LostResponses;
}

export interface RequestRecord {
    method: Method;
    path: string;
    /** Query string with any `sig` redacted. */
    query: string;
    time: number;
    status: number;
    /** Route pattern that handled it (undefined when none matched). */
    route?: string;
    /** Answered by the throttle or by an injected failure rather than the route. */
    throttled: boolean;
    injected: boolean;
    /** The route handled the request, but its response was replaced by a 5xx or a dropped connection. */
    lost?: boolean;
    /** "bearer", "sas" or "none": how the request authenticated. */
    auth: "bearer" | "sas" | "none";
    /** The User-Agent header the client sent. */
    userAgent?: string;
}

export interface RetryAfterViolation {
    method: Method;
    path: string;
    /** What had asked the client to wait: a throttled bucket, an injected failure, or an operation's Retry-After. */
    reason: string;
    time: number;
    notBefore: number;
    earlyByMs: number;
}

export interface InjectedFailure {
    method?: Method;
    /** RegExp tested on the path, or a string equal to the path or to the route pattern (case-insensitive). */
    path: RegExp | string;
    /** How many matching requests fail (default 1). */
    count?: number;
    status: number;
    code?: string;
    message?: string;
    retryAfterSeconds?: number;
    headers?: Record<string, string>;
    /**
     * Applied, then lost: the route handles the request (state changes, operations start) and
     * only then the client gets `status` (a 5xx) instead of the real answer, or, with
     * `status: 0`, the connection is dropped without any answer. As Azure behaves when a
     * gateway times out or a connection breaks after the RP accepted the request.
     */
    applied?: boolean;
}

/** A share of all requests (or of one method's) that are applied and then answered with a 5xx or a dropped connection. */
export interface LostResponses {
    /** 0..1: the chance that a matching request's response is lost. */
    rate: number;
    method?: Method;
    path?: RegExp;
    /** Deterministic source in [0, 1); default a seeded generator, so a failing test repeats. */
    random?: () => number;
}

export type OperationOutcome =
    | { status: "Succeeded"; result?: unknown }
    | { status: "Failed" | "Canceled"; error: { code: string; message: string }; httpStatus?: number };

export interface OperationSpec {
    /** Provider namespace and location for the status URL (`/providers/{ns}/locations/{loc}/operations/{id}`). */
    namespace: string;
    location: string;
    apiVersion: string;
    subscriptionId?: string;
    /** Collection segment of the status URL; Compute uses `capsOperations` for galleries. */
    collection?: string;
    /**
     * Called on every poll (either URL); return an outcome to finish. Defaults to finishing
     * Succeeded after `polls` polls.
     */
    advance?: (pollNumber: number) => OperationOutcome | undefined;
    polls?: number;
    /** Runs once when the operation finishes Succeeded (after `polls` polls when no `advance`). */
    onSucceeded?: () => unknown;
    retryAfterSeconds?: number;
}

export interface FakeOperation {
    id: string;
    asyncUrl: string;
    locationUrl: string;
    startTime: string;
    status: "InProgress" | "Succeeded" | "Failed" | "Canceled";
    endTime?: string;
    error?: { code: string; message: string };
    polls: number;
}

interface OperationState extends FakeOperation {
    spec: OperationSpec;
    result?: unknown;
    httpStatus?: number;
}

interface Route extends RouteSpec {
    segments: string[];
    versions: string[];
}

interface Bucket {
    tokens: number;
    updatedAt: number;
}

const DEFAULT_THROTTLE: ThrottleConfig = {
    reads: { capacity: 250, refillPerSecond: 25 },
    writes: { capacity: 200, refillPerSecond: 10 },
};

export class FakeAzure {
    readonly clock: Clock;
    readonly subscriptionId: string;
    readonly requests: RequestRecord[] = [];
    readonly violations: RetryAfterViolation[] = [];
    pageSize: number;
    operationRetryAfterSeconds: number;
    defaultOperationPolls: number;
    private readonly routes: Route[] = [];
    private readonly failures: Array<Required<Pick<InjectedFailure, "count">> & InjectedFailure> = [];
    private lostResponses?: LostResponses;
    private readonly operations = new Map<string, OperationState>();
    private readonly buckets = new Map<string, Bucket>();
    private readonly notBefore = new Map<string, { time: number; reason: string }>();
    private throttle: ThrottleConfig | undefined;
    private readonly acceptToken?: string;
    private server?: http.Server;
    private base = "";

    constructor(options: FakeAzureOptions = {}) {
        this.clock = options.clock ?? systemClock;
        this.subscriptionId = options.subscriptionId ?? FAKE_SUBSCRIPTION_ID;
        this.acceptToken = options.acceptToken;
        this.pageSize = options.pageSize ?? 100;
        this.operationRetryAfterSeconds = options.operationRetryAfterSeconds ?? 10;
        this.defaultOperationPolls = options.defaultOperationPolls ?? 2;
        this.setLostResponses(options.lostResponses);
        this.throttle = options.throttle === false ? undefined : mergeThrottle(options.throttle);
        this.route({ method: "GET", pattern: "/subscriptions/{subscriptionId}/providers/{namespace}/locations/{location}/{collection}/{operationId}", handler: (req) => this.operationStatus(req) });
    }

    /** http://127.0.0.1:<port>, once started. */
    get url(): string {
        if (!this.base) throw new Error("the fake Azure server is not started");
        return this.base;
    }

    async start(): Promise<string> {
        this.server = http.createServer((req, res) => {
            this.handle(req, res).catch((e: unknown) => {
                res.writeHead(500, { "content-type": "application/json" });
                res.end(JSON.stringify({ error: { code: "FakeAzureInternalError", message: e instanceof Error ? e.message : String(e) } }));
            });
        });
        await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
        const address = this.server.address() as AddressInfo;
        this.base = `http://127.0.0.1:${address.port}`;
        return this.base;
    }

    async stop(): Promise<void> {
        const server = this.server;
        if (!server) return;
        this.server = undefined;
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
    }

    /** Installs a resource-provider module and returns it, for chaining in tests. */
    use<M extends ResourceProviderModule>(module: M): M {
        module.install(this);
        return module;
    }

    route(spec: RouteSpec): void {
        if (!spec.raw && spec.apiVersion === undefined && !spec.pattern.includes("{operationId}")) {
            throw new Error(`route ${spec.method} ${spec.pattern} needs an apiVersion`);
        }
        const versions = spec.apiVersion === undefined ? [] : Array.isArray(spec.apiVersion) ? spec.apiVersion : [spec.apiVersion];
        this.routes.push({ ...spec, segments: spec.pattern.split("/").slice(1), versions });
    }

    /** Sets (or with undefined, ends) the share of applied-then-lost responses. */
    setLostResponses(lost: LostResponses | undefined): void {
        this.lostResponses = lost && { ...lost, random: lost.random ?? seededRandom(0x5eed) };
    }

    private loseResponse(method: Method, p: string, raw: boolean): number | undefined {
        const lost = this.lostResponses;
        if (!lost || raw || lost.rate <= 0) return undefined;
        if (lost.method && lost.method !== method) return undefined;
        if (lost.path && !lost.path.test(p)) return undefined;
        // Status polls are never lost: the client would only poll again, which proves nothing.
        if (/\/(operations|capsOperations|operationResults)\//i.test(p)) return undefined;
        const r = lost.random!;
        if (r() >= lost.rate) return undefined;
        const choices = [0, 500, 502, 504];
        return choices[Math.floor(r() * choices.length)];
    }

    /** The next `count` requests matching `failure` answer with its status and ARM error body. */
    injectFailure(failure: InjectedFailure): void {
        this.failures.push({ ...failure, count: failure.count ?? 1 });
    }

    setThrottle(throttle: Partial<ThrottleConfig> | false): void {
        this.throttle = throttle === false ? undefined : mergeThrottle(throttle);
        this.buckets.clear();
    }

    /** Empties a subscription's bucket so the next request of that kind is throttled. */
    drainBucket(kind: "reads" | "writes", subscriptionId = this.subscriptionId): void {
        this.buckets.set(`${subscriptionId.toLowerCase()}|${kind}`, { tokens: 0, updatedAt: this.clock.now() });
    }

    requestsMatching(method: Method | undefined, pathPattern: RegExp): RequestRecord[] {
        return this.requests.filter((r) => (!method || r.method === method) && pathPattern.test(r.path));
    }

    isoNow(offsetMs = 0): string {
        return new Date(this.clock.now() + offsetMs).toISOString();
    }

    // ---- helpers for modules ----

    /** An ARM error response. */
    error(status: number, code: string, message: string, headers?: Record<string, string>): FakeResponse {
        return { status, body: { error: { code, message } }, headers };
    }

    notFound(resourceType: string, name: string, resourceGroupName: string): FakeResponse {
        return this.error(404, "ResourceNotFound", `The Resource '${resourceType}/${name}' under resource group '${resourceGroupName}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`);
    }

    /** True for the first page of a list request (no continuation token). */
    isFirstPage(req: FakeRequest): boolean {
        return !req.query.has("$skiptoken");
    }

    /**
     * One page of `items` for a list request, with a nextLink when more remain. `render` builds a
     * response item; only the items of the requested page are rendered.
     */
    page<T>(req: FakeRequest, items: readonly T[], render: (item: T) => unknown = (item) => item): FakeResponse {
        const skip = Number(req.query.get("$skiptoken") ?? "0") || 0;
        const value = items.slice(skip, skip + this.pageSize).map(render);
        const body: Record<string, unknown> = { value };
        if (skip + this.pageSize < items.length) {
            const next = new URL(this.url + req.url.pathname);
            req.query.forEach((v, k) => next.searchParams.set(k, v));
            next.searchParams.set("$skiptoken", String(skip + this.pageSize));
            body.nextLink = next.toString();
        }
        return { status: 200, body };
    }

    /** Starts a long-running operation and returns its status URLs. */
    startOperation(spec: OperationSpec): FakeOperation {
        const id = randomUUID();
        const sub = spec.subscriptionId ?? this.subscriptionId;
        const pathPart = `/subscriptions/${sub}/providers/${spec.namespace}/locations/${spec.location}/${spec.collection ?? "operations"}/${id}`;
        const op: OperationState = {
            id,
            asyncUrl: `${this.url}${pathPart}?api-version=${spec.apiVersion}`,
            locationUrl: `${this.url}${pathPart}?monitor=true&api-version=${spec.apiVersion}`,
            startTime: this.isoNow(),
            status: "InProgress",
            polls: 0,
            spec,
        };
        this.operations.set(id, op);
        return op;
    }

    /** The operation's current state (for modules that read it back). */
    operation(id: string): FakeOperation | undefined {
        return this.operations.get(id);
    }

    /**
     * 202 Accepted for `op`, with the headers the operation's API sends. Microsoft.Compute
     * (VMSS, Run Command, galleries) always sends both Azure-AsyncOperation and Location, as the
     * gallery examples show and live Compute responses do; the spec's final-state-via picks which
     * one the client reads the result from.
     */
    accepted(op: FakeOperation, headers: { asyncOperation?: boolean; location?: boolean }, status = 202, body?: unknown): FakeResponse {
        const h: Record<string, string> = { "retry-after": String(this.operationRetryAfterSeconds) };
        const compute = this.operations.get(op.id)?.spec.namespace.toLowerCase() === "microsoft.compute";
        if (headers.asyncOperation || compute) h["azure-asyncoperation"] = op.asyncUrl;
        if (headers.location || compute) h.location = op.locationUrl;
        return { status, headers: h, body };
    }

    // ---- request pipeline ----

    private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
        const rawBody = await readAll(req);
        const url = new URL(req.url ?? "/", this.base || "http://127.0.0.1");
        const method = (req.method ?? "GET").toUpperCase() as Method;
        const now = this.clock.now();
        const decodedPath = decodeURIComponent(url.pathname).replace(/\/+$/, "") || "/";
        const authHeader = req.headers.authorization;
        const record: RequestRecord = {
            method,
            path: decodedPath,
            query: url.search.replace(/([?&]sig=)[^&]*/i, "$1REDACTED"),
            time: now,
            status: 0,
            throttled: false,
            injected: false,
            auth: authHeader ? "bearer" : url.searchParams.has("sig") ? "sas" : "none",
            userAgent: req.headers["user-agent"],
        };
        this.requests.push(record);
        const send = (r: FakeResponse) => {
            record.status = r.status;
            const headers: Record<string, string> = {
                "x-ms-request-id": randomUUID(),
                "x-ms-correlation-request-id": randomUUID(),
                ...r.headers,
            };
            let payload = "";
            if (r.text !== undefined) payload = r.text;
            else if (r.body !== undefined) {
                payload = JSON.stringify(r.body);
                headers["content-type"] = "application/json; charset=utf-8";
            }
            // Azure always sends Content-Length (the Storage SDK refuses a download without it).
            headers["content-length"] = String(Buffer.byteLength(payload));
            res.writeHead(r.status, headers);
            res.end(method === "HEAD" ? undefined : payload);
        };

        const match = this.match(method, decodedPath);
        if (!match) {
            const other = this.routes.some((r) => matchSegments(r.segments, decodedPath) !== undefined);
            send(other
                ? this.error(405, "MethodNotAllowed", `The requested resource does not support http method '${method}'.`)
                : this.error(404, "InvalidResourceType", `The fake Azure has no route for ${method} ${decodedPath}.`));
            return;
        }
        const { route, params } = match;
        record.route = route.pattern;

        let body: unknown;
        if (rawBody.trim()) {
            try {
                body = JSON.parse(rawBody);
            } catch {
                if (!route.raw) {
                    send(this.error(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized."));
                    return;
                }
            }
        }

        const clientKey = createHash("sha256").update(authHeader ?? url.searchParams.get("sig") ?? "anonymous").digest("hex").slice(0, 16);
        const subscriptionId = params.subscriptionId;

        if (!route.raw) {
            const auth = this.checkAuth(authHeader);
            if (auth) {
                send(auth);
                return;
            }
            const versionProblem = this.checkApiVersion(route, url.searchParams.get("api-version"));
            if (versionProblem) {
                send(versionProblem);
                return;
            }
        }

        // A request that arrives before a Retry-After it was given is recorded, whatever answers it.
        const isRead = method === "GET" || method === "HEAD";
        const bucketKey = subscriptionId && !route.raw ? `${subscriptionId.toLowerCase()}|${isRead ? "reads" : "writes"}` : undefined;
        const routeKey = `${method} ${decodedPath.toLowerCase()}`;
        const keys = [bucketKey && `${clientKey}|bucket|${bucketKey}`, `${clientKey}|route|${routeKey}`].filter((k): k is string => Boolean(k));
        let bucketEarly = false;
        for (const key of keys) {
            const nb = this.notBefore.get(key);
            if (nb && now < nb.time) {
                this.violations.push({ method, path: decodedPath, reason: nb.reason, time: now, notBefore: nb.time, earlyByMs: nb.time - now });
                if (key.includes("|bucket|")) bucketEarly = true;
            }
        }

        const remaining: Record<string, string> = {};
        if (bucketKey && this.throttle) {
            const kind = isRead ? "reads" : "writes";
            const take = this.takeToken(bucketKey, this.throttle[kind], now, bucketEarly);
            if (!take.ok) {
                record.throttled = true;
                this.notBefore.set(`${clientKey}|bucket|${bucketKey}`, { time: now + take.retryAfterSeconds * 1000, reason: `429 from the subscription ${kind} bucket` });
                send(this.error(429, "TooManyRequests", `The request is being throttled as the limit has been reached for operation type - ${isRead ? "Read" : "Write"}. For more information, see - https://aka.ms/armthrottling`, {
                    "retry-after": String(take.retryAfterSeconds),
                    [`x-ms-ratelimit-remaining-subscription-${kind}`]: "0",
                }));
                return;
            }
            remaining[`x-ms-ratelimit-remaining-subscription-${kind}`] = String(take.remaining);
        }

        const failure = this.takeFailure(method, decodedPath, route.pattern);
        if (failure && !failure.applied) {
            record.injected = true;
            const headers: Record<string, string> = { ...remaining, ...failure.headers };
            if (failure.retryAfterSeconds !== undefined) {
                headers["retry-after"] = String(failure.retryAfterSeconds);
                this.notBefore.set(`${clientKey}|route|${routeKey}`, { time: now + failure.retryAfterSeconds * 1000, reason: `injected ${failure.status} with Retry-After ${failure.retryAfterSeconds}` });
            }
            send(this.error(failure.status, failure.code ?? defaultCode(failure.status), failure.message ?? `Injected failure for ${method} ${decodedPath}.`, headers));
            return;
        }

        const response = await route.handler({ method, path: decodedPath, url, query: url.searchParams, params, headers: req.headers, body, rawBody, now });
        const lostStatus = failure?.applied ? failure.status : this.loseResponse(method, decodedPath, route.raw === true);
        if (lostStatus !== undefined) {
            record.injected = true;
            record.lost = true;
            if (lostStatus === 0) {
                record.status = 0;
                req.socket.destroy();
                return;
            }
            send(this.error(lostStatus, failure?.code ?? defaultCode(lostStatus), failure?.message ?? "The gateway did not receive a response from the service in time.", { ...remaining, ...failure?.headers }));
            return;
        }
        const retryAfter = response.headers?.["retry-after"];
        if (retryAfter !== undefined && /^\d+$/.test(retryAfter)) {
            this.notBefore.set(`${clientKey}|route|${routeKey}`, { time: now + Number(retryAfter) * 1000, reason: `Retry-After ${retryAfter} on ${response.status} from ${route.pattern}` });
        }
        // Status URLs are polled at a different path than the request that returned them.
        for (const header of ["azure-asyncoperation", "location"]) {
            const target = response.headers?.[header];
            if (target && retryAfter !== undefined && /^\d+$/.test(retryAfter) && target.startsWith(this.base)) {
                const targetPath = decodeURIComponent(new URL(target).pathname).toLowerCase();
                this.notBefore.set(`${clientKey}|route|GET ${targetPath}`, { time: now + Number(retryAfter) * 1000, reason: `Retry-After ${retryAfter} on the operation started by ${method} ${decodedPath}` });
            }
        }
        send({ ...response, headers: { ...remaining, ...response.headers } });
    }

    private match(method: Method, p: string): { route: Route; params: Record<string, string> } | undefined {
        // Literal-heavy routes win over the generic operation-status route.
        let best: { route: Route; params: Record<string, string>; literals: number } | undefined;
        for (const route of this.routes) {
            if (route.method !== method && !(method === "HEAD" && route.method === "GET")) continue;
            const params = matchSegments(route.segments, p);
            if (!params) continue;
            const literals = route.segments.filter((s) => !s.startsWith("{")).length;
            if (!best || literals > best.literals) best = { route, params, literals };
        }
        return best && { route: best.route, params: best.params };
    }

    private checkAuth(header: string | undefined): FakeResponse | undefined {
        if (!header) {
            return this.error(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.");
        }
        const m = /^Bearer\s+(\S+)$/i.exec(header);
        if (!m) return this.error(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is provided in an invalid format.");
        if (this.acceptToken !== undefined && m[1] !== this.acceptToken) {
            return this.error(401, "InvalidAuthenticationToken", "The access token is invalid.");
        }
        return undefined;
    }

    private checkApiVersion(route: Route, given: string | null): FakeResponse | undefined {
        if (route.versions.length === 0) return undefined;
        if (!given) {
            return this.error(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.");
        }
        if (!route.versions.includes(given)) {
            return this.error(400, "InvalidApiVersionParameter", `The api-version '${given}' is invalid. The supported versions are '${route.versions.join(",")}'.`);
        }
        return undefined;
    }

    private takeToken(key: string, config: BucketConfig, now: number, early: boolean): { ok: true; remaining: number } | { ok: false; retryAfterSeconds: number } {
        const bucket = this.buckets.get(key) ?? { tokens: config.capacity, updatedAt: now };
        bucket.tokens = Math.min(config.capacity, bucket.tokens + ((now - bucket.updatedAt) / 1000) * config.refillPerSecond);
        bucket.updatedAt = now;
        this.buckets.set(key, bucket);
        // ARM answers a request sent before its Retry-After with a fresh Retry-After.
        if (bucket.tokens >= 1 && !early) {
            bucket.tokens -= 1;
            return { ok: true, remaining: Math.floor(bucket.tokens) };
        }
        const missing = Math.max(1 - bucket.tokens, 0);
        return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(missing / config.refillPerSecond)) };
    }

    private takeFailure(method: Method, p: string, pattern: string): InjectedFailure | undefined {
        const i = this.failures.findIndex((f) => {
            if (f.method && f.method !== method) return false;
            if (f.path instanceof RegExp) return f.path.test(p);
            const want = f.path.toLowerCase();
            return want === p.toLowerCase() || want === pattern.toLowerCase();
        });
        if (i < 0) return undefined;
        const f = this.failures[i];
        f.count -= 1;
        if (f.count <= 0) this.failures.splice(i, 1);
        return f;
    }

    private operationStatus(req: FakeRequest): FakeResponse {
        const op = this.operations.get(req.params.operationId);
        if (!op || op.spec.namespace.toLowerCase() !== req.params.namespace.toLowerCase()) {
            return this.error(404, "OperationNotFound", `The operation '${req.params.operationId}' was not found.`);
        }
        const version = req.query.get("api-version");
        if (version !== op.spec.apiVersion) {
            return this.error(400, "InvalidApiVersionParameter", `The api-version '${version ?? ""}' is invalid. The supported versions are '${op.spec.apiVersion}'.`);
        }
        if (op.status === "InProgress") {
            op.polls += 1;
            const outcome = op.spec.advance ? op.spec.advance(op.polls) : op.polls >= (op.spec.polls ?? this.defaultOperationPolls) ? { status: "Succeeded" as const, result: op.spec.onSucceeded?.() } : undefined;
            if (outcome) {
                op.status = outcome.status;
                op.endTime = this.isoNow();
                if (outcome.status === "Succeeded") op.result = outcome.result;
                else {
                    op.error = outcome.error;
                    op.httpStatus = outcome.httpStatus;
                }
            }
        }
        const retryAfter = String(op.spec.retryAfterSeconds ?? this.operationRetryAfterSeconds);
        const isLocation = req.query.get("monitor") === "true";
        if (isLocation) {
            if (op.status === "InProgress") return { status: 202, headers: { location: op.locationUrl, "retry-after": retryAfter } };
            if (op.status === "Succeeded") return op.result === undefined ? { status: 204 } : { status: 200, body: op.result };
            return this.error(op.httpStatus ?? 400, op.error?.code ?? "OperationFailed", op.error?.message ?? `The operation ended ${op.status}.`);
        }
        const body: Record<string, unknown> = { id: `${req.path}`, name: op.id, status: op.status, startTime: op.startTime };
        if (op.endTime) body.endTime = op.endTime;
        if (op.error) body.error = op.error;
        return { status: 200, body, headers: op.status === "InProgress" ? { "retry-after": retryAfter } : {} };
    }
}

function mergeThrottle(partial: Partial<ThrottleConfig> | undefined): ThrottleConfig {
    return {
        reads: { ...DEFAULT_THROTTLE.reads, ...partial?.reads },
        writes: { ...DEFAULT_THROTTLE.writes, ...partial?.writes },
    };
}

function defaultCode(status: number): string {
    switch (status) {
        case 429:
            return "TooManyRequests";
        case 500:
            return "InternalServerError";
        case 502:
            return "BadGateway";
        case 503:
            return "ServiceUnavailable";
        case 504:
            return "GatewayTimeout";
        case 409:
            return "Conflict";
        default:
            return `HTTP${status}`;
    }
}

function matchSegments(segments: string[], p: string): Record<string, string> | undefined {
    const parts = p.split("/").slice(1);
    const params: Record<string, string> = {};
    for (let i = 0; i < segments.length; i++) {
        const seg = segments[i];
        if (seg.startsWith("{*")) {
            const rest = parts.slice(i);
            if (rest.length === 0 || rest.some((r) => r === "")) return undefined;
            params[seg.slice(2, -1)] = rest.join("/");
            return params;
        }
        const part = parts[i];
        if (part === undefined || part === "") return undefined;
        if (seg.startsWith("{")) params[seg.slice(1, -1)] = part;
        else if (seg.toLowerCase() !== part.toLowerCase()) return undefined;
    }
    return parts.length === segments.length ? params : undefined;
}

/** mulberry32: a small seeded generator, so a test with lost responses fails the same way every run. */
export function seededRandom(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

function readAll(req: http.IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
        req.on("error", reject);
    });
}

/** Creates, configures and starts a fake; `await fake.stop()` in `after`. */
export async function startFakeAzure(options: FakeAzureOptions, modules: ResourceProviderModule[] = []): Promise<FakeAzure> {
    const fake = new FakeAzure(options);
    for (const m of modules) fake.use(m);
    await fake.start();
    return fake;
}
