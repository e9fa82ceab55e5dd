// /v1/webhook-endpoints over real HTTP: creation and validation (422 on bad URLs and events), the secret
// shown only once, listing, deletion, rotation, deliveries with attempts, and tenant isolation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatchDueWebhooks } from '../../../edge/webhooks/dispatcher.ts';
import { outboxStatements } from '../../../edge/webhooks/outbox.ts';
import { webhookSettings } from '../../../edge/webhooks/settings.ts';
import { type TestEdge, bearer, jsonHeaders, startTestEdge } from '../../helpers/edge.ts';
import { ManualClock } from '../../helpers/manual-clock.ts';
import { type WebhookReceiver, startReceiver } from '../../helpers/webhook-receiver.ts';

const prodClock = new ManualClock(); // held still: the rotated secret's overlap ends exactly 24 h after it
let prod: TestEdge; // localMode false
let local: TestEdge; // localMode true
let rx: WebhookReceiver;
beforeAll(async () => {
  [prod, local, rx] = await Promise.all([startTestEdge({ clock: prodClock.now }), startTestEdge({ localMode: true }), startReceiver()]);
});
afterAll(async () => {
  await Promise.all([prod?.close(), local?.close(), rx?.close()]);
});

type Json = Record<string, any>;

function create(edge: TestEdge, key: string, body: unknown) {
  return edge.fetch('/v1/webhook-endpoints', { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify(body) });
}

describe('POST /v1/webhook-endpoints', () => {
  it('creates an endpoint: 201 {id, url, events, secret}, default events are the final ones of jobs and evaluations', async () => {
    const t = await prod.createTenant();
    const res = await create(prod, t.api_key, { url: 'https://example.com/hooks' });
    expect(res.status).toBe(201);
    const body = (await res.json()) as Json;
    expect(body.id).toMatch(/^whe_[0-9a-z]{21}$/);
    expect(body.url).toBe('https://example.com/hooks');
    expect(body.events).toEqual(['training_job.succeeded', 'training_job.failed', 'training_job.cancelled', 'evaluation.succeeded', 'evaluation.failed']);
    expect(body.secret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
    expect(body.disabled_at).toBeNull();
  });

  it('accepts an explicit subset including training_job.started', async () => {
    const t = await prod.createTenant();
    const res = await create(prod, t.api_key, { url: 'https://example.com/h', events: ['training_job.started', 'training_job.failed'] });
    expect(res.status).toBe(201);
    expect(((await res.json()) as Json).events).toEqual(['training_job.failed', 'training_job.started']);
  });

  it.each([
    [{ url: 'https://example.com/h', events: ['training_job.exploded'] }, 'events.0'],
    [{ url: 'https://example.com/h', events: [] }, 'events'],
    [{ events: ['training_job.failed'] }, 'url'],
    [{ url: 'https://example.com/h', extra: 1 }, undefined],
  ])('422 for %j', async (body, param) => {
    const t = await prod.createTenant();
    const res = await create(prod, t.api_key, body);
    expect(res.status).toBe(422);
    const err = ((await res.json()) as Json).error;
    expect(err.code).toBe('validation_failed');
    if (param) expect(String(err.param).replace(/\[(\d+)\]/, '.$1')).toBe(param);
  });

  it.each([
    'http://example.com/h',
    'http://localhost:3000/h',
    'https://127.0.0.1/h',
    'https://2130706433/h',
    'https://[::ffff:10.0.0.1]/h',
    'https://169.254.169.254/h',
    'https://u:p@example.com/h',
    'nope',
  ])('422 param "url" outside local mode: %s', async (url) => {
    const t = await prod.createTenant();
    const res = await create(prod, t.api_key, { url });
    expect(res.status).toBe(422);
    const err = ((await res.json()) as Json).error;
    expect(err).toMatchObject({ code: 'validation_failed', param: 'url' });
  });

  it('local mode accepts loopback http URLs but still refuses private ones', async () => {
    const t = await local.createTenant();
    expect((await create(local, t.api_key, { url: 'http://127.0.0.1:9/h' })).status).toBe(201);
    expect((await create(local, t.api_key, { url: 'http://localhost:9/h' })).status).toBe(201);
    expect((await create(local, t.api_key, { url: 'http://[::1]:9/h' })).status).toBe(201);
    expect((await create(local, t.api_key, { url: 'http://192.168.1.2/h' })).status).toBe(422);
  });

  it('needs a tenant key (401 without)', async () => {
    const res = await prod.fetch('/v1/webhook-endpoints', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(401);
  });
});

describe('reading, rotating and deleting', () => {
  it('GET list/one never returns the secret', async () => {
    const t = await prod.createTenant();
    const a = (await (await create(prod, t.api_key, { url: 'https://a.example.com/h' })).json()) as Json;
    const b = (await (await create(prod, t.api_key, { url: 'https://b.example.com/h' })).json()) as Json;
    const list = await prod.fetch('/v1/webhook-endpoints?limit=1', { headers: bearer(t.api_key) });
    expect(list.status).toBe(200);
    const page = (await list.json()) as Json;
    expect(page.has_more).toBe(true);
    expect(page.data.map((e: Json) => e.id)).toEqual([a.id]);
    const page2 = (await (await prod.fetch(`/v1/webhook-endpoints?after=${a.id}`, { headers: bearer(t.api_key) })).json()) as Json;
    expect(page2).toMatchObject({ has_more: false, data: [{ id: b.id }] });
    const one = await prod.fetch(`/v1/webhook-endpoints/${a.id}`, { headers: bearer(t.api_key) });
    const text = await one.text();
    expect(one.status).toBe(200);
    expect(text).not.toContain('secret');
    expect(text).not.toContain(a.secret);
    expect(JSON.stringify(page)).not.toContain(a.secret);
  });

  it('rotate-secret returns a new secret; DELETE is 204 and fails pending deliveries', async () => {
    const t = await prod.createTenant();
    const ep = (await (await create(prod, t.api_key, { url: 'https://example.com/h' })).json()) as Json;
    const rot = await prod.fetch(`/v1/webhook-endpoints/${ep.id}/rotate-secret`, { method: 'POST', headers: bearer(t.api_key) });
    expect(rot.status).toBe(200);
    const r = (await rot.json()) as Json;
    expect(r.secret).toMatch(/^whsec_/);
    expect(r.secret).not.toBe(ep.secret);
    expect(r.previous_secret_expires_at).toBe(new Date(prodClock.now().getTime() + 24 * 3600_000).toISOString());

    await prod.db.batch(await outboxStatements(prod.db, t.id, 'training_job.failed', { id: 'job_1' }, new Date()));
    const del = await prod.fetch(`/v1/webhook-endpoints/${ep.id}`, { method: 'DELETE', headers: bearer(t.api_key) });
    expect(del.status).toBe(204);
    expect(prod.db.raw.prepare('SELECT status FROM webhook_deliveries WHERE endpoint_id = ?').all(ep.id)).toEqual([{ status: 'failed' }]);
    expect((await prod.fetch(`/v1/webhook-endpoints/${ep.id}`, { headers: bearer(t.api_key) })).status).toBe(404);
    expect((await prod.fetch(`/v1/webhook-endpoints/${ep.id}`, { method: 'DELETE', headers: bearer(t.api_key) })).status).toBe(404);
  });

  it('GET /{id}/deliveries lists deliveries newest first with their attempts', async () => {
    const t = await local.createTenant();
    rx.on('/list', (_r, res, n) => void res.writeHead(n === 1 ? 500 : 200).end());
    const ep = (await (await create(local, t.api_key, { url: `${rx.url}/list` })).json()) as Json;
    await local.db.batch(await outboxStatements(local.db, t.id, 'training_job.succeeded', { id: 'job_1' }, new Date()));
    const s = webhookSettings({ localMode: true, retryScheduleSeconds: [0], timeoutMs: 1000 });
    await dispatchDueWebhooks(local.ports, s);
    await dispatchDueWebhooks(local.ports, s);
    await local.db.batch(await outboxStatements(local.db, t.id, 'training_job.cancelled', { id: 'job_2' }, new Date()));

    const res = await local.fetch(`/v1/webhook-endpoints/${ep.id}/deliveries`, { headers: bearer(t.api_key) });
    expect(res.status).toBe(200);
    const page = (await res.json()) as Json;
    expect(page.has_more).toBe(false);
    expect(page.data).toHaveLength(2);
    const [pending, done] = page.data;
    expect(pending).toMatchObject({ event_type: 'training_job.cancelled', status: 'pending', attempt_count: 0, attempts: [] });
    expect(pending.next_attempt_at).toEqual(expect.any(String));
    expect(done).toMatchObject({ event_type: 'training_job.succeeded', status: 'succeeded', attempt_count: 2, next_attempt_at: null });
    expect(done.id).toMatch(/^msg_/);
    expect(done.payload).toMatchObject({ type: 'training_job.succeeded', data: { id: 'job_1' } });
    expect(done.attempts.map((a: Json) => a.status_code)).toEqual([500, 200]);
    expect(done.attempts[0]).toEqual({ attempted_at: expect.any(String), status_code: 500, error: null, duration_ms: expect.any(Number) });
    const p1 = (await (await local.fetch(`/v1/webhook-endpoints/${ep.id}/deliveries?limit=1`, { headers: bearer(t.api_key) })).json()) as Json;
    expect(p1).toMatchObject({ has_more: true, data: [{ id: pending.id }] });
  });
});

describe('tenant isolation', () => {
  it("tenant B gets 404 on every route with A's endpoint id, and A's endpoint is unchanged", async () => {
    const a = await prod.createTenant('A');
    const b = await prod.createTenant('B');
    const ep = (await (await create(prod, a.api_key, { url: 'https://example.com/a' })).json()) as Json;
    const routes: [string, string][] = [
      ['GET', `/v1/webhook-endpoints/${ep.id}`],
      ['DELETE', `/v1/webhook-endpoints/${ep.id}`],
      ['POST', `/v1/webhook-endpoints/${ep.id}/rotate-secret`],
      ['GET', `/v1/webhook-endpoints/${ep.id}/deliveries`],
    ];
    for (const [method, path] of routes) {
      const res = await prod.fetch(path, { method, headers: bearer(b.api_key) });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(((await res.json()) as Json).error.code).toBe('not_found');
    }
    const list = (await (await prod.fetch('/v1/webhook-endpoints', { headers: bearer(b.api_key) })).json()) as Json;
    expect(list.data).toEqual([]);
    const row = prod.db.raw.prepare('SELECT secret, previous_secret FROM webhook_endpoints WHERE id = ?').get(ep.id) as Json;
    expect(row).toEqual({ secret: ep.secret, previous_secret: null });
  });
});
