// Deliveries of a tenant's webhook endpoints: an endpoint's deliveries (newest first, optionally of one status) with
// every attempt, a test event, and a resend.
//
// Test event (sendTestEvent): a new `webhook.test` delivery to that endpoint only, whatever its `events`, written as an
// outbox row (outbox.ts asOutbox: the Workers entry enqueues it after the request; on Node the dispatcher finds it
// due), so it is signed, sent, logged with its attempts and retried exactly like the delivery of an event. 409 for a
// disabled endpoint (re-enable it first).
//
// Resend (resendDelivery): the same row, in any status, is made pending and due now with its retry schedule restarted
// (schedule_start = the attempts so far; dispatcher.ts): its next attempt carries the same webhook-id and payload,
// signed when sent with the endpoint's secret(s) of that moment, and is added to the same attempt list; if it fails,
// the whole retry schedule follows, as for a new delivery. 409 when its endpoint is disabled (re-enable it first) or
// an attempt of it is in flight (retry once it finished); 404 when it is not the tenant's or its endpoint was deleted
// (such deliveries are listed nowhere either).
import { quoteId } from '../../shared/util/quote.ts';
import { ApiError, conflict, notFound } from '../http/errors.ts';
import { type Pagination, listPage } from '../http/pagination.ts';
import { newId } from '../ids.ts';
import type { SqlDatabase, SqlStatement, SqlValue } from '../ports.ts';
import { getEndpoint } from './endpoints.ts';
import { asOutbox, webhookPayload } from './outbox.ts';
import { type DeliveryEventType, type DeliveryStatus, WEBHOOK_TEST_EVENT } from './settings.ts';

export interface Attempt {
  attempted_at: string;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
}

interface DeliveryRow {
  id: string;
  endpoint_id: string;
  event_type: string;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: number;
  created_at: string;
  payload: string;
}

const DELIVERY_COLUMNS = 'id, endpoint_id, event_type, status, attempts, next_attempt_at, created_at, payload';

function toDelivery(d: DeliveryRow, attempts: Attempt[]) {
  return {
    id: d.id,
    endpoint_id: d.endpoint_id,
    event_type: d.event_type as DeliveryEventType,
    status: d.status,
    attempt_count: d.attempts,
    next_attempt_at: d.status === 'pending' ? new Date(d.next_attempt_at).toISOString() : null,
    created_at: d.created_at,
    payload: JSON.parse(d.payload) as unknown,
    attempts,
  };
}

export type Delivery = ReturnType<typeof toDelivery>;

const noDelivery = (id: string) =>
  notFound(`No webhook delivery with id ${quoteId(id)} in your tenant (deliveries of a deleted endpoint are gone with it).`, 'id');

const endpointDisabled = (endpointId: string, what: string) =>
  conflict(
    `Webhook endpoint ${quoteId(endpointId)} is disabled, so nothing is sent to it: re-enable it with ` +
      `PATCH /v1/webhook-endpoints/${endpointId} {"enabled": true}, then ${what}.`,
  );

/** Every attempt of the given deliveries (≤ 100 ids: one bound parameter each), oldest first, by delivery. */
async function attemptsOf(db: SqlDatabase, ids: string[]): Promise<Map<string, Attempt[]>> {
  const byDelivery = new Map<string, Attempt[]>();
  if (ids.length === 0) return byDelivery;
  const rows = await db
    .prepare(
      `SELECT delivery_id, attempted_at, status_code, error, duration_ms FROM webhook_attempts
       WHERE delivery_id IN (${ids.map(() => '?').join(', ')}) ORDER BY seq`,
    )
    .bind(...ids)
    .all<{ delivery_id: string } & Attempt>();
  for (const { delivery_id, ...a } of rows) {
    const list = byDelivery.get(delivery_id) ?? [];
    list.push(a);
    byDelivery.set(delivery_id, list);
  }
  return byDelivery;
}

/** A page of the endpoint's deliveries (of `status` only, when given), newest first, each with every attempt; 404 unknown endpoint. */
export async function listDeliveries(db: SqlDatabase, tenantId: string, endpointId: string, page: Pagination & { status?: DeliveryStatus }) {
  await getEndpoint(db, tenantId, endpointId);
  const binds: SqlValue[] = [endpointId, tenantId];
  if (page.status) binds.push(page.status);
  const rows = await listPage<DeliveryRow>(
    db,
    {
      from: 'webhook_deliveries',
      columns: DELIVERY_COLUMNS,
      where: `endpoint_id = ? AND tenant_id = ?${page.status ? ' AND status = ?' : ''}`,
      binds,
      order: 'desc',
    },
    page,
  );
  const attempts = await attemptsOf(db, rows.data.map((d) => d.id));
  return { data: rows.data.map((d) => toDelivery(d, attempts.get(d.id) ?? [])), has_more: rows.has_more };
}

/** The tenant's delivery with every attempt, or 404 (also when its endpoint was deleted). */
export async function getDelivery(db: SqlDatabase, tenantId: string, id: string): Promise<Delivery> {
  const row = await db
    .prepare(
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries AS d
       WHERE d.id = ? AND d.tenant_id = ? AND EXISTS (SELECT 1 FROM webhook_endpoints AS e WHERE e.id = d.endpoint_id AND e.tenant_id = d.tenant_id)`,
    )
    .bind(id, tenantId)
    .first<DeliveryRow>();
  if (!row) throw noDelivery(id);
  return toDelivery(row, (await attemptsOf(db, [id])).get(id) ?? []);
}

/** 404 when the endpoint is not the tenant's, 409 when it is disabled; otherwise nothing. */
async function requireEnabledEndpoint(db: SqlDatabase, tenantId: string, endpointId: string, what: string): Promise<void> {
  const endpoint = await getEndpoint(db, tenantId, endpointId);
  if (!endpoint.enabled) throw endpointDisabled(endpointId, what);
}

/**
 * A new `webhook.test` delivery to the endpoint (see the header), in one batch with `commit(delivery)` (the request's
 * Idempotency-Key). The INSERT writes its endpoint id only while the endpoint is the tenant's and enabled, and NULL
 * (NOT NULL: the whole batch fails) otherwise, so an endpoint deleted or disabled meanwhile gets no delivery and the
 * key stays free.
 */
export async function sendTestEvent(
  db: SqlDatabase,
  tenantId: string,
  endpointId: string,
  commit: (delivery: Delivery) => SqlStatement[] = () => [],
): Promise<Delivery> {
  await requireEnabledEndpoint(db, tenantId, endpointId, 'send the test');
  const now = new Date();
  const id = newId('webhookMessage', now.getTime());
  const payload = webhookPayload(WEBHOOK_TEST_EVENT, { endpoint_id: endpointId, delivery_id: id }, now);
  const row: DeliveryRow = {
    id,
    endpoint_id: endpointId,
    event_type: WEBHOOK_TEST_EVENT,
    status: 'pending',
    attempts: 0,
    next_attempt_at: now.getTime(),
    created_at: now.toISOString(),
    payload,
  };
  const delivery = toDelivery(row, []);
  const insert = db
    .prepare(
      `INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_type, payload, status, attempts, next_attempt_at, created_at)
       SELECT ?, ?, CASE WHEN EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = ? AND tenant_id = ? AND disabled_at IS NULL) THEN ? ELSE NULL END,
              ?, ?, 'pending', 0, ?, ?`,
    )
    .bind(id, tenantId, endpointId, tenantId, endpointId, WEBHOOK_TEST_EVENT, payload, row.next_attempt_at, row.created_at);
  try {
    await db.batch([asOutbox(insert, id), ...commit(delivery)]);
  } catch (err) {
    await requireEnabledEndpoint(db, tenantId, endpointId, 'send the test'); // deleted (404) or disabled (409) meanwhile
    throw err;
  }
  return delivery;
}

/** Resends the tenant's delivery (see the header) and answers it as it is then: pending, due now. */
export async function resendDelivery(db: SqlDatabase, tenantId: string, id: string): Promise<Delivery> {
  const nowMs = Date.now();
  const resend = db
    .prepare(
      `UPDATE webhook_deliveries
       SET status = 'pending', next_attempt_at = ?, schedule_start = attempts, in_flight_until = NULL, enqueued_at = NULL
       WHERE id = ? AND tenant_id = ? AND (in_flight_until IS NULL OR in_flight_until <= ?)
         AND EXISTS (SELECT 1 FROM webhook_endpoints AS e WHERE e.id = webhook_deliveries.endpoint_id AND e.tenant_id = ? AND e.disabled_at IS NULL)`,
    )
    .bind(nowMs, id, tenantId, nowMs, tenantId);
  const [resent] = await db.batch([asOutbox(resend, id)]);
  if (resent.changes === 0) {
    const delivery = await getDelivery(db, tenantId, id); // 404: not the tenant's, or its endpoint is gone
    const endpoint = await getEndpoint(db, tenantId, delivery.endpoint_id).catch((err: unknown) => {
      throw err instanceof ApiError && err.status === 404 ? noDelivery(id) : err; // deleted just now
    });
    if (!endpoint.enabled) throw endpointDisabled(endpoint.id, 'resend the delivery');
    throw conflict(`An attempt of delivery ${quoteId(id)} is in progress; resend it once that attempt has finished (within a few seconds).`);
  }
  return getDelivery(db, tenantId, id);
}
