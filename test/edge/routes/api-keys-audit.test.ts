// API key listing, expiry and last use (docs/security.md G10), the audit log (GET /v1/audit-events) and tenant
// suspension (G12), over real HTTP with real SQLite.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, type TestEdge, bearer, jsonHeaders, startTestEdge } from '../../helpers/edge.ts';
import { ManualClock } from '../../helpers/manual-clock.ts';
import { count, insertReadyDataset, workerClient } from '../../helpers/jobs.ts';

// The edge's clock, moved by the expiry test (keys expire by it).
const clock = new ManualClock();
let edge: TestEdge;
beforeAll(async () => {
  edge = await startTestEdge({ clock: clock.now });
});
afterAll(async () => {
  await edge?.close();
});

interface KeyView {
  id: string;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
}

async function errorOf(res: Response) {
  const body = (await res.json()) as { error: { code: string; message: string; param?: string } };
  expect(Object.keys(body)).toEqual(['error']);
  return body.error;
}

const newKey = (key: string, body?: unknown) =>
  edge.fetch('/v1/api-keys', body === undefined ? { method: 'POST', headers: bearer(key) } : { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify(body) });

async function keysOf(key: string): Promise<KeyView[]> {
  const res = await edge.fetch('/v1/api-keys?limit=100', { headers: bearer(key) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: KeyView[] }).data;
}

describe('GET /v1/api-keys', () => {
  it('lists the tenant’s keys newest first with prefix and times, never the key; other tenants’ keys are not listed', async () => {
    const t = await edge.createTenant('Lister');
    const other = await edge.createTenant('Other');
    const second = (await (await newKey(t.api_key)).json()) as { id: string; api_key: string };
    expect((await edge.fetch(`/v1/api-keys/${second.id}`, { method: 'DELETE', headers: bearer(t.api_key) })).status).toBe(204);
    const res = await edge.fetch('/v1/api-keys', { headers: bearer(t.api_key) });
    const text = await res.text();
    expect(text).not.toContain(t.api_key);
    expect(text).not.toContain(second.api_key);
    const keys = (JSON.parse(text) as { data: KeyView[] }).data;
    expect(keys.map((k) => k.id)[0]).toBe(second.id);
    expect(keys).toHaveLength(2);
    for (const k of keys) expect(Object.keys(k).sort()).toEqual(['created_at', 'expires_at', 'id', 'last_used_at', 'prefix', 'revoked_at']);
    expect(keys[0]).toMatchObject({ prefix: second.api_key.slice(0, 12), revoked_at: expect.any(String), last_used_at: null, expires_at: null });
    expect(keys[1]).toMatchObject({ prefix: t.api_key.slice(0, 12), revoked_at: null, last_used_at: expect.any(String) });
    expect((await keysOf(other.api_key)).map((k) => k.prefix)).toEqual([other.api_key.slice(0, 12)]);
    // Pagination.
    const page = (await (await edge.fetch('/v1/api-keys?limit=1', { headers: bearer(t.api_key) })).json()) as { data: KeyView[]; has_more: boolean };
    expect(page).toMatchObject({ has_more: true, data: [{ id: second.id }] });
  });

  it('last_used_at is written at most once a minute per key, not on every request', async () => {
    const t = await edge.createTenant('Busy');
    const changes = () => (edge.db.raw.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
    expect((await edge.fetch('/v1/me', { headers: bearer(t.api_key) })).status).toBe(200); // first use: one write
    const first = (await keysOf(t.api_key))[0].last_used_at!;
    const before = changes();
    for (let i = 0; i < 5; i++) expect((await edge.fetch('/v1/me', { headers: bearer(t.api_key) })).status).toBe(200);
    expect(changes()).toBe(before);
    expect((await keysOf(t.api_key))[0].last_used_at).toBe(first);
    // Once the stored value is over a minute old (by the edge's clock), the next use writes it again (once).
    clock.advance(61_000);
    const beforeStale = changes();
    for (let i = 0; i < 3; i++) expect((await edge.fetch('/v1/me', { headers: bearer(t.api_key) })).status).toBe(200);
    expect(changes()).toBe(beforeStale + 1);
    expect((await keysOf(t.api_key))[0].last_used_at).toBe(clock.now().toISOString());
  });
});

describe('key expiry', () => {
  it('expires_in_days and expires_at set the expiry; an expired key is 401 saying it expired', async () => {
    const t = await edge.createTenant('Expiry');
    const inDays = await newKey(t.api_key, { expires_in_days: 30 });
    expect(inDays.status).toBe(201);
    const a = (await inDays.json()) as { id: string; api_key: string; expires_at: string };
    expect(a.expires_at).toBe(new Date(clock.now().getTime() + 30 * 86_400_000).toISOString());
    const year = new Date().getUTCFullYear() + 2;
    const b = (await (await newKey(t.api_key, { expires_at: `${year}-01-01T00:00:00+01:00` })).json()) as { id: string; api_key: string; expires_at: string };
    expect(b.expires_at).toBe(`${year - 1}-12-31T23:00:00.000Z`);
    expect((await keysOf(t.api_key)).find((k) => k.id === b.id)?.expires_at).toBe(b.expires_at);
    expect((await edge.fetch('/v1/me', { headers: bearer(a.api_key) })).status).toBe(200);

    // Its time comes: valid at its last millisecond, expired at the next.
    clock.advance(30 * 86_400_000 - 1);
    expect((await edge.fetch('/v1/me', { headers: bearer(a.api_key) })).status).toBe(200);
    clock.advance(1);
    const res = await edge.fetch('/v1/me', { headers: bearer(a.api_key) });
    expect(res.status).toBe(401);
    expect(await errorOf(res)).toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/expired/) });
    expect((await edge.fetch('/v1/me', { headers: bearer(t.api_key) })).status).toBe(200);
  });

  it('bad expiry input is 422 with its param and creates no key and no event', async () => {
    const t = await edge.createTenant('BadExpiry');
    const keys = () => count(edge, 'SELECT COUNT(*) AS n FROM api_keys WHERE tenant_id = ?', t.id);
    const events = () => count(edge, 'SELECT COUNT(*) AS n FROM audit_events WHERE tenant_id = ?', t.id);
    const [k0, e0] = [keys(), events()];
    const cases: [unknown, string][] = [
      [{ expires_in_days: 0 }, 'expires_in_days'],
      [{ expires_in_days: 1.5 }, 'expires_in_days'],
      [{ expires_in_days: 3651 }, 'expires_in_days'],
      [{ expires_in_days: '5' }, 'expires_in_days'],
      [{ expires_at: 'tomorrow' }, 'expires_at'],
      [{ expires_at: '2099-01-01' }, 'expires_at'],
      [{ expires_at: '2001-01-01T00:00:00Z' }, 'expires_at'],
      [{ expires_at: '2999-01-01T00:00:00Z' }, 'expires_at'],
      [{ expires_in_days: 5, expires_at: '2099-01-01T00:00:00Z' }, 'expires_at'],
      [{ expiry: 5 }, 'expiry'],
    ];
    for (const [body, param] of cases) {
      const res = await newKey(t.api_key, body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(await errorOf(res), JSON.stringify(body)).toMatchObject({ code: 'validation_failed', param });
    }
    expect([keys(), events()]).toEqual([k0, e0]);
  });
});

describe('GET /v1/audit-events', () => {
  it('records key, webhook endpoint and tenant changes with actor and target, newest first, each in the batch of its change', async () => {
    const t = await edge.createTenant('Audited');
    const me = (await (await edge.fetch('/v1/api-keys', { headers: bearer(t.api_key) })).json()) as { data: KeyView[] };
    const firstKey = me.data[0].id;
    const k = (await (await newKey(t.api_key, { expires_in_days: 7 })).json()) as { id: string; expires_at: string };
    expect((await edge.fetch(`/v1/api-keys/${k.id}`, { method: 'DELETE', headers: bearer(t.api_key) })).status).toBe(204);
    const ep = (await (
      await edge.fetch('/v1/webhook-endpoints', { method: 'POST', headers: jsonHeaders(t.api_key), body: JSON.stringify({ url: 'https://example.com/hook' }) })
    ).json()) as { id: string; url: string };
    expect((await edge.fetch(`/v1/webhook-endpoints/${ep.id}/rotate-secret`, { method: 'POST', headers: bearer(t.api_key) })).status).toBe(200);
    expect((await edge.fetch(`/v1/webhook-endpoints/${ep.id}`, { method: 'DELETE', headers: bearer(t.api_key) })).status).toBe(204);
    // Failed changes write no event: unknown ids, a second revocation, a refused URL.
    expect((await edge.fetch(`/v1/api-keys/${k.id}`, { method: 'DELETE', headers: bearer(t.api_key) })).status).toBe(404);
    expect((await edge.fetch(`/v1/webhook-endpoints/${ep.id}`, { method: 'DELETE', headers: bearer(t.api_key) })).status).toBe(404);
    expect((await edge.fetch(`/v1/webhook-endpoints/${ep.id}/rotate-secret`, { method: 'POST', headers: bearer(t.api_key) })).status).toBe(404);
    expect(
      (await edge.fetch('/v1/webhook-endpoints', { method: 'POST', headers: jsonHeaders(t.api_key), body: JSON.stringify({ url: 'http://10.0.0.1/hook' }) })).status,
    ).toBe(422);

    const res = await edge.fetch('/v1/audit-events', { headers: bearer(t.api_key) });
    expect(res.status).toBe(200);
    const { data } = (await res.json()) as { data: Record<string, unknown>[]; has_more: boolean };
    const actor = { type: 'api_key', id: firstKey };
    const admin = { type: 'admin', id: null };
    const expected = [
      { action: 'webhook_endpoint.deleted', actor, target: { type: 'webhook_endpoint', id: ep.id } },
      { action: 'webhook_endpoint.secret_rotated', actor, target: { type: 'webhook_endpoint', id: ep.id } },
      { action: 'webhook_endpoint.created', actor, target: { type: 'webhook_endpoint', id: ep.id }, data: { url: ep.url } },
      { action: 'api_key.revoked', actor, target: { type: 'api_key', id: k.id } },
      { action: 'api_key.created', actor, target: { type: 'api_key', id: k.id }, data: { prefix: expect.any(String), expires_at: k.expires_at } },
      { action: 'api_key.created', actor: admin, target: { type: 'api_key', id: firstKey }, data: { prefix: t.api_key.slice(0, 12), expires_at: null } },
      { action: 'tenant.created', actor: admin, target: { type: 'tenant', id: t.id }, data: { name: 'Audited' } },
    ];
    expect(data).toEqual(expected.map((e) => ({ id: expect.stringMatching(/^aud_/), created_at: expect.any(String), ...e })));
    // Cursor pages.
    const page1 = (await (await edge.fetch('/v1/audit-events?limit=3', { headers: bearer(t.api_key) })).json()) as { data: { id: string }[]; has_more: boolean };
    const page2 = (await (await edge.fetch(`/v1/audit-events?limit=10&after=${page1.data[2].id}`, { headers: bearer(t.api_key) })).json()) as {
      data: { id: string }[];
      has_more: boolean;
    };
    expect([...page1.data, ...page2.data].map((e) => e.id)).toEqual(data.map((e) => e.id));
    expect([page1.has_more, page2.has_more]).toEqual([true, false]);
    // Another tenant sees none of them.
    const other = await edge.createTenant('Stranger');
    const theirs = (await (await edge.fetch('/v1/audit-events', { headers: bearer(other.api_key) })).json()) as { data: { target: { id: string } }[] };
    expect(theirs.data.map((e) => e.target.id).sort()).toEqual([other.id, expect.stringMatching(/^key_/)].sort());
  });

  it('a change whose batch fails leaves neither the change nor its event', async () => {
    const t = await edge.createTenant('Atomic');
    const k = (await (await newKey(t.api_key)).json()) as { id: string };
    // Make the audit insert fail inside the revocation's batch: the revocation must roll back with it.
    edge.db.raw.exec(
      "CREATE TRIGGER refuse_revoke_event BEFORE INSERT ON audit_events WHEN NEW.action = 'api_key.revoked' BEGIN SELECT RAISE(ABORT, 'refused'); END",
    );
    try {
      const res = await edge.fetch(`/v1/api-keys/${k.id}`, { method: 'DELETE', headers: bearer(t.api_key) });
      expect(res.status).toBe(500);
    } finally {
      edge.db.raw.exec('DROP TRIGGER refuse_revoke_event');
    }
    expect(edge.db.raw.prepare('SELECT revoked_at FROM api_keys WHERE id = ?').get(k.id)).toEqual({ revoked_at: null });
    expect(count(edge, "SELECT COUNT(*) AS n FROM audit_events WHERE target_id = ? AND action = 'api_key.revoked'", k.id)).toBe(0);
  });
});

describe('tenant suspension (admin)', () => {
  it("a suspended tenant's keys get 403 forbidden on every /v1 route; its unfinished jobs are cancelled; unsuspending restores access", async () => {
    const t = await edge.createTenant('Suspendable');
    const other = await edge.createTenant('Bystander');
    const second = (await (await newKey(t.api_key)).json()) as { api_key: string };
    const job = async (tenant: { id: string; api_key: string }) => {
      const res = await edge.fetch('/v1/training-jobs', {
        method: 'POST',
        headers: jsonHeaders(tenant.api_key),
        body: JSON.stringify({ dataset_id: insertReadyDataset(edge, tenant.id), method: 'coop' }),
      });
      expect(res.status).toBe(201);
      return ((await res.json()) as { id: string }).id;
    };
    const running = await job(t);
    const lease = await workerClient(edge).leaseOk();
    expect(lease.job.id).toBe(running);
    const queued = await job(t);
    const bystanderJob = await job(other);

    const res = await edge.fetch(`/v1/tenants/${t.id}/suspend`, { method: 'POST', headers: bearer(ADMIN_TOKEN) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toEqual({ id: t.id, name: 'Suspendable', created_at: expect.any(String), suspended_at: expect.any(String), cancelled_jobs: [running, queued] });

    const statusOf = (id: string) => (edge.db.raw.prepare('SELECT status FROM training_jobs WHERE id = ?').get(id) as { status: string }).status;
    expect([statusOf(running), statusOf(queued), statusOf(bystanderJob)]).toEqual(['cancelling', 'cancelled', 'queued']);
    // The worker learns of it at its next heartbeat, as for a tenant's cancel.
    const hb = await workerClient(edge).heartbeat(running, { lease_id: lease.lease_id });
    expect(((await hb.json()) as { cancel_requested: boolean }).cancel_requested).toBe(true);
    // The next lease is the bystander's job, not the suspended tenant's.
    expect((await workerClient(edge).leaseOk()).job.id).toBe(bystanderJob);

    const doc = (await (await edge.fetch('/openapi.json')).json()) as { paths: Record<string, Record<string, { security?: { ApiKey?: unknown }[] }>> };
    const tenantRoutes = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => op.security?.some((s) => 'ApiKey' in s))
        .map(([method]) => ({ method: method.toUpperCase(), path: path.replace(/\{[^}]+\}/g, 'x_0000000000000000000000') })),
    );
    expect(tenantRoutes.length).toBeGreaterThan(20);
    expect((await edge.fetch('/v1/me', { headers: bearer(second.api_key) })).status).toBe(403); // its first use is noted (one write)
    const dbBefore = count(edge, 'SELECT total_changes() AS n');
    for (const key of [t.api_key, second.api_key]) {
      for (const r of tenantRoutes) {
        const init: RequestInit = { method: r.method, headers: r.method === 'POST' ? jsonHeaders(key) : bearer(key) };
        if (r.method === 'POST') init.body = '{}';
        const answer = await edge.fetch(r.path, init);
        expect(answer.status, `${r.method} ${r.path}`).toBe(403);
        expect(await errorOf(answer), `${r.method} ${r.path}`).toMatchObject({ code: 'forbidden', message: expect.stringMatching(/suspended/) });
      }
    }
    expect(count(edge, 'SELECT total_changes() AS n')).toBe(dbBefore);
    expect((await edge.fetch('/v1/me', { headers: bearer(other.api_key) })).status).toBe(200);

    // Suspending again changes nothing and writes no second event.
    const again = await edge.fetch(`/v1/tenants/${t.id}/suspend`, { method: 'POST', headers: bearer(ADMIN_TOKEN) });
    expect(((await again.json()) as { suspended_at: string; cancelled_jobs: string[] })).toMatchObject({ suspended_at: body.suspended_at, cancelled_jobs: [] });

    const lifted = await edge.fetch(`/v1/tenants/${t.id}/unsuspend`, { method: 'POST', headers: bearer(ADMIN_TOKEN) });
    expect(lifted.status).toBe(200);
    expect(await lifted.json()).toMatchObject({ id: t.id, suspended_at: null });
    expect((await edge.fetch('/v1/me', { headers: bearer(t.api_key) })).status).toBe(200);
    expect((await edge.fetch('/v1/me', { headers: bearer(second.api_key) })).status).toBe(200);
    expect(statusOf(queued)).toBe('cancelled');

    const events = (await (await edge.fetch('/v1/audit-events', { headers: bearer(t.api_key) })).json()) as { data: { action: string; actor: unknown }[] };
    expect(events.data.slice(0, 2)).toEqual([
      expect.objectContaining({ action: 'tenant.unsuspended', actor: { type: 'admin', id: null }, target: { type: 'tenant', id: t.id } }),
      expect.objectContaining({ action: 'tenant.suspended', actor: { type: 'admin', id: null }, target: { type: 'tenant', id: t.id } }),
    ]);
  });

  it('404 for an unknown tenant, 401 for anything but the admin token; nothing is written', async () => {
    const t = await edge.createTenant('Guarded');
    const before = count(edge, 'SELECT total_changes() AS n');
    for (const action of ['suspend', 'unsuspend']) {
      const res = await edge.fetch(`/v1/tenants/ten_nope/${action}`, { method: 'POST', headers: bearer(ADMIN_TOKEN) });
      expect(res.status).toBe(404);
      expect((await errorOf(res)).code).toBe('not_found');
      expect((await edge.fetch(`/v1/tenants/${t.id}/${action}`, { method: 'POST', headers: bearer(t.api_key) })).status).toBe(401);
    }
    expect(count(edge, 'SELECT total_changes() AS n')).toBe(before + 1); // t's key noted as used once
  });
});
