// Security review (docs/security.md), over real HTTP with real SQLite (startTestEdge):
//  - Credential scope on EVERY route of GET /openapi.json: each route declares one principal (ApiKey, AdminToken,
//    WorkerToken, MetricsToken, or none); the other credentials, a wrong token and no token are 401 on it, and the
//    declared one gets past auth (on MetricsToken routes the admin token too). A route without a declared principal
//    fails the test, so new routes are covered.
//  - Revocation takes effect at once: the very next request with a revoked key is 401 on every kind of route,
//    including an Idempotency-Key replay of a request it made before; other keys keep working; no auth result
//    is cached in the KeyValueCache port (the Workers build's KV), so there is nothing stale to expire.
//  - API keys are stored hashed and shown once; G1 (fixed): a key-creating response made with an Idempotency-Key
//    is kept for 24 h in idempotency_keys (plaintext, G9) and replayed only to the key that made it.
//  - What the per-key rate limit does not cover: failed authentication, the unauthenticated system routes,
//    and one tenant with several keys (limits are per key, not per tenant).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { MemoryCache } from '../../edge/node/memory-cache.ts';
import type { KeyValueCache } from '../../edge/ports.ts';
import { ADMIN_TOKEN, WORKER_TOKEN, type TestEdge, bearer, jsonHeaders, startTestEdge } from '../helpers/edge.ts';
import { ManualClock } from '../helpers/manual-clock.ts';

const METRICS_TOKEN = 'scope-metrics-token-0123456789';
/** The real Node cache, every call to it written down (get/put/delete and the key). */
const cacheCalls: string[] = [];
function recordingCache(cache: KeyValueCache): KeyValueCache {
  return {
    get: (key) => (cacheCalls.push(`get ${key}`), cache.get(key)),
    put: (key, value, ttl) => (cacheCalls.push(`put ${key}`), cache.put(key, value, ttl)),
    delete: (key) => (cacheCalls.push(`delete ${key}`), cache.delete(key)),
  };
}

let edge: TestEdge;
beforeAll(async () => {
  // Hundreds of refused credentials from one address: the failed-authentication limit (tested below and in
  // test/edge/http/rate-limit.test.ts) would answer them 429 before their scope is checked.
  edge = await startTestEdge(
    { rateLimit: { authFailuresPerWindow: 1_000_000 }, metricsToken: METRICS_TOKEN },
    { cache: recordingCache(new MemoryCache()) },
  );
});
afterAll(async () => {
  await edge?.close();
});

type Scheme = 'ApiKey' | 'AdminToken' | 'WorkerToken' | 'MetricsToken' | 'none';

async function documentedRoutes(): Promise<{ method: string; path: string; scheme: Scheme }[]> {
  const doc = (await (await edge.fetch('/openapi.json')).json()) as {
    paths: Record<string, Record<string, { security?: Record<string, unknown>[] }>>;
  };
  const out: { method: string; path: string; scheme: Scheme }[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const names = (op.security ?? []).flatMap((s) => Object.keys(s));
      expect(names.length, `${method} ${path} declares ${names.length} security schemes`).toBeLessThanOrEqual(1);
      out.push({ method: method.toUpperCase(), path, scheme: (names[0] as Scheme | undefined) ?? 'none' });
    }
  }
  return out;
}

describe('credential scope on every documented route', () => {
  it('only the declared principal gets past auth; every other credential is 401', async () => {
    const t = await edge.createTenant('Scope');
    const creds: Record<Exclude<Scheme, 'none'>, string> = { ApiKey: t.api_key, AdminToken: ADMIN_TOKEN, WorkerToken: WORKER_TOKEN, MetricsToken: METRICS_TOKEN };
    // The metrics routes also take the admin token (docs/security.md section 1).
    const alsoAccepted: Partial<Record<Scheme, string[]>> = { MetricsToken: [ADMIN_TOKEN] };
    // A per-worker token (POST /v1/workers) is a WorkerToken credential too: refused wherever the configured one is.
    const issued = await edge.fetch('/v1/workers', { method: 'POST', headers: jsonHeaders(ADMIN_TOKEN), body: JSON.stringify({ name: 'scope' }) });
    expect(issued.status).toBe(201);
    const perWorker = ((await issued.json()) as { token: string }).token;
    const routes = await documentedRoutes();
    expect(routes.length).toBeGreaterThan(25);
    const system = routes.filter((r) => r.scheme === 'none').map((r) => `${r.method} ${r.path}`);
    expect(system.sort(), 'only the system routes may be public').toEqual(['GET /docs', 'GET /healthz', 'GET /openapi.json']);
    expect(routes.filter((r) => r.path.startsWith('/internal/')).every((r) => r.scheme === 'WorkerToken')).toBe(true);
    expect(routes.filter((r) => r.scheme === 'AdminToken').map((r) => `${r.method} ${r.path}`).sort()).toEqual([
      'DELETE /v1/workers/{id}',
      'GET /v1/workers',
      'PATCH /v1/tenants/{id}',
      'POST /v1/tenants',
      'POST /v1/tenants/{id}/suspend',
      'POST /v1/tenants/{id}/unsuspend',
      'POST /v1/workers',
    ]);

    const seen: string[] = [];
    for (const r of routes) {
      if (r.scheme === 'none') continue;
      const path = r.path.replace(/\{[^}]+\}/g, 'x_0000000000000000000000');
      const call = async (token: string | null) => {
        const headers: Record<string, string> = token === null ? {} : bearer(token);
        const init: RequestInit = { method: r.method, headers };
        if (r.method === 'POST') {
          headers['content-type'] = 'application/json';
          init.body = '{}';
        }
        const res = await edge.fetch(path, init);
        const body = (await res.json().catch(() => null)) as { error?: { code?: string } } | null;
        return { status: res.status, code: body?.error?.code };
      };
      const wrong = [
        ...Object.entries(creds).filter(([k, v]) => k !== r.scheme && !(alsoAccepted[r.scheme] ?? []).includes(v)).map(([, v]) => v),
        ...(r.scheme === 'WorkerToken' ? [`${perWorker}x`, perWorker.slice(0, -1) + (perWorker.endsWith('A') ? 'B' : 'A')] : [perWorker]),
        `${creds[r.scheme]}x`,
        creds[r.scheme].slice(0, -1) + (creds[r.scheme].endsWith('A') ? 'B' : 'A'),
        null,
      ];
      for (const token of wrong) {
        expect(await call(token), `${r.method} ${r.path} with ${token === null ? 'no token' : token.slice(0, 10)}`).toEqual({ status: 401, code: 'unauthorized' });
      }
      const right = await call(creds[r.scheme]);
      expect(right.status, `${r.method} ${r.path} with its own credential`).not.toBe(401);
      for (const token of alsoAccepted[r.scheme] ?? []) expect((await call(token)).status, `${r.method} ${r.path} with ${token.slice(0, 10)}`).not.toBe(401);
      if (r.scheme === 'WorkerToken') expect((await call(perWorker)).status, `${r.method} ${r.path} with a per-worker token`).not.toBe(401);
      seen.push(`${r.method} ${r.path}`);
    }
    expect(seen.length).toBeGreaterThan(25);
  });
});

describe('revocation', () => {
  it('a revoked key is refused on the very next request, on every kind of route; the tenant’s other keys keep working', async () => {
    const t = await edge.createTenant('Revoke');
    const second = (await (await edge.fetch('/v1/api-keys', { method: 'POST', headers: bearer(t.api_key) })).json()) as { id: string; api_key: string };
    const k = second.api_key;
    // A create made with an Idempotency-Key before revocation.
    const create = () =>
      edge.fetch('/v1/datasets', { method: 'POST', headers: jsonHeaders(k, { 'Idempotency-Key': 'before-revoke' }), body: JSON.stringify({ name: 'x' }) });
    const first = await create();
    expect(first.status).toBe(201);
    const ds = (await first.json()) as { id: string };
    expect((await edge.fetch('/v1/me', { headers: bearer(k) })).status).toBe(200);

    // Revoke it and immediately use it (no delay, no cache to expire).
    expect((await edge.fetch(`/v1/api-keys/${second.id}`, { method: 'DELETE', headers: bearer(t.api_key) })).status).toBe(204);
    const after: [string, Response][] = [
      ['GET /v1/me', await edge.fetch('/v1/me', { headers: bearer(k) })],
      ['GET /v1/datasets/{id}', await edge.fetch(`/v1/datasets/${ds.id}`, { headers: bearer(k) })],
      ['replay POST /v1/datasets', await create()],
      ['POST /v1/api-keys', await edge.fetch('/v1/api-keys', { method: 'POST', headers: bearer(k) })],
      ['DELETE /v1/datasets/{id}', await edge.fetch(`/v1/datasets/${ds.id}`, { method: 'DELETE', headers: bearer(k) })],
      ['DELETE /v1/api-keys/{id} (itself)', await edge.fetch(`/v1/api-keys/${second.id}`, { method: 'DELETE', headers: bearer(k) })],
    ];
    for (const [what, res] of after) {
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect([what, res.status, body.error.code], what).toEqual([what, 401, 'unauthorized']);
      expect(body.error.message).toContain('revoked');
      expect(res.headers.get('Idempotent-Replayed')).toBeNull();
    }
    // Nothing was deleted by the revoked key; the other key still works and sees the dataset.
    expect((await edge.fetch(`/v1/datasets/${ds.id}`, { headers: bearer(t.api_key) })).status).toBe(200);
    // Revocation is permanent: revoking again is 404 (no active key with that id), and no route un-revokes.
    expect((await edge.fetch(`/v1/api-keys/${second.id}`, { method: 'DELETE', headers: bearer(t.api_key) })).status).toBe(404);
    expect((await edge.fetch('/v1/me', { headers: bearer(k) })).status).toBe(401);
  });

  it('concurrent requests right after the revocation all fail (every request reads the key row)', async () => {
    const t = await edge.createTenant('RevokeConcurrent');
    const second = (await (await edge.fetch('/v1/api-keys', { method: 'POST', headers: bearer(t.api_key) })).json()) as { id: string; api_key: string };
    expect((await edge.fetch(`/v1/api-keys/${second.id}`, { method: 'DELETE', headers: bearer(second.api_key) })).status).toBe(204);
    const statuses = await Promise.all(Array.from({ length: 20 }, () => edge.fetch('/v1/me', { headers: bearer(second.api_key) }).then((r) => r.status)));
    expect(new Set(statuses)).toEqual(new Set([401]));
  });

  it('authentication never goes through the KeyValueCache port (the Workers build’s KV): nothing to invalidate', async () => {
    const before = cacheCalls.length;
    const t = await edge.createTenant('NoCache');
    for (let i = 0; i < 3; i++) await edge.fetch('/v1/me', { headers: bearer(t.api_key) });
    await edge.fetch('/v1/me', { headers: bearer(`ck_live_${'A'.repeat(32)}`) });
    expect(cacheCalls.slice(before)).toEqual([]);
  });
});

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
function dbDump(): string {
  const tables = (edge.db.raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name);
  return tables.map((n) => JSON.stringify(edge.db.raw.prepare(`SELECT * FROM "${n}"`).all())).join('\n');
}

describe('API keys at rest', () => {
  it('keys made by POST /v1/tenants and POST /v1/api-keys are stored only as sha256 + an 12-character display prefix', async () => {
    const t = await edge.createTenant('AtRest');
    const k = (await (await edge.fetch('/v1/api-keys', { method: 'POST', headers: bearer(t.api_key) })).json()) as { id: string; api_key: string };
    const dump = dbDump();
    for (const key of [t.api_key, k.api_key]) {
      expect(dump.includes(key.slice(12))).toBe(false);
      expect(dump.includes(sha256(key))).toBe(true);
    }
    // No route shows a key again.
    const me = await (await edge.fetch('/v1/me', { headers: bearer(k.api_key) })).text();
    expect(me.includes('ck_live_')).toBe(false);
  });

  it('G1 (fixed): an Idempotency-Key replay of a key-creating request goes only to the key that made it', async () => {
    const t = await edge.createTenant('IdemGap');
    const other = (await (await edge.fetch('/v1/api-keys', { method: 'POST', headers: bearer(t.api_key) })).json()) as { api_key: string };
    const res = await edge.fetch('/v1/api-keys', { method: 'POST', headers: bearer(t.api_key, { 'Idempotency-Key': 'make-ci-key' }) });
    const made = (await res.json()) as { id: string; api_key: string };
    // G9 (fixed for idempotency records): the key is not kept at rest for the replay window.
    expect(dbDump().includes(made.api_key)).toBe(false);
    // Another key of the tenant with the same Idempotency-Key makes its own new key: nothing is replayed to it.
    const second = await edge.fetch('/v1/api-keys', { method: 'POST', headers: bearer(other.api_key, { 'Idempotency-Key': 'make-ci-key' }) });
    expect(second.status).toBe(201);
    expect(second.headers.get('Idempotent-Replayed')).toBeNull();
    expect(((await second.json()) as { api_key: string }).api_key).not.toBe(made.api_key);
    // The key that made it gets the replay (a retry after a lost answer): the key's id, never its secret.
    const replay = await edge.fetch('/v1/api-keys', { method: 'POST', headers: bearer(t.api_key, { 'Idempotency-Key': 'make-ci-key' }) });
    expect(replay.headers.get('Idempotent-Replayed')).toBe('true');
    expect(await replay.json()).toMatchObject({ id: made.id, api_key: null });
  });
});

describe('what the rate limits cover', () => {
  let limited: TestEdge;
  beforeAll(async () => {
    limited = await startTestEdge({ rateLimit: { requestsPerWindow: 2, windowMs: 60_000 }, clock: new ManualClock().now }); // held still: one window
  });
  afterAll(async () => {
    await limited?.close();
  });

  it('G4 (fixed): failed authentication is limited per client address; the system routes are not limited', async () => {
    const own = await startTestEdge({ rateLimit: { authFailuresPerWindow: 16 }, clock: new ManualClock().now });
    try {
      for (let i = 0; i < 8; i++) {
        expect((await own.fetch('/v1/me', { headers: bearer(`ck_live_${String(i).repeat(32)}`) })).status).toBe(401);
        expect((await own.fetch('/v1/tenants', { method: 'POST', headers: jsonHeaders(`${ADMIN_TOKEN}-wrong`), body: '{}' })).status).toBe(401);
        expect((await own.fetch('/healthz')).status).toBe(200);
      }
      const blocked = await own.fetch('/v1/tenants', { method: 'POST', headers: jsonHeaders(`${ADMIN_TOKEN}-guess`), body: '{}' });
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect((await own.fetch('/healthz')).status).toBe(200);
      expect(own.db.raw.prepare('SELECT COUNT(*) AS n FROM rate_windows').get()).toEqual({ n: 0 });
    } finally {
      await own.close();
    }
  });

  it('limits are per key: a tenant multiplies its budget by creating keys (no per-tenant limit, no cap on keys)', async () => {
    const t = await limited.createTenant('Multiply'); // admin bucket: 1 request
    const k2 = (await (await limited.fetch('/v1/api-keys', { method: 'POST', headers: bearer(t.api_key) })).json()) as { api_key: string };
    expect((await limited.fetch('/v1/me', { headers: bearer(t.api_key) })).status).toBe(200);
    expect((await limited.fetch('/v1/me', { headers: bearer(t.api_key) })).status).toBe(429);
    // The same tenant goes on with its second key.
    expect((await limited.fetch('/v1/me', { headers: bearer(k2.api_key) })).status).toBe(200);
    expect((await limited.fetch('/v1/me', { headers: bearer(k2.api_key) })).status).toBe(200);
  });
});
