// Per-worker tokens, API key listing, the audit log and tenant suspension on the Workers build inside workerd
// (`wrangler dev`, local D1): the same code paths as on Node, here over D1's batch (the audit rows that join another
// module's write go through edge/audit/audit.ts withFirstWrite, which must hand D1 its own statements).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWranglerDev, type WranglerDev, WORKERD_ADMIN, WORKERD_WORKER, edgeVars } from '../../helpers/wrangler-dev.ts';

const ADMIN = WORKERD_ADMIN;
const WORKER = WORKERD_WORKER;

let dev: WranglerDev;
beforeAll(async () => {
  dev = await startWranglerDev({
    vars: edgeVars(null),
  });
}, 90_000);

afterAll(async () => {
  await dev?.stop();
});

const f = (path: string, init?: RequestInit) => fetch(dev.base + path, init);
const headers = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
const post = (path: string, token: string, body?: unknown) => f(path, { method: 'POST', headers: headers(token), body: JSON.stringify(body ?? {}) });

describe('access control on D1 (workerd)', () => {
  it('worker tokens are issued, used and revoked; keys listed and expiring; audit events written with their changes; suspension is 403', async () => {
    // Worker token: issued, leases (nothing queued: 204), revoked at once.
    const issued = await post('/v1/workers', ADMIN, { name: 'edge-pool' });
    expect(issued.status).toBe(201);
    const w = (await issued.json()) as { id: string; token: string };
    expect((await post('/internal/v1/leases', w.token, { worker_id: 'x' })).status).toBe(204);
    expect((await f(`/v1/workers/${w.id}`, { method: 'DELETE', headers: headers(ADMIN) })).status).toBe(204);
    expect((await post('/internal/v1/leases', w.token, { worker_id: 'x' })).status).toBe(401);
    expect((await post('/internal/v1/leases', WORKER, { worker_id: 'x' })).status).toBe(204);

    // Keys and the audit log.
    const t = (await (await post('/v1/tenants', ADMIN, { name: 'Workerd' })).json()) as { id: string; api_key: string };
    const k = (await (await post('/v1/api-keys', t.api_key, { expires_in_days: 1 })).json()) as { id: string; expires_at: string };
    expect(k.expires_at).toEqual(expect.any(String));
    const ep = (await (await post('/v1/webhook-endpoints', t.api_key, { url: 'http://127.0.0.1:9/hook' })).json()) as { id: string };
    expect((await post(`/v1/webhook-endpoints/${ep.id}/rotate-secret`, t.api_key)).status).toBe(200);
    expect((await f(`/v1/webhook-endpoints/${ep.id}`, { method: 'DELETE', headers: headers(t.api_key) })).status).toBe(204);
    expect((await f(`/v1/webhook-endpoints/${ep.id}`, { method: 'DELETE', headers: headers(t.api_key) })).status).toBe(404);
    expect((await f(`/v1/api-keys/${k.id}`, { method: 'DELETE', headers: headers(t.api_key) })).status).toBe(204);
    const keys = (await (await f('/v1/api-keys', { headers: headers(t.api_key) })).json()) as { data: { id: string; last_used_at: string | null; revoked_at: string | null }[] };
    expect(keys.data.map((x) => [x.id === k.id, x.revoked_at !== null, x.last_used_at !== null])).toEqual([
      [true, true, false],
      [false, false, true],
    ]);
    const events = (await (await f('/v1/audit-events', { headers: headers(t.api_key) })).json()) as { data: { action: string }[] };
    expect(events.data.map((e) => e.action)).toEqual([
      'api_key.revoked',
      'webhook_endpoint.deleted',
      'webhook_endpoint.secret_rotated',
      'webhook_endpoint.created',
      'api_key.created',
      'api_key.created',
      'tenant.created',
    ]);

    // Suspension.
    expect((await post(`/v1/tenants/${t.id}/suspend`, ADMIN)).status).toBe(200);
    const refused = await f('/v1/me', { headers: headers(t.api_key) });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('forbidden');
    expect((await post(`/v1/tenants/${t.id}/unsuspend`, ADMIN)).status).toBe(200);
    expect((await f('/v1/me', { headers: headers(t.api_key) })).status).toBe(200);
  });
});
