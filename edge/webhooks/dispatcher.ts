// Sends due webhook deliveries from the outbox (webhook_deliveries). One function for both runtimes:
// it runs inside runBackgroundTasks (edge/background.ts), called by the Workers cron trigger and by the
// Node timer. Web-standard code only (fetch, AbortSignal.timeout, Web Crypto).
//
// Claiming: a due row is claimed by moving its next_attempt_at forward by the timeout (plus a margin)
// and counting the attempt, under `WHERE next_attempt_at = <the value we read>`; only one dispatcher's
// UPDATE matches, so two dispatchers never send the same attempt. A dispatcher that dies mid-attempt
// leaves the row to be picked again once the claim expires (that attempt still counts).
//
// Per attempt: headers webhook-id (the delivery id, stable across retries), webhook-timestamp (this
// attempt, unix seconds), webhook-signature (current secret, plus the previous one during its 24 h
// overlap); redirect: 'manual' (a 3xx is a failure and is never followed); the destination is
// re-checked against the URL guard (with DNS when a resolver is given) right before sending.
// Outcome: 2xx → succeeded; 410 → the endpoint is disabled and its pending deliveries fail; anything
// else → retry after the schedule's next delay, failed after the last attempt.
import type { Logger } from '../config.ts';
import type { Ports, SqlDatabase } from '../ports.ts';
import { type WebhookSettings, maxAttempts } from './settings.ts';
import { webhookHeaders } from './signing.ts';
import { checkWebhookUrl, resolveAndCheck } from './url-guard.ts';

/** Extra claim time beyond the request timeout (signing, logging). */
const CLAIM_MARGIN_MS = 5_000;
/** Longest error text stored per attempt. */
const MAX_ERROR_CHARS = 500;

export interface DispatchSummary {
  /** Rows found due. */
  due: number;
  /** Rows this dispatcher claimed (others were taken by a concurrent dispatcher). */
  claimed: number;
  succeeded: number;
  /** Failed attempts that will be retried. */
  retrying: number;
  /** Deliveries that failed for good (last attempt, 410, endpoint gone). */
  failed: number;
  /** Endpoints disabled by a 410. */
  disabledEndpoints: number;
}

interface DueRow {
  id: string;
  endpoint_id: string;
  payload: string;
  attempts: number;
  next_attempt_at: number;
}

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

async function claim(db: SqlDatabase, row: DueRow, until: number): Promise<boolean> {
  const { changes } = await db
    .prepare(
      `UPDATE webhook_deliveries SET next_attempt_at = ?, attempts = attempts + 1
       WHERE id = ? AND status = 'pending' AND next_attempt_at = ? AND attempts = ?`,
    )
    .bind(until, row.id, row.next_attempt_at, row.attempts)
    .run();
  return changes === 1;
}

async function send(
  endpoint: EndpointRow,
  row: DueRow,
  settings: WebhookSettings,
  fetchImpl: typeof fetch,
): Promise<AttemptResult> {
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

/** Sends every due pending delivery once (up to settings.batchSize). `now` decides what is due and when retries are. */
export async function dispatchDueWebhooks(
  ports: Pick<Ports, 'db'>,
  settings: WebhookSettings,
  now: Date = new Date(),
  fetchImpl: typeof fetch = fetch,
): Promise<DispatchSummary> {
  const { db } = ports;
  const nowMs = now.getTime();
  const summary: DispatchSummary = { due: 0, claimed: 0, succeeded: 0, retrying: 0, failed: 0, disabledEndpoints: 0 };
  const due = await db
    .prepare(
      `SELECT id, endpoint_id, payload, attempts, next_attempt_at FROM webhook_deliveries
       WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`,
    )
    .bind(nowMs, settings.batchSize)
    .all<DueRow>();
  summary.due = due.length;
  const limit = maxAttempts(settings);

  await Promise.all(
    due.map(async (row) => {
      if (!(await claim(db, row, nowMs + settings.timeoutMs + CLAIM_MARGIN_MS))) return;
      summary.claimed++;
      const attempt = row.attempts + 1;
      const endpoint = await db
        .prepare('SELECT url, secret, previous_secret, previous_secret_expires_at, disabled_at FROM webhook_endpoints WHERE id = ?')
        .bind(row.endpoint_id)
        .first<EndpointRow>();
      if (!endpoint || endpoint.disabled_at !== null) {
        // Deleted or disabled since the event: nothing to send to.
        await db.prepare("UPDATE webhook_deliveries SET status = 'failed' WHERE id = ? AND status = 'pending'").bind(row.id).run();
        summary.failed++;
        return;
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

      if (result.kind === 'response' && result.status >= 200 && result.status < 300) {
        await db.batch([logAttempt, db.prepare("UPDATE webhook_deliveries SET status = 'succeeded' WHERE id = ? AND status = 'pending'").bind(row.id)]);
        summary.succeeded++;
        return;
      }
      if (result.kind === 'response' && result.status === 410) {
        const at = new Date().toISOString();
        const [, disabled, failed] = await db.batch([
          logAttempt,
          db
            .prepare('UPDATE webhook_endpoints SET disabled_at = ?, disabled_reason = ? WHERE id = ? AND disabled_at IS NULL')
            .bind(at, `The receiver answered 410 Gone to delivery ${row.id}.`, row.endpoint_id),
          db.prepare("UPDATE webhook_deliveries SET status = 'failed' WHERE endpoint_id = ? AND status = 'pending'").bind(row.endpoint_id),
        ]);
        summary.disabledEndpoints += disabled.changes;
        summary.failed += failed.changes;
        return;
      }
      if (attempt >= limit) {
        await db.batch([logAttempt, db.prepare("UPDATE webhook_deliveries SET status = 'failed' WHERE id = ? AND status = 'pending'").bind(row.id)]);
        summary.failed++;
        return;
      }
      const next = nowMs + settings.retryScheduleSeconds[attempt - 1] * 1000;
      await db.batch([
        logAttempt,
        db.prepare("UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ? AND status = 'pending'").bind(next, row.id),
      ]);
      summary.retrying++;
    }),
  );
  return summary;
}

export interface WebhookTimer {
  stop(): Promise<void>;
}
