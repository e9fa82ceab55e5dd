// The trainer's client of the edge's internal worker API (/internal/v1, edge/routes/trainer-api.ts). Requests and
// answers are the types of shared/contracts/worker-api.ts, and the edge's answers are parsed with its schemas: an
// answer that does not match is an EdgeApiError naming the contract (not retried).
//
// This is the one retry layer of the trainer's calls to the edge (shared/util/retry.ts): network errors, timeouts
// (per attempt, default 30 s) and 5xx are retried with doubling delays — by default 4 times (a lease request, a
// heartbeat, an event), or for as long as a call's `budgetMs` allows (the final reports of a job: /complete,
// /fail, /cancelled). Giving up is an EdgeUnreachableError. 409 (the lease is no longer this trainer's, or the job
// left the leased states) is a LeaseLostError: the trainer must stop working on the job and must not complete it.
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import {
  type CancelledRequest,
  type CompleteRequest,
  type FailRequest,
  type HeartbeatRequest,
  HeartbeatResponse,
  Lease,
  type LeaseRequest,
  type ResultRequest,
  type TrainerEvent,
} from '../../shared/contracts/worker-api.ts';
import type { Scores } from '../../shared/contracts/evaluation.ts';
import { retry } from '../../shared/util/retry.ts';

export type { EvaluationLease, TrainingLease } from '../../shared/contracts/worker-api.ts';
export type { Lease, HeartbeatRequest, HeartbeatResponse, TrainerEvent };
/** A /complete body without its lease_id (the client adds it). */
export type CompleteReport = Omit<CompleteRequest, 'lease_id'>;

/** The edge says this lease is not (or no longer) current: stop, do not complete. */
export class LeaseLostError extends Error {
  override name = 'LeaseLostError';
}

/** A non-retryable answer of the edge (4xx other than 409, or an answer that breaks the contract). */
export class EdgeApiError extends Error {
  override name = 'EdgeApiError';
  constructor(
    message: string,
    /** The HTTP status; null when no usable answer came (EdgeUnreachableError). */
    readonly status: number | null,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** The edge could not be reached: network errors, timeouts or 5xx, after every retry the call allowed. */
export class EdgeUnreachableError extends EdgeApiError {
  override name = 'EdgeUnreachableError';
  constructor(message: string) {
    super(message, null);
  }
}

/** One attempt that may be retried (network error, timeout, 5xx). */
class TransientError extends Error {}

export interface EdgeClientOptions {
  /** e.g. http://127.0.0.1:8787 */
  baseUrl: string;
  token: string;
  /** Per attempt (default 30 s). */
  timeoutMs?: number;
  /** Retries after the first attempt of a call without a budget (default 4). */
  retries?: number;
  /** First backoff delay; doubles per retry, capped at 10 s (default 250 ms). */
  backoffMs?: number;
  fetchImpl?: typeof fetch;
}

/** How one call is retried while the edge is unreachable. */
export interface CallOptions {
  /** Retry for this long after the first failure instead of a fixed number of times. */
  budgetMs?: number;
  /** Stops the waiting between attempts (the last failure is thrown). */
  signal?: AbortSignal;
  /** Told before each wait (e.g. to log it). */
  onRetry?: (err: Error, delayMs: number) => void;
}

const MAX_DELAY_MS = 10_000;

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
  async lease(workerId: string, leaseSeconds?: number, call?: CallOptions): Promise<Lease | null> {
    // One request id for this call and its retries: a retry whose first answer was lost gets that same lease back.
    const body: LeaseRequest = { worker_id: workerId, request_id: randomUUID(), ...(leaseSeconds !== undefined ? { lease_seconds: leaseSeconds } : {}) };
    return this.post('/leases', body, call, { schema: Lease, name: 'Lease', nullOn204: true });
  }

  heartbeat(jobId: string, body: HeartbeatRequest, call?: CallOptions): Promise<HeartbeatResponse> {
    return this.post(`/jobs/${encodeURIComponent(jobId)}/heartbeat`, body, call, { schema: HeartbeatResponse, name: 'HeartbeatResponse' });
  }

  async event(jobId: string, leaseId: string, event: TrainerEvent, call?: CallOptions): Promise<void> {
    await this.post(`/jobs/${encodeURIComponent(jobId)}/events`, { lease_id: leaseId, ...event }, call);
  }

  async complete(jobId: string, leaseId: string, report: CompleteReport, call?: CallOptions): Promise<void> {
    const body: CompleteRequest = { lease_id: leaseId, ...report };
    await this.post(`/jobs/${encodeURIComponent(jobId)}/complete`, body, call);
  }

  async result(evaluationId: string, leaseId: string, result: Scores, call?: CallOptions): Promise<void> {
    const body: ResultRequest = { lease_id: leaseId, result };
    await this.post(`/jobs/${encodeURIComponent(evaluationId)}/result`, body, call);
  }

  async fail(jobId: string, leaseId: string, code: string, message: string, call?: CallOptions): Promise<void> {
    const body: FailRequest = { lease_id: leaseId, code, message: message.slice(0, 2000) || code };
    await this.post(`/jobs/${encodeURIComponent(jobId)}/fail`, body, call);
  }

  async cancelled(jobId: string, leaseId: string, call?: CallOptions): Promise<void> {
    const body: CancelledRequest = { lease_id: leaseId };
    await this.post(`/jobs/${encodeURIComponent(jobId)}/cancelled`, body, call);
  }

  /** POST JSON with retries; the answer parsed with `answer.schema` (null for a 204 where allowed), else nothing. */
  private async post<S extends z.ZodType>(
    path: string,
    body: unknown,
    call: CallOptions = {},
    answer?: { schema: S; name: string; nullOn204?: boolean },
  ): Promise<z.infer<S>> {
    let attempts = 0;
    try {
      return await retry(
        async () => {
          attempts++;
          return (await this.once(path, body, answer)) as z.infer<S>;
        },
        {
          retryable: (err) => err instanceof TransientError,
          ...(call.budgetMs !== undefined ? { budgetMs: call.budgetMs } : { attempts: this.retries + 1 }),
          firstDelayMs: this.backoffMs,
          maxDelayMs: MAX_DELAY_MS,
          signal: call.signal,
          onRetry: call.onRetry && ((err, delayMs) => call.onRetry!(err as Error, delayMs)),
        },
      );
    } catch (err) {
      if (err instanceof TransientError) throw new EdgeUnreachableError(`${err.message} (gave up after ${attempts} attempt${attempts === 1 ? '' : 's'})`);
      throw err;
    }
  }

  /** One attempt. */
  private async once(path: string, body: unknown, answer?: { schema: z.ZodType; name: string; nullOn204?: boolean }): Promise<unknown> {
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.base}/internal/v1${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.opts.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new TransientError(`POST ${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const text = await res.text().catch(() => '');
    if (res.status >= 200 && res.status < 300) {
      if (!answer) return undefined;
      if (res.status === 204 && answer.nullOn204) return null;
      return parseAnswer(path, res.status, text, answer.schema, answer.name);
    }
    const err = parseError(text);
    if (res.status >= 500) throw new TransientError(`POST ${path}: ${res.status} ${err.message}`);
    if (res.status === 409) throw new LeaseLostError(`POST ${path}: ${err.message}`);
    throw new EdgeApiError(`POST ${path}: ${res.status} ${err.message}`, res.status, err.code);
  }
}

/** The answer checked against its contract; a mismatch names the contract and the first problems. */
function parseAnswer(path: string, status: number, text: string, schema: z.ZodType, name: string): unknown {
  const broken = (why: string) =>
    new EdgeApiError(`POST ${path}: the edge's ${status} answer does not match the ${name} contract (shared/contracts/worker-api.ts): ${why}`, status, 'contract_violation');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw broken(text ? `not JSON: ${JSON.stringify(text.slice(0, 100))}` : 'empty body');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw broken(issues.join('; ') + (parsed.error.issues.length > 3 ? `; and ${parsed.error.issues.length - 3} more` : ''));
  }
  return parsed.data;
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
