// HTTP client of the GPU inference service (gpu-worker). Runs on Workers and Node: fetch only, no node:.
//
// The contract (docs/API-internal.md) is shared/contracts/inference-api.ts: the request types below are
// inferred from its schemas, which the inference server validates with (gpu-worker/serve/). Every call:
// `Authorization: Bearer <WORKER_TOKEN>` (the token the workers already share with the edge),
// `Content-Type: application/json`, JSON responses.
//
//   POST {INFERENCE_URL}/internal/v1/classify         ClassifyRequest       → 200 {logits: number[images][labels]}
//   POST {INFERENCE_URL}/internal/v1/embeddings/text  TextEmbeddingsRequest → 200 {embeddings: number[texts][dim]}
//
//   A 400/422 with {error: {code, message}} means the request cannot be served as sent (e.g. an unknown base
//   model) and its message is shown to the API caller; anything else (3xx, 401/403/404/5xx, a non-JSON body,
//   a wrong shape — checked here: the answer must be a matrix of finite numbers of the asked size —, network
//   errors, timeouts) is an outage of the inference service: the API answers 503 `inference_unavailable` with
//   `Retry-After` and the edge logs the detail (upstream text never reaches the caller).
//   Redirects are never followed: `redirect: 'manual'` (the one mode both workerd and Node accept besides
//   'follow'; workerd rejects 'error') returns the 3xx, which counts as an outage like any non-2xx.
import type { ClassifyRequest, TextEmbeddingsRequest } from '../../shared/contracts/inference-api.ts';
import type { Logger } from '../config.ts';
import { ApiError, inferenceUnavailable, invalidRequest, validationFailed } from '../http/errors.ts';

export interface InferenceClientOptions {
  /** INFERENCE_URL without trailing slash; undefined → every call fails as "unavailable". */
  baseUrl: string | undefined;
  /** The worker token. */
  token: string;
  logger: Logger;
  fetch?: typeof fetch;
  /** Per call; default 60 s. */
  timeoutMs?: number;
}

export const UNAVAILABLE_MESSAGE = 'The inference service is unavailable; retry after the Retry-After interval.';
/** Seconds a client should wait before retrying an unavailable inference service. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;
export const DEFAULT_INFERENCE_TIMEOUT_MS = 60_000;
/** Longest upstream 4xx message passed on to the API caller. */
const MAX_UPSTREAM_MESSAGE = 500;

function isFiniteMatrix(v: unknown, rows: number, cols: number | null): v is number[][] {
  if (!Array.isArray(v) || v.length !== rows) return false;
  let width = cols;
  for (const row of v) {
    if (!Array.isArray(row) || row.length === 0) return false;
    if (width === null) width = row.length;
    if (row.length !== width) return false;
    for (const x of row) if (typeof x !== 'number' || !Number.isFinite(x)) return false;
  }
  return true;
}

export class InferenceClient {
  private readonly fetchFn: typeof fetch;
  private readonly timeoutMs: number;

  constructor(private readonly opts: InferenceClientOptions) {
    this.fetchFn = opts.fetch ?? ((input, init) => fetch(input, init));
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_INFERENCE_TIMEOUT_MS;
  }

  /** Logits [image][label]. */
  async classify(req: ClassifyRequest): Promise<number[][]> {
    const body = await this.post('/internal/v1/classify', req);
    const logits = (body as { logits?: unknown } | null)?.logits;
    if (!isFiniteMatrix(logits, req.images.length, req.labels.length)) {
      throw this.unavailable('classify', `response has no ${req.images.length}x${req.labels.length} matrix of finite "logits"`);
    }
    return logits;
  }

  /** Embeddings [text][dim]. */
  async textEmbeddings(req: TextEmbeddingsRequest): Promise<number[][]> {
    const body = await this.post('/internal/v1/embeddings/text', req);
    const embeddings = (body as { embeddings?: unknown } | null)?.embeddings;
    if (!isFiniteMatrix(embeddings, req.texts.length, null)) {
      throw this.unavailable('embeddings/text', `response has no ${req.texts.length}-row matrix of finite "embeddings"`);
    }
    return embeddings;
  }

  private unavailable(what: string, detail: unknown): ApiError {
    this.opts.logger.error(`[edge] inference ${what} failed`, detail);
    return inferenceUnavailable(UNAVAILABLE_MESSAGE, UNAVAILABLE_RETRY_AFTER_SECONDS);
  }

  private async post(path: string, payload: unknown): Promise<unknown> {
    const what = path.replace('/internal/v1/', '');
    if (!this.opts.baseUrl) throw this.unavailable(what, 'INFERENCE_URL is not configured');
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    let res: Response;
    let text: string;
    try {
      res = await this.fetchFn(this.opts.baseUrl + path, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.opts.token}`, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(payload),
        signal: controller.signal,
        redirect: 'manual',
      });
      text = await res.text();
    } catch (err) {
      throw this.unavailable(what, controller.signal.aborted ? `timed out after ${this.timeoutMs} ms` : err);
    } finally {
      clearTimeout(timer);
    }

    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // handled below by status
    }
    if (res.ok) {
      if (body === null || typeof body !== 'object') throw this.unavailable(what, `HTTP ${res.status} with a non-JSON body`);
      return body;
    }
    const err = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    const message = typeof err?.message === 'string' && err.message.trim() ? err.message.trim().slice(0, MAX_UPSTREAM_MESSAGE) : null;
    if (message && (res.status === 400 || res.status === 422)) {
      throw res.status === 400 ? invalidRequest(message) : validationFailed(message);
    }
    throw this.unavailable(what, `HTTP ${res.status}: ${text.slice(0, 1000)}`);
  }
}
