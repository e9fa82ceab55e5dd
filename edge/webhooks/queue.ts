// Handing webhook deliveries to the Workers queue (the producer side; the consumer is consumer.ts).
//
// The outbox rows stay the source of truth: a row is written in the same batch as the state change that caused it,
// and a queue message only says "attempt delivery <id>". Two producers:
//   - right after a request: the Workers entry collects the ids of the outbox rows the request's batches wrote
//     (outbox.ts registers each outbox INSERT, the D1 adapter reports which of them a committed batch wrote) and
//     calls enqueueDeliveries in ctx.waitUntil — no query at all for requests that wrote none;
//   - the cron (runBackgroundTasks), as the safety net: enqueueDueDeliveries sends a message for every due row that
//     never got one (the isolate died between the batch and the send, or the send failed) and for rows whose
//     message was lost (due for settings.lostAfterMs, not in flight, no message sent within that time).
// A row is marked (enqueued_at) before its message is sent and unmarked when the send fails, so two producers never
// both send the first message of a row; a duplicate message (the safety net racing a slow one) is harmless: the
// consumer's claim lets only one attempt through, and a message for a row that is not due is dropped.
import type { SqlDatabase, WebhookMessage, WebhookQueue } from '../ports.ts';
import type { WebhookSettings } from './settings.ts';

/** Most messages per send (Cloudflare Queues' sendBatch limit). */
export const QUEUE_SEND_MAX = 100;

export interface EnqueueSummary {
  /** Rows that never had a message, now enqueued. */
  enqueued: number;
  /** Rows whose message was lost, enqueued again. */
  requeued: number;
}

/** Sends one message per id, in chunks the queue accepts. */
export async function sendAll(queue: WebhookQueue, ids: string[], delaySeconds?: number): Promise<void> {
  for (let i = 0; i < ids.length; i += QUEUE_SEND_MAX) {
    const messages: WebhookMessage[] = ids.slice(i, i + QUEUE_SEND_MAX).map((delivery_id) => ({ delivery_id }));
    await queue.send(messages, delaySeconds);
  }
}

/** Sets enqueued_at of the given rows (still pending) to `at`; with `onlyUnqueued` only of rows that have none. The ids it set. */
async function mark(db: SqlDatabase, ids: string[], at: number, onlyUnqueued: boolean): Promise<Set<string>> {
  const set = new Set<string>();
  for (let i = 0; i < ids.length; i += QUEUE_SEND_MAX) {
    const rows = await db
      .prepare(
        `UPDATE webhook_deliveries SET enqueued_at = ?
         WHERE id IN (SELECT value FROM json_each(?)) AND status = 'pending'${onlyUnqueued ? ' AND enqueued_at IS NULL' : ''}
         RETURNING id`,
      )
      .bind(at, JSON.stringify(ids.slice(i, i + QUEUE_SEND_MAX)))
      .all<{ id: string }>();
    for (const r of rows) set.add(r.id);
  }
  return set;
}

async function unmark(db: SqlDatabase, ids: string[], at: number): Promise<void> {
  for (let i = 0; i < ids.length; i += QUEUE_SEND_MAX) {
    await db
      .prepare('UPDATE webhook_deliveries SET enqueued_at = NULL WHERE id IN (SELECT value FROM json_each(?)) AND enqueued_at = ?')
      .bind(JSON.stringify(ids.slice(i, i + QUEUE_SEND_MAX)), at)
      .run();
  }
}

/** Marks, then sends; a failed send unmarks what it did not send, so the cron tries again, and rethrows. */
async function markAndSend(db: SqlDatabase, queue: WebhookQueue, ids: string[], at: number, onlyUnqueued: boolean): Promise<number> {
  const marked = await mark(db, ids, at, onlyUnqueued);
  const toSend = ids.filter((id) => marked.has(id)); // in the caller's order
  try {
    await sendAll(queue, toSend);
  } catch (err) {
    await unmark(db, toSend, at).catch(() => {});
    throw err;
  }
  return toSend.length;
}

/** Enqueues the given new deliveries (those not enqueued yet); the number sent. */
export async function enqueueDeliveries(db: SqlDatabase, queue: WebhookQueue, ids: string[], now: Date = new Date()): Promise<number> {
  if (ids.length === 0) return 0;
  return markAndSend(db, queue, ids, now.getTime(), true);
}

/**
 * The cron's safety net (see the header): due rows without a message, then rows whose message was lost, each list in
 * tenant turns (every tenant's oldest first) and at most settings.enqueueLimit in all.
 */
export async function enqueueDueDeliveries(db: SqlDatabase, queue: WebhookQueue, settings: WebhookSettings, now: Date = new Date()): Promise<EnqueueSummary> {
  const nowMs = now.getTime();
  const unqueued = await db
    .prepare(
      `SELECT id FROM (
         SELECT id, next_attempt_at, ROW_NUMBER() OVER (PARTITION BY tenant_id ORDER BY next_attempt_at, id) AS turn
         FROM webhook_deliveries WHERE status = 'pending' AND enqueued_at IS NULL AND next_attempt_at <= ?
       ) ORDER BY turn, next_attempt_at, id LIMIT ?`,
    )
    .bind(nowMs, settings.enqueueLimit)
    .all<{ id: string }>();
  const enqueued = await markAndSend(db, queue, unqueued.map((r) => r.id), nowMs, true);

  const lostBefore = nowMs - settings.lostAfterMs;
  const lost = await db
    .prepare(
      `SELECT id FROM (
         SELECT id, next_attempt_at, ROW_NUMBER() OVER (PARTITION BY tenant_id ORDER BY next_attempt_at, id) AS turn
         FROM webhook_deliveries
         WHERE status = 'pending' AND next_attempt_at <= ? AND enqueued_at <= ? AND (in_flight_until IS NULL OR in_flight_until <= ?)
       ) ORDER BY turn, next_attempt_at, id LIMIT ?`,
    )
    .bind(lostBefore, lostBefore, nowMs, Math.max(0, settings.enqueueLimit - enqueued))
    .all<{ id: string }>();
  const requeued = lost.length > 0 ? await markAndSend(db, queue, lost.map((r) => r.id), nowMs, false) : 0;
  return { enqueued, requeued };
}
