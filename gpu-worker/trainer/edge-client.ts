// A typed client of the edge's internal worker API (/internal/v1, edge/routes/trainer-api.ts), with a
// per-request timeout and retries with exponential backoff on network errors, timeouts and 5xx.
// 409 (the lease is no longer this worker's, or the job left the leased states) is a LeaseLostError:
// the worker must stop working on the job and must not complete it.

export interface JobHyperparameters {
  epochs: number;
  learning_rate: number;
  batch_size: number;
  n_ctx: number | null;
  ctx_init: string | null;
  shots: number;
  seed: number;
  /** Absent on jobs created before the edge knew it: the trainer's official default then. */
  crop_scale?: [number, number];
}

export interface LeasedJob {
  id: string;
  status: string;
  method: 'cocoop' | 'coop';
  dataset_id: string;
  hyperparameters: JobHyperparameters;
  [key: string]: unknown;
}

export interface Lease {
  job: LeasedJob;
  tenant_id: string;
  attempts: number;
  lease_id: string;
  lease_expires_at: string;
  storage: { checkpoint_prefix: string; artifact_key: string };
  /** sha256: of the bytes the edge verified (null: not recorded); downloads are checked against it. */
  dataset: { id: string; images: { id: string; label: string; object_key: string; sha256?: string | null }[] };
}

export interface Progress {
  epoch?: number;
  epochs?: number;
  step?: number;
  steps?: number;
}

export interface HeartbeatReply {
  cancel_requested: boolean;
  lease_expires_at: string;
}

export interface WorkerEvent {
  level: 'info' | 'warn' | 'error';
  type: 'message' | 'metrics';
  message: string;
  data?: Record<string, unknown>;
}

export interface CompleteBody {
  artifact: { key: string; bytes: number; sha256: string };
  base_model: string;
  classes: string[];
  metrics: Record<string, number>;
}

/** The edge says this lease is not (or no longer) current: stop, do not complete. */
export class LeaseLostError extends Error {
  override name = 'LeaseLostError';
}

/** A non-retryable error answer of the edge (or retries exhausted). */
export class EdgeApiError extends Error {
  override name = 'EdgeApiError';
  constructor(
    message: string,
    readonly status: number | null,
    readonly code?: string,
  ) {
    super(message);
  }
}

export interface EdgeClientOptions {
  /** e.g. http://127.0.0.1:8787 */
  baseUrl: string;
  token: string;
  /** Per attempt (default 30 s). */
  timeoutMs?: number;
  /** Attempts after the first on network errors / timeouts / 5xx (default 4). */
  retries?: number;
  /** First backoff delay; doubles per retry, capped at 10 s (default 250 ms). */
  backoffMs?: number;
  fetchImpl?: typeof fetch;
}

const sleep = (ms: number) => new Promise<void>((ok) => setTimeout(ok, ms));

export class EdgeClient {
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly opts: EdgeClientOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.retries = opts.retries ?? 4;
    this.backoffMs = opts.backoffMs ?? 250;
    this.fetchImpl = opts.fetchImpl ?? fetch;
  }

  /** The next job, or null when there is none (204). */
  async lease(workerId: string, leaseSeconds?: number): Promise<Lease | null> {
    const res = await this.post('/leases', { worker_id: workerId, ...(leaseSeconds !== undefined ? { lease_seconds: leaseSeconds } : {}) });
    return res === null ? null : (res as Lease);
  }

  async heartbeat(
    jobId: string,
    body: { lease_id: string; lease_seconds?: number; progress?: Progress; metrics?: Record<string, number> },
  ): Promise<HeartbeatReply> {
    return (await this.post(`/jobs/${encodeURIComponent(jobId)}/heartbeat`, body)) as HeartbeatReply;
  }

  async event(jobId: string, leaseId: string, event: WorkerEvent): Promise<void> {
    await this.post(`/jobs/${encodeURIComponent(jobId)}/events`, { lease_id: leaseId, ...event });
  }

  async complete(jobId: string, leaseId: string, body: CompleteBody): Promise<void> {
    await this.post(`/jobs/${encodeURIComponent(jobId)}/complete`, { lease_id: leaseId, ...body });
  }

  async fail(jobId: string, leaseId: string, code: string, message: string): Promise<void> {
    await this.post(`/jobs/${encodeURIComponent(jobId)}/fail`, { lease_id: leaseId, code, message: message.slice(0, 2000) || code });
  }

  async cancelled(jobId: string, leaseId: string): Promise<void> {
    await this.post(`/jobs/${encodeURIComponent(jobId)}/cancelled`, { lease_id: leaseId });
  }

  /** POST JSON; the parsed 200 body, null for 204. */
  private async post(path: string, body: unknown): Promise<unknown> {
    const url = `${this.base}/internal/v1${path}`;
    let lastError = '';
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      if (attempt > 0) await sleep(Math.min(10_000, this.backoffMs * 2 ** (attempt - 1)));
      let res: Response;
      try {
        res = await this.fetchImpl(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${this.opts.token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (err) {
        lastError = `POST ${path}: ${err instanceof Error ? err.message : String(err)}`;
        continue; // network error or timeout: retry
      }
      if (res.status === 204) return null;
      const text = await res.text().catch(() => '');
      if (res.status >= 200 && res.status < 300) return text ? JSON.parse(text) : null;
      const err = parseError(text);
      if (res.status >= 500) {
        lastError = `POST ${path}: ${res.status} ${err.message}`;
        continue;
      }
      if (res.status === 409) throw new LeaseLostError(`POST ${path}: ${err.message}`);
      throw new EdgeApiError(`POST ${path}: ${res.status} ${err.message}`, res.status, err.code);
    }
    throw new EdgeApiError(`${lastError} (gave up after ${this.retries + 1} attempts)`, null);
  }
}

function parseError(text: string): { code?: string; message: string } {
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (body.error?.message) return { code: body.error.code, message: body.error.message };
  } catch {
    // not JSON
  }
  return { message: text.slice(0, 300) || '(empty body)' };
}
