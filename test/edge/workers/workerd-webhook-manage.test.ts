// Webhook management on the Workers build inside workerd (`wrangler dev`, local D1 and Queues): a test event, a 410
// that disables the endpoint, the refusals while it is disabled, re-enabling it with PATCH, a resend of the failed
// delivery and a second test event — every one sent through the Cloudflare queue (the entry enqueues the outbox rows
// the request wrote; the queue consumer makes the attempts) to a real receiver on loopback, signatures checked with
// the standardwebhooks verifier.
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../../helpers/wait-until.ts';
import { type WranglerDev, WORKERD_ADMIN, edgeVars, startWranglerDev } from '../../helpers/wrangler-dev.ts';

interface Arrival {
  path: string;
  headers: Record<string, string>;
  body: string;
}

let dev: WranglerDev;
let rx: ReturnType<typeof createServer>;
let rxUrl = '';
const arrivals: Arrival[] = [];

/** /manage answers its first request 410 Gone, every later one 200. */
function receive(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    arrivals.push({ path: req.url ?? '/', headers: req.headers as Record<string, string>, body: Buffer.concat(chunks).toString('utf8') });
    res.writeHead(arrivals.length === 1 ? 410 : 200).end();
  });
}

beforeAll(async () => {
  rx = createServer(receive);
  await new Promise<void>((ok) => rx.listen(0, '127.0.0.1', ok));
  rxUrl = `http://127.0.0.1:${(rx.address() as AddressInfo).port}`;
  dev = await startWranglerDev({ vars: edgeVars(null) });
}, 120_000);

afterAll(async () => {
  await dev?.stop();
  rx?.closeAllConnections();
  await new Promise<void>((ok) => (rx ? rx.close(() => ok()) : ok()));
});

type Json = Record<string, any>;

async function call(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const res = await fetch(dev.base + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : {} };
}

const until = (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<true> =>
  waitUntil(what, check, { timeoutMs, intervalMs: 100, context: () => dev.log().slice(-3000) });

describe('webhook management through Cloudflare Queues in workerd', () => {
  it('test event → 410 disables the endpoint → 409s → PATCH enabled: true → resend arrives with the same webhook-id → test again', async () => {
    const t = (await call('POST', '/v1/tenants', WORKERD_ADMIN, { name: 'Manage' })).body as { api_key: string };
    const key = t.api_key;
    const created = await call('POST', '/v1/webhook-endpoints', key, { url: `${rxUrl}/manage`, events: ['training_job.started'] });
    expect(created.status).toBe(201);
    const ep = created.body as { id: string; secret: string };
    const endpoint = async () => (await call('GET', `/v1/webhook-endpoints/${ep.id}`, key)).body;
    const deliveries = async (q = '') => (await call('GET', `/v1/webhook-endpoints/${ep.id}/deliveries${q}`, key)).body.data as Json[];

    // 1. A test event; the receiver answers 410: the endpoint is disabled, the delivery failed.
    const first = await call('POST', `/v1/webhook-endpoints/${ep.id}/test`, key);
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ id: expect.stringMatching(/^msg_/), event_type: 'webhook.test', status: 'pending' });
    await until('the endpoint to be disabled by the 410', async () => (await endpoint()).enabled === false);
    expect(await endpoint()).toMatchObject({ disabled_reason: expect.stringMatching(/410 Gone/), disabled_at: expect.any(String) });
    expect(arrivals).toHaveLength(1);
    expect(arrivals[0].headers['webhook-id']).toBe(first.body.id);
    expect(new Webhook(ep.secret).verify(arrivals[0].body, arrivals[0].headers)).toEqual(first.body.payload);
    expect(await deliveries('?status=failed')).toMatchObject([{ id: first.body.id, attempt_count: 1 }]);

    // 2. While disabled: no test, no resend (409, saying to re-enable).
    const refusedTest = await call('POST', `/v1/webhook-endpoints/${ep.id}/test`, key);
    expect(refusedTest.status).toBe(409);
    expect(refusedTest.body.error.message).toContain('"enabled": true');
    expect((await call('POST', `/v1/webhook-deliveries/${first.body.id}/resend`, key)).status).toBe(409);

    // 3. Re-enabled; the secret rotated; the failed delivery resent: same webhook-id and body, signed with the new secret.
    const enabled = await call('PATCH', `/v1/webhook-endpoints/${ep.id}`, key, { enabled: true });
    expect(enabled).toMatchObject({ status: 200, body: { enabled: true, disabled_at: null, disabled_reason: null } });
    const rotated = (await call('POST', `/v1/webhook-endpoints/${ep.id}/rotate-secret`, key)).body as { secret: string };
    const resent = await call('POST', `/v1/webhook-deliveries/${first.body.id}/resend`, key);
    expect(resent).toMatchObject({ status: 202, body: { id: first.body.id, status: 'pending', attempt_count: 1 } });
    await until('the resend to arrive', () => arrivals.length === 2);
    expect(arrivals[1].headers['webhook-id']).toBe(first.body.id);
    expect(arrivals[1].body).toBe(arrivals[0].body);
    expect(new Webhook(rotated.secret).verify(arrivals[1].body, arrivals[1].headers)).toEqual(first.body.payload);
    await until('the resent delivery to succeed', async () => (await deliveries('?status=succeeded')).length === 1);
    const [done] = await deliveries('?status=succeeded');
    expect(done).toMatchObject({ id: first.body.id, attempt_count: 2 });
    expect(done.attempts.map((a: Json) => a.status_code)).toEqual([410, 200]);

    // 4. A new test event arrives on the re-enabled endpoint.
    const second = await call('POST', `/v1/webhook-endpoints/${ep.id}/test`, key);
    expect(second.status).toBe(202);
    await until('the second test event', () => arrivals.length === 3);
    expect(arrivals[2].headers['webhook-id']).toBe(second.body.id);
    expect(new Webhook(rotated.secret).verify(arrivals[2].body, arrivals[2].headers)).toMatchObject({ type: 'webhook.test', data: { endpoint_id: ep.id } });
    await until('both deliveries to have succeeded', async () => (await deliveries('?status=succeeded')).length === 2);
    expect(await deliveries('?status=pending')).toEqual([]);
    expect(arrivals.every((a) => a.path === '/manage')).toBe(true);
    expect(dev.log()).not.toMatch(/\[webhooks\].*failed/);
  }, 240_000);
});
