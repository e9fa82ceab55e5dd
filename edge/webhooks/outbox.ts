// The webhook outbox: statements that enqueue one delivery per subscribed, enabled endpoint of the
// tenant. The caller runs them in the same db.batch as the state change that caused the event, so an
// event is recorded if and only if the change is (the dispatcher or the Workers queue sends it later, with retries).
// Each statement is registered with its delivery id (outboxDeliveryId), so a database adapter can tell, after a
// batch committed, which deliveries it wrote: the Workers entry enqueues exactly those right after the request.
// Other statements that make a delivery due (a test event, a resend: deliveries.ts) register with asOutbox.
import { newId } from '../ids.ts';
import type { SqlDatabase, SqlStatement } from '../ports.ts';
import type { DeliveryEventType, WebhookEventType } from './settings.ts';

/** The exact body sent on every attempt: `{"type","timestamp","data"}`. */
export function webhookPayload(eventType: DeliveryEventType, data: Record<string, unknown>, now: Date): string {
  return JSON.stringify({ type: eventType, timestamp: now.toISOString(), data });
}

/** Outbox INSERT statements → the id of the delivery each writes. */
const outboxIds = new WeakMap<SqlStatement, string>();

/** The delivery id an outbox statement writes or makes due (undefined for any other statement). */
export function outboxDeliveryId(statement: SqlStatement): string | undefined {
  return outboxIds.get(statement);
}

/** Registers `statement` as one that, when it changes a row, makes delivery `deliveryId` pending and due now. */
export function asOutbox(statement: SqlStatement, deliveryId: string): SqlStatement {
  outboxIds.set(statement, deliveryId);
  return statement;
}

export function parseEvents(json: string): string[] {
  try {
    const v = JSON.parse(json) as unknown;
    return Array.isArray(v) ? v.filter((e): e is string => typeof e === 'string') : [];
  } catch {
    return [];
  }
}

export async function outboxStatements(
  db: SqlDatabase,
  tenantId: string,
  eventType: WebhookEventType,
  data: Record<string, unknown>,
  now: Date,
): Promise<SqlStatement[]> {
  const endpoints = await db
    .prepare('SELECT id, events FROM webhook_endpoints WHERE tenant_id = ? AND disabled_at IS NULL ORDER BY id')
    .bind(tenantId)
    .all<{ id: string; events: string }>();
  const payload = webhookPayload(eventType, data, now);
  const createdAt = now.toISOString();
  return endpoints
    .filter((e) => parseEvents(e.events).includes(eventType))
    .map((e) => {
      const id = newId('webhookMessage', now.getTime());
      const statement = db
        .prepare(
          `INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_type, payload, status, attempts, next_attempt_at, created_at)
           VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT DO NOTHING`,
        )
        .bind(id, tenantId, e.id, eventType, payload, now.getTime(), createdAt);
      return asOutbox(statement, id);
    });
}
