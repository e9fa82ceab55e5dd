// Webhook management end to end on Node: endpoints, PATCH, test events and resends over HTTP on a real edge (local mode,
// SQLite), sent by the dispatcher to a real node:http receiver on loopback, signatures checked with the
// standardwebhooks verifier. Re-enabling after a 410; the test event (signed, to that endpoint only, retried, logged);
// resending a failed delivery (same webhook-id and body, signed with the current secret, a new attempt in its list,
// the whole schedule again); and the Node background timer sending both by itself.
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { dispatchDueWebhooks } from '../../../edge/webhooks/dispatcher.ts';
import { outboxStatements } from '../../../edge/webhooks/outbox.ts';
import { webhookSettings } from '../../../edge/webhooks/settings.ts';
import { type TestEdge, bearer, jsonHeaders, startTestEdge } from '../../helpers/edge.ts';
import { useEdgeAndReceiver } from '../../helpers/edge-receiver.ts';
import { waitUntil } from '../../helpers/wait-until.ts';
import { type WebhookReceiver, startReceiver } from '../../helpers/webhook-receiver.ts';

const fx = useEdgeAndReceiver();

/** One retry: two attempts in all. */
const settings = webhookSettings({ localMode: true, retryScheduleSeconds: [0], timeoutMs: 1000 });

type Json = Record<string, any>;

async function call(edge: TestEdge, method: string, path: string, key: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Json }> {
  const res = await edge.fetch(path, {
    method,
    headers: { ...(body === undefined ? bearer(key) : jsonHeaders(key)), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : {} };
}

async function endpoint(edge: TestEdge, rx: WebhookReceiver, key: string, path: string, events?: string[]): Promise<{ id: string; secret: string }> {
  const res = await call(edge, 'POST', '/v1/webhook-endpoints', key, { url: rx.url + path, ...(events ? { events } : {}) });
  expect(res.status).toBe(201);
  return res.body as { id: string; secret: string };
}

async function emit(tenantId: string, jobId: string): Promise<number> {
  const stmts = await outboxStatements(fx.edge.db, tenantId, 'training_job.succeeded', { id: jobId, status: 'succeeded' }, new Date());
  if (stmts.length) await fx.edge.db.batch(stmts);
  return stmts.length;
}

/** Runs the dispatcher until nothing is due (bounded). */
async function drain(max = 10): Promise<void> {
  for (let i = 0; i < max; i++) if ((await dispatchDueWebhooks(fx.edge.ports, settings)).due === 0) return;
  throw new Error('deliveries still due after 10 runs');
}

const deliveries = async (key: string, endpointId: string, query = '') =>
  (await call(fx.edge, 'GET', `/v1/webhook-endpoints/${endpointId}/deliveries${query}`, key)).body.data as Json[];
const verify = (secret: string, req: { body: string; headers: Record<string, unknown> }) =>
  new Webhook(secret).verify(req.body, req.headers as Record<string, string>) as Json;

describe('re-enabling an endpoint after a 410', () => {
  it('410 disables it (reason says so); PATCH enabled: true re-enables it; a new event then arrives, signed', async () => {
    const t = await fx.edge.createTenant('Gone');
    const ep = await endpoint(fx.edge, fx.rx, t.api_key, '/gone-then-back');
    fx.rx.on('/gone-then-back', (_r, res, n) => void res.writeHead(n === 1 ? 410 : 200).end());
    await emit(t.id, 'job_1');
    await drain();
    const disabled = (await call(fx.edge, 'GET', `/v1/webhook-endpoints/${ep.id}`, t.api_key)).body;
    expect(disabled).toMatchObject({ enabled: false, disabled_at: expect.any(String), disabled_reason: expect.stringMatching(/410 Gone/) });
    expect(await emit(t.id, 'job_while_disabled')).toBe(0);

    const patched = await call(fx.edge, 'PATCH', `/v1/webhook-endpoints/${ep.id}`, t.api_key, { enabled: true });
    expect(patched).toEqual({ status: 200, body: expect.objectContaining({ enabled: true, disabled_at: null, disabled_reason: null }) });
    const audit = (await call(fx.edge, 'GET', '/v1/audit-events?limit=1', t.api_key)).body.data[0];
    expect(audit).toMatchObject({ action: 'webhook_endpoint.updated', data: { enabled: true, disabled_reason: disabled.disabled_reason } });

    expect(await emit(t.id, 'job_after')).toBe(1);
    await drain();
    const reqs = fx.rx.at('/gone-then-back');
    expect(reqs).toHaveLength(2);
    expect(verify(ep.secret, reqs[1])).toMatchObject({ type: 'training_job.succeeded', data: { id: 'job_after' } });
    expect((await deliveries(t.api_key, ep.id)).map((d) => [d.payload.data.id, d.status])).toEqual([
      ['job_after', 'succeeded'],
      ['job_1', 'failed'],
    ]);
  });
});

describe('POST /v1/webhook-endpoints/{id}/test', () => {
  it('sends a signed webhook.test to that endpoint only, although not in its events; retried and logged like any delivery', async () => {
    const t = await fx.edge.createTenant('Test');
    const ep = await endpoint(fx.edge, fx.rx, t.api_key, '/test-target', ['training_job.started']);
    await endpoint(fx.edge, fx.rx, t.api_key, '/test-other');
    fx.rx.on('/test-target', (_r, res, n) => void res.writeHead(n === 1 ? 500 : 204).end());

    const res = await call(fx.edge, 'POST', `/v1/webhook-endpoints/${ep.id}/test`, t.api_key);
    expect(res.status).toBe(202);
    const d = res.body;
    expect(d).toEqual({
      id: expect.stringMatching(/^msg_[0-9a-z]{21}$/),
      endpoint_id: ep.id,
      event_type: 'webhook.test',
      status: 'pending',
      attempt_count: 0,
      next_attempt_at: expect.any(String),
      created_at: expect.any(String),
      payload: { type: 'webhook.test', timestamp: d.created_at, data: { endpoint_id: ep.id, delivery_id: d.id } },
      attempts: [],
    });
    await drain();
    const reqs = fx.rx.at('/test-target');
    expect(reqs).toHaveLength(2);
    for (const r of reqs) {
      expect(r.headers['webhook-id']).toBe(d.id);
      expect(verify(ep.secret, r)).toEqual(d.payload);
    }
    expect(fx.rx.at('/test-other')).toHaveLength(0);
    const [listed] = await deliveries(t.api_key, ep.id);
    expect(listed).toMatchObject({ id: d.id, event_type: 'webhook.test', status: 'succeeded', attempt_count: 2, next_attempt_at: null });
    expect(listed.attempts.map((a: Json) => a.status_code)).toEqual([500, 204]);
  });

  it('with an Idempotency-Key, a retry answers the same delivery and queues no second one', async () => {
    const t = await fx.edge.createTenant('TestIdem');
    const ep = await endpoint(fx.edge, fx.rx, t.api_key, '/test-idem');
    const send = () => call(fx.edge, 'POST', `/v1/webhook-endpoints/${ep.id}/test`, t.api_key, undefined, { 'Idempotency-Key': 'test-once' });
    const [first, again] = [await send(), await send()];
    expect(first.status).toBe(202);
    expect(again).toEqual(first);
    await drain();
    expect(fx.rx.at('/test-idem')).toHaveLength(1);
    expect(await deliveries(t.api_key, ep.id)).toHaveLength(1);
  });
});

describe('POST /v1/webhook-deliveries/{id}/resend', () => {
  it('resends a failed delivery: same webhook-id and body, signed with the current secret, a third attempt in its attempts', async () => {
    const t = await fx.edge.createTenant('Resend');
    const ep = await endpoint(fx.edge, fx.rx, t.api_key, '/resend');
    fx.rx.on('/resend', (_r, res, n) => void res.writeHead(n <= 2 ? 500 : 200).end());
    await emit(t.id, 'job_resend');
    await drain();
    const [failed] = await deliveries(t.api_key, ep.id, '?status=failed');
    expect(failed).toMatchObject({ status: 'failed', attempt_count: 2 });

    const rotated = (await call(fx.edge, 'POST', `/v1/webhook-endpoints/${ep.id}/rotate-secret`, t.api_key)).body;
    const res = await call(fx.edge, 'POST', `/v1/webhook-deliveries/${failed.id}/resend`, t.api_key);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ id: failed.id, status: 'pending', attempt_count: 2, next_attempt_at: expect.any(String), payload: failed.payload });
    expect(res.body.attempts).toEqual(failed.attempts);
    await drain();

    const reqs = fx.rx.at('/resend');
    expect(reqs).toHaveLength(3);
    expect(reqs[2].headers['webhook-id']).toBe(failed.id);
    expect(reqs[2].body).toBe(reqs[0].body);
    // The new secret did not exist when the delivery was made: the resend was signed when sent.
    expect(verify(rotated.secret, reqs[2])).toEqual(failed.payload);
    const [after] = await deliveries(t.api_key, ep.id);
    expect(after).toMatchObject({ id: failed.id, status: 'succeeded', attempt_count: 3 });
    expect(after.attempts.map((a: Json) => a.status_code)).toEqual([500, 500, 200]);
  });

  it('a resent delivery gets the whole retry schedule again, then fails; its attempts keep counting', async () => {
    const t = await fx.edge.createTenant('ResendDown');
    const ep = await endpoint(fx.edge, fx.rx, t.api_key, '/resend-down');
    fx.rx.on('/resend-down', (_r, res) => void res.writeHead(503).end());
    await emit(t.id, 'job_down');
    await drain();
    const [d] = await deliveries(t.api_key, ep.id);
    expect(d).toMatchObject({ status: 'failed', attempt_count: 2 });
    expect((await call(fx.edge, 'POST', `/v1/webhook-deliveries/${d.id}/resend`, t.api_key)).status).toBe(202);
    await drain();
    expect(fx.rx.at('/resend-down')).toHaveLength(4);
    const [after] = await deliveries(t.api_key, ep.id);
    expect(after).toMatchObject({ status: 'failed', attempt_count: 4 });
    expect(after.attempts.map((a: Json) => a.status_code)).toEqual([503, 503, 503, 503]);
  });
});

describe('the Node background timer', () => {
  it('sends a test event and a resend by itself (no dispatch driven by the test)', async () => {
    const edge = await startTestEdge({ localMode: true }, { backgroundIntervalMs: 50, webhooks: { retryScheduleSeconds: [0] } });
    const rx = await startReceiver();
    try {
      const t = await edge.createTenant('Timer');
      const ep = await endpoint(edge, rx, t.api_key, '/timer');
      const received = () => `${rx.at('/timer').length} requests received at /timer`;
      const test = await call(edge, 'POST', `/v1/webhook-endpoints/${ep.id}/test`, t.api_key);
      expect(test.status).toBe(202);
      await waitUntil('the test event at /timer', () => rx.at('/timer').length >= 1, { timeoutMs: 20_000, intervalMs: 20, context: received });
      const listed = async () => (await call(edge, 'GET', `/v1/webhook-endpoints/${ep.id}/deliveries`, t.api_key)).body.data[0] as Json;
      await waitUntil('the test delivery to succeed', async () => (await listed()).status === 'succeeded', { timeoutMs: 20_000, intervalMs: 20 });
      expect((await call(edge, 'POST', `/v1/webhook-deliveries/${test.body.id}/resend`, t.api_key)).status).toBe(202);
      await waitUntil('the resend at /timer', () => rx.at('/timer').length >= 2, { timeoutMs: 20_000, intervalMs: 20, context: received });
      const reqs = rx.at('/timer');
      expect(reqs.map((r) => r.headers['webhook-id'])).toEqual([test.body.id, test.body.id]);
      for (const r of reqs) expect(verify(ep.secret, r)).toMatchObject({ type: 'webhook.test' });
    } finally {
      await rx.close();
      await edge.close();
    }
  });
});
