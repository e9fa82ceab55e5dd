// The request engine: one API call = attempts with a timeout each, retried per core/retry.ts, answers parsed, failures
// turned into typed errors (core/errors.ts). Uses only fetch, AbortController, URL and crypto.randomUUID, so it runs
// on Node 20+, Cloudflare Workers, Deno, Bun and browsers.
import { APIConnectionError, APIError, APITimeoutError, APIUserAbortError, CoCoOpError, errorFromResponse } from './errors.ts';
import { type RetryPolicy, isRetryable, retryDelayMs } from './retry.ts';

export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
/** Waits `ms` milliseconds; rejects when `signal` aborts. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const DEFAULT_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_RETRIES = 2;
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

/** Per-call options, accepted as the last argument of every method. */
export interface RequestOptions {
  /** Stops the call (and its retries and waits); the call rejects with APIUserAbortError. */
  signal?: AbortSignal;
  /** Milliseconds each attempt may take, reading the answer included (default: the client's). */
  timeout?: number;
  /** Retries after the first attempt (default: the client's). */
  maxRetries?: number;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /**
   * POST only: the Idempotency-Key to send. Default: a new random UUID per call, the same on each of its retries.
   * `null` sends none; such a POST is then retried only when the API refused it unprocessed (429).
   */
  idempotencyKey?: string | null;
}

export type QueryValue = string | number | boolean | undefined | null;

export interface APIRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** A path of the API (`/v1/...`), or an absolute URL when `external`. */
  path: string;
  query?: Record<string, QueryValue>;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as is (e.g. the bytes of a presigned upload), the same on every attempt. */
  rawBody?: BodyInit;
  /** The content-type of `rawBody`. */
  contentType?: string;
  /** Overrides the default: GET, PUT, PATCH, DELETE and keyed POSTs are `repeatable`, a POST without a key `once`. */
  retry?: RetryPolicy;
  /** How to read a 2xx answer (default json; an empty body is undefined). */
  responseType?: 'json' | 'bytes';
  /** Not the API (a presigned storage URL): no base URL, no API key. */
  external?: boolean;
}

export interface HttpClientOptions {
  baseURL: string;
  apiKey: string;
  maxRetries?: number;
  timeout?: number;
  fetch?: Fetch;
  sleep?: Sleep;
  defaultHeaders?: Record<string, string>;
}

/** setTimeout as a promise that rejects with APIUserAbortError when `signal` aborts. */
export const defaultSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new APIUserAbortError(signal.reason));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new APIUserAbortError(signal?.reason));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** Marks the abort of an attempt by its own timer (as opposed to the caller's signal). */
class AttemptTimeout extends Error {}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: APIError };

export class HttpClient {
  readonly baseURL: string;
  readonly maxRetries: number;
  readonly timeout: number;
  readonly #apiKey: string;
  readonly #fetch: Fetch;
  readonly #sleep: Sleep;
  readonly #defaultHeaders: Record<string, string>;

  constructor(options: HttpClientOptions) {
    if (!options.baseURL) throw new CoCoOpError('baseURL is required: pass { baseURL } or set COCOOP_BASE_URL.');
    if (!options.apiKey) throw new CoCoOpError('apiKey is required: pass { apiKey } or set COCOOP_API_KEY.');
    const maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
    if (!Number.isInteger(maxRetries) || maxRetries < 0) throw new CoCoOpError(`maxRetries must be an integer >= 0, got ${maxRetries}`);
    const timeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
    if (!(timeout > 0)) throw new CoCoOpError(`timeout must be > 0 ms, got ${timeout}`);
    this.baseURL = options.baseURL.replace(/\/+$/, '');
    this.#apiKey = options.apiKey;
    this.maxRetries = maxRetries;
    this.timeout = timeout;
    // Called through a wrapper: Workers' fetch throws "Illegal invocation" when called as a method of another object.
    const f = options.fetch;
    this.#fetch = f ? (input, init) => f(input, init) : (input, init) => fetch(input, init);
    this.#sleep = options.sleep ?? defaultSleep;
    this.#defaultHeaders = { ...options.defaultHeaders };
  }

  /** Waits like the client waits between retries (the injected `sleep`, if any). */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    return this.#sleep(ms, signal);
  }

  /** Sends `req` with retries; resolves with the parsed 2xx answer or rejects with an APIError. */
  async request<T>(req: APIRequest, options: RequestOptions = {}): Promise<T> {
    const maxRetries = options.maxRetries ?? this.maxRetries;
    const timeout = options.timeout ?? this.timeout;
    const headers = this.#headers(req, options);
    const policy: RetryPolicy = req.retry ?? (req.method !== 'POST' || headers.has(IDEMPOTENCY_HEADER) ? 'repeatable' : 'once');
    const url = this.#url(req);
    for (let retry = 0; ; retry++) {
      const outcome = await this.#attempt<T>(url, req, headers, timeout, options.signal);
      if (outcome.ok) return outcome.value;
      const { error } = outcome;
      // A repeated DELETE that finds nothing: an earlier attempt deleted it.
      if (retry > 0 && req.method === 'DELETE' && error.status === 404) return undefined as T;
      if (retry >= maxRetries || !isRetryable(error, policy)) throw error;
      const delay = retryDelayMs(error, retry);
      if (delay === undefined) throw error;
      await this.#sleep(delay, options.signal);
    }
  }

  #url(req: APIRequest): string {
    const url = new URL(req.external ? req.path : this.baseURL + req.path);
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
    return url.toString();
  }

  #headers(req: APIRequest, options: RequestOptions): Headers {
    const h = new Headers(req.external ? {} : this.#defaultHeaders);
    if (!req.external) {
      h.set('authorization', `Bearer ${this.#apiKey}`);
      h.set('accept', 'application/json');
    }
    if (req.body !== undefined) h.set('content-type', 'application/json');
    else if (req.contentType !== undefined) h.set('content-type', req.contentType);
    if (req.method === 'POST' && !req.external && options.idempotencyKey !== null) {
      h.set(IDEMPOTENCY_HEADER, options.idempotencyKey ?? crypto.randomUUID());
    }
    for (const [k, v] of Object.entries(options.headers ?? {})) h.set(k, v);
    return h;
  }

  /** One attempt: fetch and read the answer under one timer; the caller's abort is thrown, the rest returned. */
  async #attempt<T>(url: string, req: APIRequest, headers: Headers, timeoutMs: number, signal: AbortSignal | undefined): Promise<Outcome<T>> {
    if (signal?.aborted) throw new APIUserAbortError(signal.reason);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new AttemptTimeout()), timeoutMs);
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const body = req.body !== undefined ? JSON.stringify(req.body) : req.rawBody;
      const res = await this.#fetch(url, { method: req.method, headers, body, signal: controller.signal });
      if (!res.ok) return { ok: false, error: await errorFromResponse(res) };
      return { ok: true, value: (await readBody(res, req.responseType ?? 'json')) as T };
    } catch (err) {
      if (signal?.aborted) throw new APIUserAbortError(signal.reason);
      if (controller.signal.aborted && controller.signal.reason instanceof AttemptTimeout) return { ok: false, error: new APITimeoutError(timeoutMs) };
      if (err instanceof APIError) return { ok: false, error: err };
      const code = (err as { cause?: { code?: unknown } })?.cause?.code; // e.g. ECONNREFUSED (Node)
      const detail = `${(err as Error)?.message ?? String(err)}${typeof code === 'string' ? ` (${code})` : ''}`;
      return { ok: false, error: new APIConnectionError({ message: `Connection error: ${detail}`, cause: err }) };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

async function readBody(res: Response, type: 'json' | 'bytes'): Promise<unknown> {
  if (type === 'bytes') return new Uint8Array(await res.arrayBuffer());
  const text = await res.text();
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new APIError({ status: res.status, message: `The answer is not JSON: ${text.slice(0, 200)}`, headers: res.headers, body: text, cause: err });
  }
}
