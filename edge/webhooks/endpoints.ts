// Webhook endpoints of a tenant: create (the URL checked by the guard, within the tenant's cap), list, read, delete (its pending
// deliveries fail at once), rotate the secret (the old one keeps signing for SECRET_OVERLAP_MS), and the
// deliveries of an endpoint with all their attempts. The secret is returned only by create and rotate.
import { quoteId } from '../../shared/util/quote.ts';
import { conflict, notFound, validationFailed } from '../http/errors.ts';
import { type Pagination, listPage } from '../http/pagination.ts';
import { newId } from '../ids.ts';
import type { SqlDatabase, SqlStatement } from '../ports.ts';
import { parseEvents } from './outbox.ts';
import { DEFAULT_WEBHOOK_EVENTS, SECRET_OVERLAP_MS, WEBHOOK_EVENT_TYPES, type WebhookEventType } from './settings.ts';
import { newWebhookSecret } from './signing.ts';
import { checkWebhookUrl } from './url-guard.ts';

interface EndpointRow {
  id: string;
  url: string;
  events: string;
  disabled_at: string | null;
  disabled_reason: string | null;
  created_at: string;
}

const ENDPOINT_COLUMNS = 'id, url, events, disabled_at, disabled_reason, created_at';

function toEndpoint(r: EndpointRow) {
  return {
    id: r.id,
    url: r.url,
    events: parseEvents(r.events) as WebhookEventType[],
    disabled_at: r.disabled_at,
    disabled_reason: r.disabled_reason,
    created_at: r.created_at,
  };
}

const noEndpoint = (id: string) => notFound(`No webhook endpoint with id ${quoteId(id)} in your tenant.`, 'id');

export interface CreatedEndpoint {
  id: string;
  url: string;
  events: WebhookEventType[];
  disabled_at: null;
  disabled_reason: null;
  created_at: string;
  secret: string;
}

const overCap = (max: number) =>
  conflict(`You have reached the limit of ${max} webhook endpoints per tenant; delete one you no longer need first.`);

async function endpointCount(db: SqlDatabase, tenantId: string): Promise<number> {
  const row = await db.prepare('SELECT COUNT(*) AS n FROM webhook_endpoints WHERE tenant_id = ?').bind(tenantId).first<{ n: number }>();
  return Number(row?.n ?? 0);
}

/**
 * A new endpoint and its secret (in one batch with `commit`'s statements: the request's Idempotency-Key); 422 when the
 * URL guard refuses the URL; 409 when the tenant has `maxEndpoints` already (API.md has no quota code: like the other
 * quotas, a conflict with the account's state). The cap holds under concurrent requests: the INSERT counts the
 * tenant's endpoints itself and, at the cap, writes NULL into the NOT NULL url, which aborts the whole batch (the
 * Idempotency-Key's commit too), so an over-cap request writes nothing. `events` default: the final events.
 */
export async function createEndpoint(
  db: SqlDatabase,
  o: { tenantId: string; url: string; events?: WebhookEventType[]; localMode: boolean; maxEndpoints: number },
  commit: (created: CreatedEndpoint) => SqlStatement[] = () => [],
): Promise<CreatedEndpoint> {
  const check = checkWebhookUrl(o.url, { localMode: o.localMode });
  if (!check.ok) throw validationFailed(check.reason, 'url');
  if ((await endpointCount(db, o.tenantId)) >= o.maxEndpoints) throw overCap(o.maxEndpoints);
  const events = o.events ? WEBHOOK_EVENT_TYPES.filter((e) => o.events!.includes(e)) : DEFAULT_WEBHOOK_EVENTS;
  const id = newId('webhookEndpoint');
  const secret = newWebhookSecret();
  const createdAt = new Date().toISOString();
  const url = check.url.href;
  const created = { id, url, events, disabled_at: null, disabled_reason: null, created_at: createdAt, secret };
  try {
    await db.batch([
      db
        .prepare(
          `INSERT INTO webhook_endpoints (id, tenant_id, url, events, secret, created_at)
           SELECT ?, ?, CASE WHEN (SELECT COUNT(*) FROM webhook_endpoints WHERE tenant_id = ?) < ? THEN ? ELSE NULL END, ?, ?, ?`,
        )
        .bind(id, o.tenantId, o.tenantId, o.maxEndpoints, url, JSON.stringify(events), secret, createdAt),
      ...commit(created),
    ]);
  } catch (err) {
    // A concurrent request took the last place (the guard above): nothing was written.
    if ((await endpointCount(db, o.tenantId)) >= o.maxEndpoints) throw overCap(o.maxEndpoints);
    throw err;
  }
  return created;
}

/** A page of the tenant's endpoints, oldest first (no secrets). */
export async function listEndpoints(db: SqlDatabase, tenantId: string, page: Pagination) {
  const rows = await listPage<EndpointRow>(db, { from: 'webhook_endpoints', columns: ENDPOINT_COLUMNS, where: 'tenant_id = ?', binds: [tenantId] }, page);
  return { data: rows.data.map(toEndpoint), has_more: rows.has_more };
}

/** The tenant's endpoint (no secret), or 404. */
export async function getEndpoint(db: SqlDatabase, tenantId: string, id: string) {
  const row = await db
    .prepare(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ? AND tenant_id = ?`)
    .bind(id, tenantId)
    .first<EndpointRow>();
  if (!row) throw noEndpoint(id);
  return toEndpoint(row);
}

/** Deletes the endpoint and fails its pending deliveries, in one batch; 404 when it is not there. */
export async function deleteEndpoint(db: SqlDatabase, tenantId: string, id: string): Promise<void> {
  const [deleted] = await db.batch([
    db.prepare('DELETE FROM webhook_endpoints WHERE id = ? AND tenant_id = ?').bind(id, tenantId),
    db
      .prepare("UPDATE webhook_deliveries SET status = 'failed', in_flight_until = NULL WHERE endpoint_id = ? AND tenant_id = ? AND status = 'pending'")
      .bind(id, tenantId),
  ]);
  if (deleted.changes === 0) throw noEndpoint(id);
}

/** A new secret; the current one becomes the previous one (a second rotation within the overlap drops the oldest). */
export async function rotateSecret(db: SqlDatabase, tenantId: string, id: string) {
  const secret = newWebhookSecret();
  const expires = new Date(Date.now() + SECRET_OVERLAP_MS).toISOString();
  const { changes } = await db
    .prepare(
      `UPDATE webhook_endpoints SET previous_secret = secret, previous_secret_expires_at = ?, secret = ?
       WHERE id = ? AND tenant_id = ?`,
    )
    .bind(expires, secret, id, tenantId)
    .run();
  if (changes === 0) throw noEndpoint(id);
  return { id, secret, previous_secret_expires_at: expires };
}

export interface Attempt {
  attempted_at: string;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
}

/** A page of the endpoint's deliveries, newest first, each with every attempt (oldest first); 404 unknown endpoint. */
export async function listDeliveries(db: SqlDatabase, tenantId: string, id: string, page: Pagination) {
  await getEndpoint(db, tenantId, id);
  const rows = await listPage<{
    id: string;
    event_type: string;
    status: 'pending' | 'succeeded' | 'failed';
    attempts: number;
    next_attempt_at: number;
    created_at: string;
    payload: string;
  }>(
    db,
    {
      from: 'webhook_deliveries',
      columns: 'id, event_type, status, attempts, next_attempt_at, created_at, payload',
      where: 'endpoint_id = ? AND tenant_id = ?',
      binds: [id, tenantId],
      order: 'desc',
    },
    page,
  );
  const byDelivery = new Map<string, Attempt[]>();
  if (rows.data.length > 0) {
    const attempts = await db
      .prepare(
        `SELECT delivery_id, attempted_at, status_code, error, duration_ms FROM webhook_attempts
         WHERE delivery_id IN (${rows.data.map(() => '?').join(', ')}) ORDER BY seq`,
      )
      .bind(...rows.data.map((d) => d.id))
      .all<{ delivery_id: string } & Attempt>();
    for (const { delivery_id, ...a } of attempts) {
      const list = byDelivery.get(delivery_id) ?? [];
      list.push(a);
      byDelivery.set(delivery_id, list);
    }
  }
  const data = rows.data.map((d) => ({
    id: d.id,
    event_type: d.event_type as WebhookEventType,
    status: d.status,
    attempt_count: d.attempts,
    next_attempt_at: d.status === 'pending' ? new Date(d.next_attempt_at).toISOString() : null,
    created_at: d.created_at,
    payload: JSON.parse(d.payload) as unknown,
    attempts: byDelivery.get(d.id) ?? [],
  }));
  return { data, has_more: rows.has_more };
}
