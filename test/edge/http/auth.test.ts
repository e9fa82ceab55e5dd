// Principals: worker token routes (behind /v1 authenticate and mounted elsewhere), admin-only routes,
// and that workers are not rate limited while tenant keys are.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../../edge/app.ts';
import { resolveConfig } from '../../../edge/config.ts';
import { requireAdmin, requireTenant, requireWorker } from '../../../edge/http/auth.ts';
import { SqliteDatabase } from '../../../edge/node/sqlite-database.ts';
import { MemoryCache } from '../../../edge/node/memory-cache.ts';
import { MIGRATIONS_DIR } from '../../../edge/node/server.ts';
import { ManualClock } from '../../helpers/manual-clock.ts';
import { ADMIN_TOKEN, unreachableBlobStore, WORKER_TOKEN, bearer, serveApp } from '../../helpers/edge.ts';

let server: { url: string; close(): Promise<void> };
let db: SqliteDatabase;

beforeAll(async () => {
  db = new SqliteDatabase(':memory:');
  db.migrate(MIGRATIONS_DIR);
  const config = resolveConfig({ adminToken: ADMIN_TOKEN, workerToken: WORKER_TOKEN, rateLimit: { requestsPerWindow: 2, windowMs: 60_000 }, clock: new ManualClock().now }); // held still: one window
  const app = createApp({ db, blobs: unreachableBlobStore(), cache: new MemoryCache() }, config);
  app.get('/v1/worker-only', requireWorker, (c) => c.json({ ok: true }));
  app.get('/internal/worker-only', requireWorker, (c) => c.json({ ok: true }));
  app.get('/internal/admin-only', requireAdmin, (c) => c.json({ ok: true }));
  app.get('/internal/tenant-only', requireTenant, (c) => c.json({ tenant: c.var.tenant.tenantId }));
  server = await serveApp(app);
});

afterAll(async () => {
  await server?.close();
  db?.close();
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(server.url + path, { headers });

describe('worker and admin tokens', () => {
  it('requireWorker accepts only the worker token, under /v1 and outside it', async () => {
    for (const path of ['/v1/worker-only', '/internal/worker-only']) {
      expect((await get(path, bearer(WORKER_TOKEN))).status, path).toBe(200);
      expect((await get(path, bearer(ADMIN_TOKEN))).status, path).toBe(401);
      expect((await get(path, bearer(WORKER_TOKEN.slice(0, -1) + 'X'))).status, path).toBe(401);
      expect((await get(path)).status, path).toBe(401);
    }
  });

  it('workers are not rate limited (limit 2 here)', async () => {
    for (let i = 0; i < 6; i++) expect((await get('/v1/worker-only', bearer(WORKER_TOKEN))).status).toBe(200);
  });

  it('requireAdmin and requireTenant work outside /v1 too', async () => {
    expect((await get('/internal/admin-only', bearer(ADMIN_TOKEN))).status).toBe(200);
    expect((await get('/internal/admin-only', bearer(WORKER_TOKEN))).status).toBe(401);
    const created = await fetch(`${server.url}/v1/tenants`, {
      method: 'POST',
      headers: { ...bearer(ADMIN_TOKEN), 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'T' }),
    });
    const t = (await created.json()) as { id: string; api_key: string };
    const res = await get('/internal/tenant-only', bearer(t.api_key));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ tenant: t.id });
    expect((await get('/internal/tenant-only', bearer(ADMIN_TOKEN))).status).toBe(401);
  });
});
