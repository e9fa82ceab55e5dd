// Webhook delivery end to end: endpoints created over HTTP on a real edge (local mode, SQLite), events
// enqueued with outboxStatements, dispatchDueWebhooks posting to a real node:http receiver on loopback,
// signatures checked with the standardwebhooks verifier.
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { dispatchDueWebhooks } from '../../../edge/webhooks/dispatcher.ts';
import { outboxStatements } from '../../../edge/webhooks/outbox.ts';
import { webhookSettings } from '../../../edge/webhooks/settings.ts';
import { bearer, jsonHeaders } from '../../helpers/edge.ts';
import { useEdgeAndReceiver } from '../../helpers/edge-receiver.ts';

const fx = useEdgeAndReceiver();

const settings = webhookSettings({ localMode: true, retryScheduleSeconds: [0, 0, 0], timeoutMs: 1000 });

async function endpoint(key: string, path: string, events?: string[]): Promise<{ id: string; secret: string }> {
  const res = await fx.edge.fetch('/v1/webhook-endpoints', {
    method: 'POST',
    headers: jsonHeaders(key),
    body: JSON.stringify({ url: fx.rx.url + path, ...(events ? { events } : {}) }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; secret: string };
}

async function emit(tenantId: string, type: Parameters<typeof outboxStatements>[2] = 'training_job.succeeded', jobId = 'job_x') {
  const stmts = await outboxStatements(fx.edge.db, tenantId, type, { id: jobId, status: type.split('.')[1], model_id: null, metrics: {} }, new Date());
  if (stmts.length) await fx.edge.db.batch(stmts);
  return stmts.length;
}

type Row = Record<string, unknown>;
const deliveries = (endpointId: string) =>
  fx.edge.db.raw.prepare('SELECT * FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY id').all(endpointId) as Row[];
const attempts = (deliveryId: string) =>
  fx.edge.db.raw.prepare('SELECT * FROM webhook_attempts WHERE delivery_id = ? ORDER BY seq').all(deliveryId) as Row[];

/** Runs the dispatcher until nothing is due (bounded). */
async function drain(s = settings, max = 10) {
  for (let i = 0; i < max; i++) {
    const r = await dispatchDueWebhooks(fx.edge.ports, s);
    if (r.due === 0) return;
  }
}

describe('dispatchDueWebhooks', () => {
  it('delivers a signed Standard Webhooks POST that the standardwebhooks verifier accepts', async () => {
    const t = await fx.edge.createTenant('Sig');
    const ep = await endpoint(t.api_key, '/sig');
    expect(await emit(t.id, 'training_job.succeeded', 'job_sig')).toBe(1);
    const summary = await dispatchDueWebhooks(fx.edge.ports, settings);
    expect(summary).toMatchObject({ claimed: 1, succeeded: 1 });
    const [req] = fx.rx.at('/sig');
    expect(req.headers['content-type']).toBe('application/json');
    const msg = new Webhook(ep.secret).verify(req.body, req.headers as Record<string, string>) as Row;
    expect(msg).toMatchObject({ type: 'training_job.succeeded', data: { id: 'job_sig', status: 'succeeded' } });
    expect(Object.keys(msg)).toEqual(['type', 'timestamp', 'data']);
    const [d] = deliveries(ep.id);
    expect(d.status).toBe('succeeded');
    expect(req.headers['webhook-id']).toBe(d.id);
    expect(d.id).toMatch(/^msg_/);
  });

  it('retries a failing receiver with the same webhook-id: 500, 500, 200 → 3 attempts, succeeded', async () => {
    const t = await fx.edge.createTenant('Retry');
    const ep = await endpoint(t.api_key, '/flaky');
    fx.rx.on('/flaky', (_r, res, n) => void res.writeHead(n <= 2 ? 500 : 200).end());
    await emit(t.id);
    await drain();
    const reqs = fx.rx.at('/flaky');
    expect(reqs).toHaveLength(3);
    expect(new Set(reqs.map((r) => r.headers['webhook-id'])).size).toBe(1);
    for (const r of reqs) expect(new Webhook(ep.secret).verify(r.body, r.headers as Record<string, string>)).toBeTruthy();
    const [d] = deliveries(ep.id);
    expect(d).toMatchObject({ status: 'succeeded', attempts: 3 });
    expect(attempts(d.id as string).map((a) => a.status_code)).toEqual([500, 500, 200]);
    for (const a of attempts(d.id as string)) expect(typeof a.duration_ms).toBe('number');
  });

  it('waits for the schedule between attempts and fails after the last one', async () => {
    const t = await fx.edge.createTenant('GiveUp');
    const ep = await endpoint(t.api_key, '/down');
    fx.rx.on('/down', (_r, res) => void res.writeHead(503).end());
    await emit(t.id);
    const s = webhookSettings({ localMode: true, retryScheduleSeconds: [60, 120], timeoutMs: 1000 });
    const t0 = Date.now();
    await dispatchDueWebhooks(fx.edge.ports, s, new Date(t0));
    // Not due yet 59 s later, due at 60 s.
    expect((await dispatchDueWebhooks(fx.edge.ports, s, new Date(t0 + 59_000))).due).toBe(0);
    expect((await dispatchDueWebhooks(fx.edge.ports, s, new Date(t0 + 60_000))).retrying).toBe(1);
    expect((await dispatchDueWebhooks(fx.edge.ports, s, new Date(t0 + 179_000))).due).toBe(0);
    expect((await dispatchDueWebhooks(fx.edge.ports, s, new Date(t0 + 180_000))).failed).toBe(1);
    expect((await dispatchDueWebhooks(fx.edge.ports, s, new Date(t0 + 10 ** 9))).due).toBe(0);
    const [d] = deliveries(ep.id);
    expect(d).toMatchObject({ status: 'failed', attempts: 3 });
    expect(fx.rx.at('/down')).toHaveLength(3);
  });

  it('410 Gone disables the endpoint and fails its pending deliveries', async () => {
    const t = await fx.edge.createTenant('Gone');
    const ep = await endpoint(t.api_key, '/gone');
    fx.rx.on('/gone', (_r, res) => void res.writeHead(410).end());
    await emit(t.id, 'training_job.succeeded', 'job_a');
    await emit(t.id, 'training_job.failed', 'job_b');
    const s = webhookSettings({ ...settings, batchSize: 1 });
    const r = await dispatchDueWebhooks(fx.edge.ports, s);
    expect(r.disabledEndpoints).toBe(1);
    expect(deliveries(ep.id).map((d) => d.status)).toEqual(['failed', 'failed']);
    const got = (await (await fx.edge.fetch(`/v1/webhook-endpoints/${ep.id}`, { headers: bearer(t.api_key) })).json()) as Row;
    expect(got.disabled_at).toEqual(expect.any(String));
    expect(got.disabled_reason).toMatch(/410/);
    // No more deliveries are enqueued for it, and nothing more is sent.
    expect(await emit(t.id)).toBe(0);
    await drain();
    expect(fx.rx.at('/gone')).toHaveLength(1);
  });

  it('does not follow a 302 redirect and counts it as a failure', async () => {
    const t = await fx.edge.createTenant('Redirect');
    const ep = await endpoint(t.api_key, '/redirect');
    fx.rx.on('/redirect', (_r, res) => void res.writeHead(302, { location: `${fx.rx.url}/target` }).end());
    await emit(t.id);
    await dispatchDueWebhooks(fx.edge.ports, settings);
    expect(fx.rx.at('/target')).toHaveLength(0);
    const [d] = deliveries(ep.id);
    expect(d.status).toBe('pending');
    const [a] = attempts(d.id as string);
    expect(a.status_code).toBe(302);
    expect(a.error).toMatch(/redirect/);
    await drain();
    expect(fx.rx.at('/target')).toHaveLength(0);
    expect(deliveries(ep.id)[0].status).toBe('failed');
  });

  it('times out a slow receiver and retries', async () => {
    const t = await fx.edge.createTenant('Slow');
    const ep = await endpoint(t.api_key, '/slow');
    // The first request is never answered; the receiver notes when the edge hangs up on it.
    let hungUp!: () => void;
    const abandoned = new Promise<void>((ok) => (hungUp = ok));
    fx.rx.on('/slow', (_r, res, n) => {
      if (n === 1) res.on('close', () => !res.writableEnded && hungUp());
      else res.writeHead(204).end();
    });
    await emit(t.id);
    const s = webhookSettings({ ...settings, timeoutMs: 200 });
    const first = await dispatchDueWebhooks(fx.edge.ports, s);
    expect(first.retrying).toBe(1);
    await abandoned; // the edge gave up on the connection itself (no answer was ever sent)
    const [d] = deliveries(ep.id);
    const [a] = attempts(d.id as string);
    expect(a.status_code).toBeNull();
    expect(a.error).toMatch(/timeout/);
    expect(Number.isInteger(a.duration_ms)).toBe(true);
    await dispatchDueWebhooks(fx.edge.ports, s);
    expect(deliveries(ep.id)[0]).toMatchObject({ status: 'succeeded', attempts: 2 });
  });

  it('signs with both secrets after rotation; either verifies', async () => {
    const t = await fx.edge.createTenant('Rotate');
    const ep = await endpoint(t.api_key, '/rotate');
    const res = await fx.edge.fetch(`/v1/webhook-endpoints/${ep.id}/rotate-secret`, { method: 'POST', headers: bearer(t.api_key) });
    expect(res.status).toBe(200);
    const { secret } = (await res.json()) as { secret: string };
    expect(secret).not.toBe(ep.secret);
    await emit(t.id);
    await dispatchDueWebhooks(fx.edge.ports, settings);
    const [req] = fx.rx.at('/rotate');
    expect((req.headers['webhook-signature'] as string).split(' ')).toHaveLength(2);
    expect(new Webhook(secret).verify(req.body, req.headers as Record<string, string>)).toBeTruthy();
    expect(new Webhook(ep.secret).verify(req.body, req.headers as Record<string, string>)).toBeTruthy();

    // After the overlap only the new secret signs.
    fx.edge.db.raw.prepare('UPDATE webhook_endpoints SET previous_secret_expires_at = ? WHERE id = ?').run(new Date(Date.now() - 1000).toISOString(), ep.id);
    await emit(t.id, 'training_job.failed');
    await dispatchDueWebhooks(fx.edge.ports, settings);
    const second = fx.rx.at('/rotate')[1];
    expect((second.headers['webhook-signature'] as string).split(' ')).toHaveLength(1);
    expect(() => new Webhook(ep.secret).verify(second.body, second.headers as Record<string, string>)).toThrow();
    expect(new Webhook(secret).verify(second.body, second.headers as Record<string, string>)).toBeTruthy();
  });

  it('two concurrent dispatchers deliver each attempt exactly once', async () => {
    const t = await fx.edge.createTenant('Race');
    // Two endpoints with 4 events each (an endpoint takes at most 6 attempts at once: fairness.test.ts).
    await endpoint(t.api_key, '/race');
    await endpoint(t.api_key, '/race');
    fx.rx.on('/race', (_r, res) => void setTimeout(() => res.writeHead(200).end(), 20));
    for (let i = 0; i < 4; i++) await emit(t.id, 'training_job.succeeded', `job_${i}`);
    const [a, b] = await Promise.all([dispatchDueWebhooks(fx.edge.ports, settings), dispatchDueWebhooks(fx.edge.ports, settings)]);
    expect(a.claimed + b.claimed).toBe(8);
    const ids = fx.rx.at('/race').map((r) => r.headers['webhook-id']);
    expect(ids).toHaveLength(8);
    expect(new Set(ids).size).toBe(8);
  });

  it('refuses at delivery time a host that resolves to a private address (resolver hook)', async () => {
    const t = await fx.edge.createTenant('Rebind');
    const ep = await endpoint(t.api_key, '/rebind');
    // The endpoint row points at a name that now resolves inside.
    fx.edge.db.raw.prepare('UPDATE webhook_endpoints SET url = ? WHERE id = ?').run('https://hooks.example.com/x', ep.id);
    await emit(t.id);
    const s = webhookSettings({ ...settings, localMode: false, resolver: async () => ['10.1.2.3'] });
    let called = 0;
    const r = await dispatchDueWebhooks(fx.edge.ports, s, new Date(), (async () => {
      called++;
      return new Response(null, { status: 200 });
    }) as typeof fetch);
    expect(r.retrying).toBe(1);
    expect(called).toBe(0);
    const [d] = deliveries(ep.id);
    expect(attempts(d.id as string)[0].error).toMatch(/refused: .*10\.1\.2\.3/);
  });
});

describe('outboxStatements', () => {
  it('targets only the subscribed, enabled endpoints of that tenant', async () => {
    const a = await fx.edge.createTenant('OutA');
    const b = await fx.edge.createTenant('OutB');
    const all = await endpoint(a.api_key, '/o-all');
    const startedOnly = await endpoint(a.api_key, '/o-started', ['training_job.started']);
    const disabled = await endpoint(a.api_key, '/o-disabled');
    fx.edge.db.raw.prepare("UPDATE webhook_endpoints SET disabled_at = 'x' WHERE id = ?").run(disabled.id);
    const other = await endpoint(b.api_key, '/o-other');

    const now = new Date('2024-05-01T12:00:00.000Z');
    const stmts = await outboxStatements(fx.edge.db, a.id, 'training_job.succeeded', { id: 'job_1', status: 'succeeded' }, now);
    expect(stmts).toHaveLength(1);
    await fx.edge.db.batch(stmts);
    const [d] = deliveries(all.id);
    expect(d).toMatchObject({ tenant_id: a.id, event_type: 'training_job.succeeded', status: 'pending', attempts: 0, next_attempt_at: now.getTime() });
    expect(d.payload).toBe('{"type":"training_job.succeeded","timestamp":"2024-05-01T12:00:00.000Z","data":{"id":"job_1","status":"succeeded"}}');
    for (const e of [startedOnly, disabled, other]) expect(deliveries(e.id)).toHaveLength(0);

    const started = await outboxStatements(fx.edge.db, a.id, 'training_job.started', { id: 'job_1' }, now);
    expect(started).toHaveLength(1);
    expect(await outboxStatements(fx.edge.db, b.id, 'training_job.started', { id: 'job_1' }, now)).toHaveLength(0);
    // Clean up so the other tests' drains do not send these.
    fx.edge.db.raw.prepare("UPDATE webhook_deliveries SET status = 'failed' WHERE tenant_id IN (?, ?)").run(a.id, b.id);
  });
});
