// Managing webhook endpoints and deliveries over real HTTP (SQLite): PATCH (url, events, enabled; the audit event;
// 422 for unknown fields, bad URLs and empty updates; 404 for another tenant's endpoint), the 4xx answers of
// POST /{id}/test and POST /v1/webhook-deliveries/{id}/resend (unknown, another tenant's, deleted endpoint, disabled
// endpoint, attempt in flight), delivery lists filtered by status, and the query plans of these routes.
// Deliveries actually sent (signatures, attempts, re-enabling after a 410): test/edge/webhooks/manage-delivery.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointAuditStatement } from '../../../edge/audit/audit.ts';
import type { SqlValue } from '../../../edge/ports.ts';
import { getDelivery, listDeliveries, resendDelivery, sendTestEvent } from '../../../edge/webhooks/deliveries.ts';
import { dispatchDueWebhooks } from '../../../edge/webhooks/dispatcher.ts';
import { DISABLED_BY_YOU, updateEndpoint } from '../../../edge/webhooks/endpoints.ts';
import { outboxStatements } from '../../../edge/webhooks/outbox.ts';
import { webhookSettings } from '../../../edge/webhooks/settings.ts';
import { type TestEdge, bearer, jsonHeaders, startTestEdge } from '../../helpers/edge.ts';
import { RecordingDatabase } from '../../helpers/recording-db.ts';

type Json = Record<string, any>;

let edge: TestEdge; // production mode: https only
beforeAll(async () => {
  edge = await startTestEdge();
});
afterAll(async () => {
  await edge?.close();
});

const create = async (key: string, body: Json = { url: 'https://example.com/hooks' }): Promise<Json> => {
  const res = await edge.fetch('/v1/webhook-endpoints', { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify(body) });
  expect(res.status).toBe(201);
  return (await res.json()) as Json;
};
const patch = (key: string, id: string, body: unknown) =>
  edge.fetch(`/v1/webhook-endpoints/${id}`, { method: 'PATCH', headers: jsonHeaders(key), body: JSON.stringify(body) });
const post = (key: string, path: string) => edge.fetch(path, { method: 'POST', headers: bearer(key) });
const get = async (key: string, path: string): Promise<Json> => {
  const res = await edge.fetch(path, { headers: bearer(key) });
  expect(res.status, path).toBe(200);
  return (await res.json()) as Json;
};
async function error(res: Response, status: number): Promise<Json> {
  expect(res.status).toBe(status);
  return ((await res.json()) as Json).error;
}
const emit = async (tenantId: string, jobId: string) =>
  edge.db.batch(await outboxStatements(edge.db, tenantId, 'training_job.failed', { id: jobId }, new Date()));
const row = (sql: string, ...values: SqlValue[]) => edge.db.raw.prepare(sql).get(...values) as Json;

describe('PATCH /v1/webhook-endpoints/{id}', () => {
  it('changes url and events (canonical order), answers the endpoint, and audits only what changed', async () => {
    const t = await edge.createTenant();
    const ep = await create(t.api_key);
    const res = await patch(t.api_key, ep.id, { url: 'https://hooks.example.org/v2', events: ['evaluation.failed', 'training_job.started'] });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Json;
    expect(body).toEqual({
      id: ep.id,
      url: 'https://hooks.example.org/v2',
      events: ['training_job.started', 'evaluation.failed'],
      enabled: true,
      disabled_at: null,
      disabled_reason: null,
      created_at: ep.created_at,
    });
    expect(JSON.stringify(body)).not.toContain(ep.secret);
    expect(await get(t.api_key, `/v1/webhook-endpoints/${ep.id}`)).toEqual(body);
    // The same url again, events changed: only events are recorded. Nothing changed at all: no event.
    expect((await patch(t.api_key, ep.id, { url: 'https://hooks.example.org/v2', events: ['evaluation.failed'] })).status).toBe(200);
    expect((await patch(t.api_key, ep.id, { events: ['evaluation.failed'], enabled: true })).status).toBe(200);
    const audit = await get(t.api_key, '/v1/audit-events');
    const updates = audit.data.filter((e: Json) => e.action === 'webhook_endpoint.updated');
    expect(updates).toEqual([
      expect.objectContaining({ target: { type: 'webhook_endpoint', id: ep.id }, actor: { type: 'api_key', id: expect.any(String) }, data: { events: ['evaluation.failed'] } }),
      expect.objectContaining({ data: { url: 'https://hooks.example.org/v2', events: ['training_job.started', 'evaluation.failed'] } }),
    ]);
  });

  it('enabled: false disables with reason "disabled by you", fails pending deliveries, stops new ones; enabled: true re-enables', async () => {
    const t = await edge.createTenant();
    const ep = await create(t.api_key);
    await emit(t.id, 'job_before');
    const off = await patch(t.api_key, ep.id, { enabled: false });
    expect(off.status).toBe(200);
    const disabled = (await off.json()) as Json;
    expect(disabled).toMatchObject({ enabled: false, disabled_at: expect.any(String), disabled_reason: DISABLED_BY_YOU });
    expect(edge.db.raw.prepare('SELECT status FROM webhook_deliveries WHERE endpoint_id = ?').all(ep.id)).toEqual([{ status: 'failed' }]);
    await emit(t.id, 'job_while_disabled');
    expect(row('SELECT COUNT(*) AS n FROM webhook_deliveries WHERE endpoint_id = ?', ep.id).n).toBe(1);
    // Disabling again keeps the first reason and time.
    expect(await (await patch(t.api_key, ep.id, { enabled: false })).json()).toEqual(disabled);

    const on = (await (await patch(t.api_key, ep.id, { enabled: true })).json()) as Json;
    expect(on).toMatchObject({ enabled: true, disabled_at: null, disabled_reason: null });
    await emit(t.id, 'job_after');
    expect(edge.db.raw.prepare('SELECT status FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY id').all(ep.id)).toEqual([
      { status: 'failed' },
      { status: 'pending' },
    ]);
    const audit = await get(t.api_key, '/v1/audit-events?limit=2');
    expect(audit.data.map((e: Json) => [e.action, e.data])).toEqual([
      ['webhook_endpoint.updated', { enabled: true, disabled_reason: DISABLED_BY_YOU }],
      ['webhook_endpoint.updated', { enabled: false }],
    ]);
  });

  it.each<[Json, string | undefined, string]>([
    [{ url: 'https://example.com/h', secret: 'whsec_x' }, undefined, 'an unknown field'],
    [{ enabled: 'yes' }, 'enabled', 'enabled not a boolean'],
    [{ events: [] }, 'events', 'no events'],
    [{ events: ['webhook.test'] }, 'events[0]', 'the test event (not subscribable)'],
    [{ url: 'http://example.com/h' }, 'url', 'http outside local mode'],
    [{ url: 'https://169.254.169.254/latest' }, 'url', 'a link-local address'],
    [{ url: 'https://u:p@example.com/h' }, 'url', 'credentials in the URL'],
    [{}, undefined, 'nothing to change'],
  ])('422 validation_failed for %j (%s), and nothing changes', async (body, param) => {
    const t = await edge.createTenant();
    const ep = await create(t.api_key);
    const err = await error(await patch(t.api_key, ep.id, body), 422);
    expect(err.code).toBe('validation_failed');
    if (param) expect(err.param).toBe(param);
    expect(await get(t.api_key, `/v1/webhook-endpoints/${ep.id}`)).toEqual({ ...ep, secret: undefined });
    expect((await get(t.api_key, '/v1/audit-events')).data.map((e: Json) => e.action)).not.toContain('webhook_endpoint.updated');
  });

  it("404 for an unknown id and for another tenant's endpoint, which stays as it was", async () => {
    const a = await edge.createTenant('A');
    const b = await edge.createTenant('B');
    const ep = await create(a.api_key);
    expect((await error(await patch(b.api_key, ep.id, { enabled: false }), 404)).code).toBe('not_found');
    expect((await error(await patch(b.api_key, 'whe_nope', { url: 'https://example.com/x' }), 404)).code).toBe('not_found');
    expect(await get(a.api_key, `/v1/webhook-endpoints/${ep.id}`)).toMatchObject({ url: ep.url, enabled: true });
    expect(row("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'webhook_endpoint.updated' AND target_id = ?", ep.id).n).toBe(0);
  });
});

describe('test and resend: the refusals', () => {
  it('POST /{id}/test: 409 for a disabled endpoint (saying to re-enable it), 404 for unknown or another tenant’s', async () => {
    const a = await edge.createTenant('A');
    const b = await edge.createTenant('B');
    const ep = await create(a.api_key);
    expect((await error(await post(b.api_key, `/v1/webhook-endpoints/${ep.id}/test`), 404)).code).toBe('not_found');
    expect((await error(await post(a.api_key, '/v1/webhook-endpoints/whe_unknown/test'), 404)).code).toBe('not_found');
    await patch(a.api_key, ep.id, { enabled: false });
    const err = await error(await post(a.api_key, `/v1/webhook-endpoints/${ep.id}/test`), 409);
    expect(err.code).toBe('conflict');
    expect(err.message).toContain(`PATCH /v1/webhook-endpoints/${ep.id} {"enabled": true}`);
    expect(row('SELECT COUNT(*) AS n FROM webhook_deliveries WHERE endpoint_id = ?', ep.id).n).toBe(0);
  });

  it('POST /v1/webhook-deliveries/{id}/resend: 404 unknown, another tenant’s, of a deleted endpoint; 409 endpoint disabled or attempt in flight', async () => {
    const a = await edge.createTenant('A');
    const b = await edge.createTenant('B');
    const ep = await create(a.api_key);
    const gone = await create(a.api_key, { url: 'https://example.com/gone' });
    await emit(a.id, 'job_r');
    const [d, dGone] = [ep.id, gone.id].map((id) => row('SELECT id FROM webhook_deliveries WHERE endpoint_id = ?', id).id as string);
    const resend = (key: string, id: string) => post(key, `/v1/webhook-deliveries/${id}/resend`);

    expect((await error(await resend(a.api_key, 'msg_unknown'), 404)).code).toBe('not_found');
    expect((await error(await resend(b.api_key, d), 404)).code).toBe('not_found');
    expect((await edge.fetch(`/v1/webhook-endpoints/${gone.id}`, { method: 'DELETE', headers: bearer(a.api_key) })).status).toBe(204);
    expect((await error(await resend(a.api_key, dGone), 404)).message).toMatch(/deleted endpoint/);

    // An attempt in flight (claimed by a dispatcher until the future).
    edge.db.raw.prepare('UPDATE webhook_deliveries SET in_flight_until = ? WHERE id = ?').run(Date.now() + 60_000, d);
    expect((await error(await resend(a.api_key, d), 409)).message).toMatch(/in progress/);
    edge.db.raw.prepare('UPDATE webhook_deliveries SET in_flight_until = NULL WHERE id = ?').run(d);

    await patch(a.api_key, ep.id, { enabled: false });
    const err = await error(await resend(a.api_key, d), 409);
    expect(err.message).toContain('"enabled": true');
    expect(row('SELECT status FROM webhook_deliveries WHERE id = ?', d).status).toBe('failed');

    await patch(a.api_key, ep.id, { enabled: true });
    const ok = await resend(a.api_key, d);
    expect(ok.status).toBe(202);
    expect(await ok.json()).toMatchObject({ id: d, endpoint_id: ep.id, status: 'pending', next_attempt_at: expect.any(String), attempts: [] });
  });
});

describe('GET /v1/webhook-endpoints/{id}/deliveries?status=', () => {
  it('keeps one status (pending, succeeded, failed), paginates within it, and refuses another value with 422', async () => {
    const t = await edge.createTenant();
    const ep = await create(t.api_key);
    for (const job of ['j1', 'j2', 'j3', 'j4']) await emit(t.id, job);
    const ids = (edge.db.raw.prepare('SELECT id FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY id').all(ep.id) as Json[]).map((r) => r.id);
    edge.db.raw.prepare("UPDATE webhook_deliveries SET status = 'succeeded' WHERE id = ?").run(ids[0]);
    edge.db.raw.prepare("UPDATE webhook_deliveries SET status = 'failed' WHERE id IN (?, ?)").run(ids[1], ids[3]);
    const list = async (q: string) => (await get(t.api_key, `/v1/webhook-endpoints/${ep.id}/deliveries${q}`)) as Json;
    const idsOf = (page: Json) => page.data.map((d: Json) => d.id);
    expect(idsOf(await list('?status=pending'))).toEqual([ids[2]]);
    expect(idsOf(await list('?status=succeeded'))).toEqual([ids[0]]);
    expect(idsOf(await list('?status=failed'))).toEqual([ids[3], ids[1]]);
    expect(idsOf(await list(''))).toEqual([...ids].reverse());
    const first = await list('?status=failed&limit=1');
    expect(first).toMatchObject({ has_more: true, data: [{ id: ids[3], status: 'failed' }] });
    expect(await list(`?status=failed&limit=1&after=${ids[3]}`)).toMatchObject({ has_more: false, data: [{ id: ids[1] }] });
    for (const bad of ['exhausted', 'PENDING', '']) {
      const err = await error(await edge.fetch(`/v1/webhook-endpoints/${ep.id}/deliveries?status=${bad}`, { headers: bearer(t.api_key) }), 422);
      expect(err).toMatchObject({ code: 'validation_failed', param: 'status' });
    }
  });
});

describe('query plans', () => {
  it('list (with and without status), read, test, resend and update search indexes: no table scan, no sort of a whole list', async () => {
    const t = await edge.createTenant();
    const ep = await create(t.api_key);
    await emit(t.id, 'plan_1');
    const db = new RecordingDatabase(edge.db);
    await listDeliveries(db, t.id, ep.id, { limit: 20 });
    await listDeliveries(db, t.id, ep.id, { limit: 20, status: 'pending', after: 'msg_zzz' });
    const test = await sendTestEvent(db, t.id, ep.id);
    await getDelivery(db, t.id, test.id);
    await resendDelivery(db, t.id, test.id);
    await updateEndpoint(db, { tenantId: t.id, id: ep.id, update: { enabled: false }, localMode: false }, (data) =>
      endpointAuditStatement(db, { tenantId: t.id, actor: { type: 'admin', id: null }, id: ep.id, action: 'webhook_endpoint.updated', data }),
    );
    const tables = new Set((edge.db.raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Json[]).map((r) => r.name));
    const seen = new Map<string, SqlValue[]>();
    for (const r of db.recorded) if (!seen.has(r.sql)) seen.set(r.sql, r.values);
    expect(seen.size).toBeGreaterThanOrEqual(8);
    const bad: string[] = [];
    for (const [sql, values] of seen) {
      const plan = edge.db.raw.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...values) as { detail: string }[];
      for (const { detail } of plan) {
        const scan = /^SCAN (\w+)/.exec(detail);
        if ((scan && tables.has(scan[1])) || /TEMP B-TREE FOR ORDER BY/.test(detail)) bad.push(`${detail}  ←  ${sql.replace(/\s+/g, ' ').slice(0, 160)}`);
      }
    }
    expect(bad).toEqual([]);
  });
});

describe('the dispatcher after a disable', () => {
  it('an attempt in flight when the endpoint is disabled is recorded, but its delivery stays failed', async () => {
    const t = await edge.createTenant();
    const ep = await create(t.api_key, { url: 'https://example.com/inflight' });
    await emit(t.id, 'job_inflight');
    let release!: () => void;
    const answered = new Promise<void>((ok) => (release = ok));
    let started!: () => void;
    const sending = new Promise<void>((ok) => (started = ok));
    // Other tests' deliveries that are due go out too: answered at once.
    const fetchImpl = (async (url: string) => {
      if (!url.endsWith('/inflight')) return new Response(null, { status: 200 });
      started();
      await answered;
      return new Response(null, { status: 200 });
    }) as unknown as typeof fetch;
    // example.com resolves publicly in production mode; no resolver here: only the literal host is checked.
    const s = webhookSettings({ retryScheduleSeconds: [0], timeoutMs: 1000 });
    const run = dispatchDueWebhooks(edge.ports, s, new Date(), fetchImpl);
    await sending;
    expect((await patch(t.api_key, ep.id, { enabled: false })).status).toBe(200);
    release();
    await run;
    const d = row('SELECT id, status FROM webhook_deliveries WHERE endpoint_id = ?', ep.id);
    expect(d.status).toBe('failed');
    expect(edge.db.raw.prepare('SELECT status_code FROM webhook_attempts WHERE delivery_id = ?').all(d.id)).toEqual([{ status_code: 200 }]);
  });
});
