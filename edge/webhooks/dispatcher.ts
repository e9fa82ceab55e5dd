// Sending webhook deliveries from the outbox (webhook_deliveries). `deliverOne` makes one attempt of one row —
// claim, sign, send, record — and is shared by the two ways rows are sent:
//   - dispatchDueWebhooks: a run over the due rows, from runBackgroundTasks (edge/background.ts): the Node timer, and
//     the Workers cron when no queue is bound;
//   - the Workers queue consumer (consumer.ts), one message per row.
// Web-standard code only (fetch, AbortSignal.timeout, Web Crypto).
//
// Claiming: a due row is claimed by moving next_attempt_at (and in_flight_until) forward by the timeout plus a margin
// and counting the attempt, under `WHERE next_attempt_at = <the value read> AND attempts = <the value read>`; only one
// claimer's UPDATE matches, so an attempt is never sent twice. The same UPDATE counts the endpoint's attempts in
// flight (in_flight_until > now) and refuses the claim at settings.endpointConcurrency (6): no endpoint ever has more
// attempts open than that, however many runs, isolates or consumer invocations there are. A claimer that dies
// mid-attempt leaves the row to be picked again once the claim expires (that attempt still counts).
//
// Fairness of a run (dispatchDueWebhooks): of the due rows, each endpoint offers only as many as it has free slots
// (6 − in flight), and the batch takes the tenants in turns — every tenant's oldest sendable row, then every
// tenant's second, … — so a tenant with thousands of due rows (or one slow or failing receiver) cannot take a whole
// batch while other tenants wait.
//
// Per attempt: headers webhook-id (the delivery id, stable across retries), webhook-timestamp (this attempt, unix
// seconds), webhook-signature (current secret, plus the previous one during its 24 h overlap); redirect: 'manual' (a
// 3xx is a failure and is never followed); the destination is re-checked against the URL guard (with DNS when a
// resolver is given) right before sending. Outcome: 2xx → succeeded; 410 → the endpoint is disabled and its pending
// deliveries fail; anything else → retry after the schedule's next delay, failed after the last attempt. The schedule
// counts from the delivery's schedule_start (attempts before its last resend), so a resent delivery gets all of it.
import type { Ports, SqlDatabase } from '../ports.ts';
import { type WebhookSettings, maxAttempts } from './settings.ts';
import { webhookHeaders } from './signing.ts';
import { checkWebhookUrl, resolveAndCheck } from './url-guard.ts';

/** Extra claim time beyond the request timeout (signing, logging). */
export const CLAIM_MARGIN_MS = 5_000;
/** Longest error text stored per attempt. */
const MAX_ERROR_CHARS = 500;

export interface DispatchSummary {
  /** Rows picked (due, and with a free slot at their endpoint). */
  due: number;
  /** Rows this dispatcher claimed (others were taken by a concurrent dispatcher, or their endpoint filled up). */
  claimed: number;
  succeeded: number;
  /** Failed attempts that will be retried. */
  retrying: number;
  /** Deliveries that failed for good (last attempt, 410, endpoint gone). */
  failed: number;
  /** Endpoints disabled by a 410. */
  disabledEndpoints: number;
}

/** The columns of a delivery that an attempt needs. */
export interface DeliveryRow {
  id: string;
  tenant_id: string;
  endpoint_id: string;
  payload: string;
  attempts: number;
  next_attempt_at: number;
  /** Attempts made before the current retry schedule began (a resend restarts it: deliveries.ts). */
  schedule_start: number;
}

/** What one call of deliverOne did. */
export type DeliveryOutcome =
  /** Not claimed. busy: the row is still due and untouched, its endpoint has no free slot; else another claimer took it or it changed. */
  | { kind: 'not_claimed'; busy: boolean }
  | { kind: 'succeeded'; attempt: number }
  /** Failed; the next attempt is due at nextAttemptAt, delaySeconds after `now`. */
  | { kind: 'retry'; attempt: number; delaySeconds: number; nextAttemptAt: number }
  /**
   * Failed for good: `exhausted` (the schedule's last attempt failed), `gone` (410: the endpoint is disabled and
   * `failedCount` pending deliveries of it failed), `no_endpoint` (deleted or disabled since the event).
   */
  | { kind: 'failed'; attempt: number; reason: 'exhausted' | 'gone' | 'no_endpoint'; failedCount: number; disabledEndpoints: number };

interface EndpointRow {
  url: string;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: string | null;
  disabled_at: string | null;
}

type AttemptResult = { kind: 'response'; status: number } | { kind: 'error'; error: string };

function shortError(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError') return 'timeout: no response in time';
    const cause = (err as { cause?: unknown }).cause;
    const detail = cause instanceof Error ? `: ${cause.message}` : '';
    return `${err.message}${detail}`.slice(0, MAX_ERROR_CHARS);
  }
  return String(err).slice(0, MAX_ERROR_CHARS);
}

/** The secrets that sign now: current first, then the rotated-out one while its overlap lasts. */
export function signingSecrets(e: Pick<EndpointRow, 'secret' | 'previous_secret' | 'previous_secret_expires_at'>, nowMs: number): string[] {
  const out = [e.secret];
  if (e.previous_secret && e.previous_secret_expires_at && Date.parse(e.previous_secret_expires_at) > nowMs) out.push(e.previous_secret);
  return out;
}

/** Claims the row's next attempt unless another claimer was first or its endpoint has `limit` attempts in flight. */
async function claim(db: SqlDatabase, row: DeliveryRow, nowMs: number, until: number, limit: number): Promise<boolean> {
  const { changes } = await db
    .prepare(
      `UPDATE webhook_deliveries SET next_attempt_at = ?, in_flight_until = ?, attempts = attempts + 1
       WHERE id = ? AND status = 'pending' AND next_attempt_at = ? AND attempts = ? AND schedule_start = ?
         AND (SELECT COUNT(*) FROM webhook_deliveries AS f WHERE f.endpoint_id = ? AND f.in_flight_until > ?) < ?`,
    )
    .bind(until, until, row.id, row.next_attempt_at, row.attempts, row.schedule_start, row.endpoint_id, nowMs, limit)
    .run();
  return changes === 1;
}

async function send(endpoint: EndpointRow, row: DeliveryRow, settings: WebhookSettings, fetchImpl: typeof fetch): Promise<AttemptResult> {
  const check = checkWebhookUrl(endpoint.url, settings);
  if (!check.ok) return { kind: 'error', error: `refused: ${check.reason}` };
  const resolved = await resolveAndCheck(check.url.hostname, settings.resolver, settings);
  if (!resolved.ok) return { kind: 'error', error: `refused: ${resolved.reason}` };
  const nowMs = Date.now();
  const headers = await webhookHeaders(signingSecrets(endpoint, nowMs), row.id, Math.floor(nowMs / 1000), row.payload);
  try {
    const res = await fetchImpl(check.url.href, {
      method: 'POST',
      headers,
      body: row.payload,
      redirect: 'manual',
      signal: AbortSignal.timeout(settings.timeoutMs),
    });
    // The body is not used: drop it so the connection is released.
    await res.body?.cancel().catch(() => {});
    return { kind: 'response', status: res.status };
  } catch (err) {
    return { kind: 'error', error: shortError(err) };
  }
}

/**
 * One attempt of one due row: claim (see the header), send, record the attempt and the row's new state. `now` is the
 * time the row was found due; a retry is scheduled from it.
 */
export async function deliverOne(
  db: SqlDatabase,
  settings: WebhookSettings,
  row: DeliveryRow,
  now: Date,
  fetchImpl: typeof fetch = fetch,
): Promise<DeliveryOutcome> {
  const nowMs = now.getTime();
  if (!(await claim(db, row, nowMs, nowMs + settings.timeoutMs + CLAIM_MARGIN_MS, settings.endpointConcurrency))) {
    const current = await db
      .prepare('SELECT status, next_attempt_at, attempts FROM webhook_deliveries WHERE id = ?')
      .bind(row.id)
      .first<{ status: string; next_attempt_at: number; attempts: number }>();
    const busy = current?.status === 'pending' && current.next_attempt_at === row.next_attempt_at && current.attempts === row.attempts;
    return { kind: 'not_claimed', busy };
  }
  const attempt = row.attempts + 1;
  // The attempt's place in the current schedule (1 = its first attempt).
  const scheduled = attempt - row.schedule_start;
  const endpoint = await db
    .prepare('SELECT url, secret, previous_secret, previous_secret_expires_at, disabled_at FROM webhook_endpoints WHERE id = ?')
    .bind(row.endpoint_id)
    .first<EndpointRow>();
  if (!endpoint || endpoint.disabled_at !== null) {
    // Deleted or disabled since the event: nothing to send to.
    await db.prepare("UPDATE webhook_deliveries SET status = 'failed', in_flight_until = NULL WHERE id = ? AND status = 'pending'").bind(row.id).run();
    return { kind: 'failed', attempt, reason: 'no_endpoint', failedCount: 1, disabledEndpoints: 0 };
  }

  const started = Date.now();
  const result = await send(endpoint, row, settings, fetchImpl);
  const duration = Date.now() - started;
  const logAttempt = db
    .prepare('INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, error, duration_ms) VALUES (?, ?, ?, ?, ?)')
    .bind(
      row.id,
      new Date(started).toISOString(),
      result.kind === 'response' ? result.status : null,
      result.kind === 'error' ? result.error : result.status >= 300 && result.status < 400 ? 'redirect not followed' : null,
      duration,
    );
  const finish = (status: 'succeeded' | 'failed') =>
    db.prepare(`UPDATE webhook_deliveries SET status = ?, in_flight_until = NULL WHERE id = ? AND status = 'pending'`).bind(status, row.id);

  if (result.kind === 'response' && result.status >= 200 && result.status < 300) {
    await db.batch([logAttempt, finish('succeeded')]);
    return { kind: 'succeeded', attempt };
  }
  if (result.kind === 'response' && result.status === 410) {
    const at = new Date().toISOString();
    const [, disabled, failed] = await db.batch([
      logAttempt,
      db
        .prepare('UPDATE webhook_endpoints SET disabled_at = ?, disabled_reason = ? WHERE id = ? AND disabled_at IS NULL')
        .bind(at, `The receiver answered 410 Gone to delivery ${row.id}.`, row.endpoint_id),
      db
        .prepare("UPDATE webhook_deliveries SET status = 'failed', in_flight_until = NULL WHERE endpoint_id = ? AND status = 'pending'")
        .bind(row.endpoint_id),
    ]);
    return { kind: 'failed', attempt, reason: 'gone', failedCount: failed.changes, disabledEndpoints: disabled.changes };
  }
  if (scheduled >= maxAttempts(settings)) {
    await db.batch([logAttempt, finish('failed')]);
    return { kind: 'failed', attempt, reason: 'exhausted', failedCount: 1, disabledEndpoints: 0 };
  }
  const delaySeconds = settings.retryScheduleSeconds[scheduled - 1];
  const next = nowMs + delaySeconds * 1000;
  await db.batch([
    logAttempt,
    db.prepare("UPDATE webhook_deliveries SET next_attempt_at = ?, in_flight_until = NULL WHERE id = ? AND status = 'pending'").bind(next, row.id),
  ]);
  return { kind: 'retry', attempt, delaySeconds, nextAttemptAt: next };
}

/**
 * Up to `limit` due rows in the order a run sends them (see the header): per endpoint only as many as it has free
 * slots, then the tenants in turns (each tenant's rows oldest first).
 */
export async function fairDueRows(db: SqlDatabase, nowMs: number, endpointConcurrency: number, limit: number): Promise<DeliveryRow[]> {
  return db
    .prepare(
      `WITH due AS (
         SELECT id, tenant_id, endpoint_id, payload, attempts, next_attempt_at, schedule_start,
                ROW_NUMBER() OVER (PARTITION BY endpoint_id ORDER BY next_attempt_at, id) AS endpoint_turn
         FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ?
       ),
       busy AS (
         SELECT endpoint_id, COUNT(*) AS n FROM webhook_deliveries
         WHERE in_flight_until > ? AND endpoint_id IN (SELECT endpoint_id FROM due)
         GROUP BY endpoint_id
       ),
       sendable AS (
         SELECT due.* FROM due LEFT JOIN busy ON busy.endpoint_id = due.endpoint_id
         WHERE due.endpoint_turn + COALESCE(busy.n, 0) <= ?
       )
       SELECT id, tenant_id, endpoint_id, payload, attempts, next_attempt_at, schedule_start,
              ROW_NUMBER() OVER (PARTITION BY tenant_id ORDER BY next_attempt_at, id) AS tenant_turn
       FROM sendable ORDER BY tenant_turn, next_attempt_at, id LIMIT ?`,
    )
    .bind(nowMs, nowMs, endpointConcurrency, limit)
    .all<DeliveryRow>();
}

/** One run: every due row a fair batch picks (up to settings.batchSize) gets one attempt. `now` decides what is due and when retries are. */
export async function dispatchDueWebhooks(
  ports: Pick<Ports, 'db'>,
  settings: WebhookSettings,
  now: Date = new Date(),
  fetchImpl: typeof fetch = fetch,
): Promise<DispatchSummary> {
  const { db } = ports;
  const summary: DispatchSummary = { due: 0, claimed: 0, succeeded: 0, retrying: 0, failed: 0, disabledEndpoints: 0 };
  const due = await fairDueRows(db, now.getTime(), settings.endpointConcurrency, settings.batchSize);
  summary.due = due.length;
  await Promise.all(
    due.map(async (row) => {
      const outcome = await deliverOne(db, settings, row, now, fetchImpl);
      if (outcome.kind === 'not_claimed') return;
      summary.claimed++;
      if (outcome.kind === 'succeeded') summary.succeeded++;
      else if (outcome.kind === 'retry') summary.retrying++;
      else {
        summary.failed += outcome.failedCount;
        summary.disabledEndpoints += outcome.disabledEndpoints;
      }
    }),
  );
  return summary;
}

export interface WebhookTimer {
  stop(): Promise<void>;
}
