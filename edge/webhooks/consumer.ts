// The Workers queue consumer of webhook deliveries: each message names one webhook_deliveries row, and gets one
// attempt through deliverOne (dispatcher.ts: the same claim, signing, sending and logging as the dispatcher).
//
// Per message:
//   - the row is gone or final → ack (nothing to do);
//   - an attempt of it is in flight (another invocation sends it) → the message comes back when that claim ends, in
//     case its sender dies; ack;
//   - not due (a duplicate: the row's retry is held by another message) → ack and drop;
//   - due → deliverOne: succeeded → ack; a failure to retry → msg.retry({ delaySeconds }) with the schedule's delay;
//     the last attempt failed → the row is failed and the message goes to the dead-letter queue (sent there
//     explicitly, with the reason, then acked: the row's attempts, not the message's, decide when the schedule
//     ends, because a message may be re-sent, below); 410 / endpoint deleted → ack;
//   - the endpoint already has settings.endpointConcurrency (6) attempts in flight (the claim refused it) → the
//     message is sent again with settings.deferSeconds of delay (a new message: deferring never uses up the
//     message's retries) and acked.
//
// Fairness: an invocation gets a small batch (max_batch_size = 6 in wrangler.toml: one invocation never needs more
// than the 6 outbound connections a Worker invocation may have waiting), and waits for an attempt at most
// settings.holdMs. An attempt still running then (a slow receiver) is finished in ctx.waitUntil — its outcome
// recorded in the row, a retry enqueued as a new message with the schedule's delay — and its message is acked (a
// watchdog message is sent to come back when the attempt's claim ends, in case the background half is lost), so
// the invocation returns and the queue delivers the next batch: a slow receiver costs other tenants at most holdMs
// once per open attempt, never the length of its answers, and (with the per-endpoint limit) never more than 6 of
// its attempts at a time. This needs the compatibility flag queue_consumer_no_wait_for_wait_until (wrangler.toml),
// without which the runtime holds the batch open until every waitUntil promise settles.
import type { Logger } from '../config.ts';
import type { SqlDatabase, WebhookQueue } from '../ports.ts';
import { CLAIM_MARGIN_MS, type DeliveryOutcome, type DeliveryRow, deliverOne } from './dispatcher.ts';
import type { WebhookSettings } from './settings.ts';
import { sendAll } from './queue.ts';

/** A delivered queue message, as the runtime hands it over (the part used here). */
export interface QueuedMessage {
  readonly id: string;
  readonly body: unknown;
  readonly attempts: number;
  ack(): void;
  retry(options?: { delaySeconds?: number }): void;
}

export interface ConsumerDeps {
  /** The webhook queue itself (deferred messages, retries of attempts finished in the background). */
  queue: WebhookQueue;
  /** The dead-letter queue; when absent, an exhausted delivery is only marked failed in its row. */
  deadLetters?: WebhookQueue;
  /** ctx.waitUntil of the invocation. */
  waitUntil(promise: Promise<unknown>): void;
  logger: Logger;
  fetchImpl?: typeof fetch;
}

export interface ConsumeSummary {
  succeeded: number;
  retrying: number;
  failed: number;
  /** Messages sent again because the endpoint had no free slot (or an attempt was in flight). */
  deferred: number;
  /** Attempts still running after holdMs, finished in the background. */
  handedOff: number;
  /** Messages with nothing to do (row final, not due, taken by another claimer, malformed). */
  dropped: number;
}

interface RowState extends DeliveryRow {
  status: string;
  in_flight_until: number | null;
}

function deliveryIdOf(body: unknown): string | null {
  const id = (body as { delivery_id?: unknown } | null)?.delivery_id;
  return typeof id === 'string' && id.length > 0 && id.length <= 100 ? id : null;
}

/** How the message ends for an outcome known while the handler runs (settle) or after it returned (settleLater). */
type Settle = (outcome: DeliveryOutcome) => Promise<void>;

/** Consumes one batch of webhook messages (see the header). Never throws for one message's failure. */
export async function consumeWebhookMessages(
  db: SqlDatabase,
  settings: WebhookSettings,
  messages: readonly QueuedMessage[],
  deps: ConsumerDeps,
  now: Date = new Date(),
): Promise<ConsumeSummary> {
  const summary: ConsumeSummary = { succeeded: 0, retrying: 0, failed: 0, deferred: 0, handedOff: 0, dropped: 0 };
  const nowMs = now.getTime();

  const defer = async (id: string, delaySeconds: number) => {
    await sendAll(deps.queue, [id], delaySeconds);
    // A fresh enqueued_at tells the cron this row still has a message.
    await db.prepare('UPDATE webhook_deliveries SET enqueued_at = ? WHERE id = ?').bind(Date.now(), id).run();
    summary.deferred++;
  };
  const deadLetter = async (id: string, attempt: number) => {
    await deps.deadLetters?.send([{ delivery_id: id, reason: `failed after ${attempt} attempts` }]);
  };
  const count = (o: DeliveryOutcome) => {
    if (o.kind === 'succeeded') summary.succeeded++;
    else if (o.kind === 'retry') summary.retrying++;
    else if (o.kind === 'failed') summary.failed += o.failedCount;
  };

  const handle = async (msg: QueuedMessage): Promise<void> => {
    const id = deliveryIdOf(msg.body);
    if (!id) {
      deps.logger.warn(`[webhooks] dropped a queue message without a delivery id: ${msg.id}`);
      summary.dropped++;
      return msg.ack();
    }
    const row = await db
      .prepare(
        'SELECT id, tenant_id, endpoint_id, payload, attempts, next_attempt_at, schedule_start, status, in_flight_until FROM webhook_deliveries WHERE id = ?',
      )
      .bind(id)
      .first<RowState>();
    if (!row || row.status !== 'pending') {
      summary.dropped++;
      return msg.ack();
    }
    if (row.in_flight_until !== null && row.in_flight_until > nowMs) {
      await defer(id, Math.max(1, Math.ceil((row.in_flight_until - nowMs) / 1000)));
      return msg.ack();
    }
    if (row.next_attempt_at > nowMs) {
      summary.dropped++;
      return msg.ack();
    }

    // While the handler runs: the message carries the outcome.
    const settle: Settle = async (o) => {
      count(o);
      if (o.kind === 'retry') return msg.retry({ delaySeconds: o.delaySeconds });
      if (o.kind === 'not_claimed' && o.busy) await defer(id, settings.deferSeconds);
      else if (o.kind === 'not_claimed') summary.dropped++;
      else if (o.kind === 'failed' && o.reason === 'exhausted') await deadLetter(id, o.attempt);
      msg.ack();
    };
    // After the message was acked: new messages carry it.
    const settleLater: Settle = async (o) => {
      count(o);
      if (o.kind === 'retry') await sendAll(deps.queue, [id], o.delaySeconds);
      else if (o.kind === 'not_claimed' && o.busy) await defer(id, settings.deferSeconds);
      else if (o.kind === 'failed' && o.reason === 'exhausted') await deadLetter(id, o.attempt);
    };

    const attempt = deliverOne(db, settings, row, now, deps.fetchImpl ?? fetch);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const held = new Promise<'held'>((ok) => {
      timer = setTimeout(() => ok('held'), settings.holdMs);
    });
    const first = await Promise.race([attempt, held]);
    clearTimeout(timer);
    if (first !== 'held') return settle(first);
    summary.handedOff++;
    deps.waitUntil(
      attempt.then(settleLater).catch((err) => {
        // The row keeps its state; the watchdog message (or the cron's safety net) starts the next attempt.
        deps.logger.error(`[webhooks] delivery ${id}: finishing an attempt in the background failed`, err);
      }),
    );
    // A watchdog: a message that comes back when the claim ends. Dropped then if the attempt finished; if the
    // background half was lost (the isolate went away), it starts the next attempt instead of waiting for the cron.
    await defer(id, Math.ceil((settings.timeoutMs + CLAIM_MARGIN_MS) / 1000) + 1);
    msg.ack();
  };

  await Promise.all(
    messages.map((msg) =>
      handle(msg).catch((err) => {
        // D1 or the queue failed: the message comes back after the queue's retry delay (and goes to the dead-letter
        // queue after max_retries; the cron re-enqueues a row that is still pending).
        deps.logger.error(`[webhooks] queue message ${msg.id} failed; it will be retried`, err);
        msg.retry();
      }),
    ),
  );
  return summary;
}
