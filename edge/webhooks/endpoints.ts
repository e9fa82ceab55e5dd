// Webhook endpoints of a tenant: create (the URL checked by the guard, within the tenant's cap), list, read, update (url,
// events, enabled), delete (its pending deliveries fail at once), rotate the secret (the old one keeps signing for
// SECRET_OVERLAP_MS). The secret is returned only by create and rotate. Deliveries: deliveries.ts.
//
// Disabled endpoints: an endpoint is disabled when its receiver answers 410 (dispatcher.ts) or by an update with
// `enabled: false`; disabled_reason says which. While disabled, events make no delivery for it (outbox.ts), and
// disabling fails its pending deliveries at once (as a 410 does): nothing is sent to it. `enabled: true` clears
// disabled_at and disabled_reason; events from then on are delivered, and earlier deliveries can be resent one by one.
import { quoteId } from '../../shared/util/quote.ts';
import { conflict, notFound, validationFailed } from '../http/errors.ts';
import { type Pagination, listPage } from '../http/pagination.ts';
import { newId } from '../ids.ts';
import type { SqlDatabase, SqlStatement, SqlValue } from '../ports.ts';
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
    enabled: r.disabled_at === null,
    disabled_at: r.disabled_at,
    disabled_reason: r.disabled_reason,
    created_at: r.created_at,
  };
}

export type Endpoint = ReturnType<typeof toEndpoint>;

/** disabled_reason of an endpoint disabled by an update with `enabled: false` (a 410 writes its own: dispatcher.ts). */
export const DISABLED_BY_YOU = 'Disabled by you (enabled: false).';

export const noEndpoint = (id: string) => notFound(`No webhook endpoint with id ${quoteId(id)} in your tenant.`, 'id');

export interface CreatedEndpoint {
  id: string;
  url: string;
  events: WebhookEventType[];
  enabled: true;
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
  const events = o.events ? canonicalEvents(o.events) : DEFAULT_WEBHOOK_EVENTS;
  const id = newId('webhookEndpoint');
  const secret = newWebhookSecret();
  const createdAt = new Date().toISOString();
  const url = check.url.href;
  const created = { id, url, events, enabled: true as const, disabled_at: null, disabled_reason: null, created_at: createdAt, secret };
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
export async function rotateSecret(db: SqlDatabase, tenantId: string, id: string, now: Date = new Date()) {
  const secret = newWebhookSecret();
  const expires = new Date(now.getTime() + SECRET_OVERLAP_MS).toISOString();
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

/** The events in their canonical order (that of WEBHOOK_EVENT_TYPES), each once. */
function canonicalEvents(events: readonly WebhookEventType[]): WebhookEventType[] {
  return WEBHOOK_EVENT_TYPES.filter((e) => events.includes(e));
}

export interface EndpointUpdate {
  url?: string;
  events?: WebhookEventType[];
  enabled?: boolean;
}

/** What an update changed, for the audit event: the new values, and on re-enabling the reason it had been disabled. */
export type EndpointChange = Record<string, SqlValue | boolean | string[]>;

/**
 * Changes the endpoint's url (checked by the URL guard, 422), events and/or enabled state (see the header), and
 * answers the endpoint as it is then. 404 when it is not the tenant's; 422 when the update names nothing to change.
 * Only what differs from the stored endpoint is written, in one batch led by `audit(change)` (the caller's audit
 * INSERT, conditional on the endpoint existing); an update that changes nothing writes nothing.
 */
export async function updateEndpoint(
  db: SqlDatabase,
  o: { tenantId: string; id: string; update: EndpointUpdate; localMode: boolean },
  audit: (change: EndpointChange) => SqlStatement,
): Promise<Endpoint> {
  const { url, events, enabled } = o.update;
  if (url === undefined && events === undefined && enabled === undefined) {
    throw validationFailed('Give at least one of url, events and enabled to change.');
  }
  let checkedUrl: string | undefined;
  if (url !== undefined) {
    const check = checkWebhookUrl(url, { localMode: o.localMode });
    if (!check.ok) throw validationFailed(check.reason, 'url');
    checkedUrl = check.url.href;
  }
  const current = await getEndpoint(db, o.tenantId, o.id);
  const sets: string[] = [];
  const binds: SqlValue[] = [];
  const change: EndpointChange = {};
  const after: SqlStatement[] = [];
  if (checkedUrl !== undefined && checkedUrl !== current.url) {
    sets.push('url = ?');
    binds.push(checkedUrl);
    change.url = checkedUrl;
  }
  const newEvents = events && canonicalEvents(events);
  if (newEvents && newEvents.join() !== current.events.join()) {
    sets.push('events = ?');
    binds.push(JSON.stringify(newEvents));
    change.events = newEvents;
  }
  if (enabled === true && !current.enabled) {
    sets.push('disabled_at = NULL', 'disabled_reason = NULL');
    change.enabled = true;
    change.disabled_reason = current.disabled_reason;
  } else if (enabled === false && current.enabled) {
    // Disabled meanwhile (a 410)? Then that stays the reason.
    sets.push('disabled_at = COALESCE(disabled_at, ?)', 'disabled_reason = CASE WHEN disabled_at IS NULL THEN ? ELSE disabled_reason END');
    binds.push(new Date().toISOString(), DISABLED_BY_YOU);
    change.enabled = false;
    // Nothing is sent to a disabled endpoint: its pending deliveries fail now (an attempt in flight keeps its claim).
    after.push(
      db
        .prepare("UPDATE webhook_deliveries SET status = 'failed' WHERE endpoint_id = ? AND tenant_id = ? AND status = 'pending'")
        .bind(o.id, o.tenantId),
    );
  }
  if (sets.length === 0) return current;
  const [, updated] = await db.batch([
    audit(change),
    db.prepare(`UPDATE webhook_endpoints SET ${sets.join(', ')} WHERE id = ? AND tenant_id = ?`).bind(...binds, o.id, o.tenantId),
    ...after,
  ]);
  if (updated.changes === 0) throw noEndpoint(o.id); // deleted meanwhile (the audit INSERT found no endpoint either)
  return getEndpoint(db, o.tenantId, o.id);
}
