// PATCH /v1/tenants/{id} (admin) over real HTTP with real SQLite: per-tenant overrides of the quotas and of the request
// limit, enforced by the same checks as the defaults (datasets, multipart images, presigned uploads, bytes, concurrent
// jobs, requests per window), shown by GET /v1/me, removed with null, audited; bad input is 4xx and writes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { ADMIN_TOKEN, WORKER_TOKEN, type TestEdge, bearer, jsonHeaders, startTestEdge } from '../../helpers/edge.ts';
import { insertReadyDataset } from '../../helpers/jobs.ts';

let edge: TestEdge;
let png: Uint8Array;
beforeAll(async () => {
  edge = await startTestEdge({ rateLimit: { requestsPerWindow: 1000 } });
  png = new Uint8Array(await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 200, g: 10, b: 10 } } }).png().toBuffer());
});
afterAll(async () => {
  await edge?.close();
});

const patch = (id: string, body: unknown, token = ADMIN_TOKEN) =>
  edge.fetch(`/v1/tenants/${id}`, { method: 'PATCH', headers: jsonHeaders(token), body: typeof body === 'string' ? body : JSON.stringify(body) });
const post = (key: string, path: string, body: unknown) => edge.fetch(path, { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify(body) });
const me = async (key: string) => {
  const res = await edge.fetch('/v1/me', { headers: bearer(key) });
  expect(res.status).toBe(200);
  return (await res.json()) as { quotas: Record<string, number>; rate_limit: { requests_per_window: number; window_seconds: number } };
};

async function errorOf(res: Response, status: number): Promise<{ code: string; message: string; param?: string }> {
  expect(res.status, await res.clone().text()).toBe(status);
  const body = (await res.json()) as { error: { code: string; message: string; param?: string } };
  expect(Object.keys(body)).toEqual(['error']);
  return body.error;
}

function imageForm(label: string, n: number): FormData {
  const fd = new FormData();
  fd.append('label', label);
  for (let i = 0; i < n; i++) fd.append('file', new Blob([png as Uint8Array<ArrayBuffer>], { type: 'image/png' }), `${label}${i}.png`);
  return fd;
}

const DEFAULT_QUOTAS = { datasets: 50, images: 20000, bytes: 2 * 1024 ** 3, concurrent_jobs: 2 };

describe('PATCH /v1/tenants/{id}: quota overrides', () => {
  it('datasets: lowered to 1 the second create is 409; raised, it is allowed; null restores the default', async () => {
    const t = await edge.createTenant('Plan A');
    expect((await me(t.api_key)).quotas).toEqual(DEFAULT_QUOTAS);

    const res = await patch(t.id, { quotas: { datasets: 1 } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      id: t.id,
      name: 'Plan A',
      quotas: { ...DEFAULT_QUOTAS, datasets: 1 },
      rate_limit: { requests_per_window: 1000, window_seconds: 60 },
      overrides: { quotas: { datasets: 1, images: null, bytes: null, concurrent_jobs: null }, rate_limit: { requests_per_window: null } },
    });
    expect((await me(t.api_key)).quotas).toEqual({ ...DEFAULT_QUOTAS, datasets: 1 });

    expect((await post(t.api_key, '/v1/datasets', { name: 'first' })).status).toBe(201);
    const refused = await errorOf(await post(t.api_key, '/v1/datasets', { name: 'second' }), 409);
    expect(refused.code).toBe('conflict');
    expect(refused.message).toMatch(/datasets quota \(1\)/);
    expect((edge.db.raw.prepare('SELECT COUNT(*) AS n FROM datasets WHERE tenant_id = ?').get(t.id) as { n: number }).n).toBe(1);

    // Another tenant keeps the default.
    const other = await edge.createTenant('Default plan');
    expect((await post(other.api_key, '/v1/datasets', { name: 'a' })).status).toBe(201);
    expect((await post(other.api_key, '/v1/datasets', { name: 'b' })).status).toBe(201);

    expect((await patch(t.id, { quotas: { datasets: 3 } })).status).toBe(200);
    expect((await post(t.api_key, '/v1/datasets', { name: 'second' })).status).toBe(201);
    expect((await post(t.api_key, '/v1/datasets', { name: 'third' })).status).toBe(201);
    expect((await post(t.api_key, '/v1/datasets', { name: 'fourth' })).status).toBe(409);

    const back = await patch(t.id, { quotas: { datasets: null } });
    expect(((await back.json()) as { overrides: { quotas: { datasets: unknown } } }).overrides.quotas.datasets).toBeNull();
    expect((await me(t.api_key)).quotas).toEqual(DEFAULT_QUOTAS);
    expect((await post(t.api_key, '/v1/datasets', { name: 'fourth' })).status).toBe(201);
  });

  it('images: the override holds for presigned uploads and multipart uploads alike', async () => {
    const t = await edge.createTenant('Few images');
    expect((await patch(t.id, { quotas: { images: 3 } })).status).toBe(200);
    const ds = (await (await post(t.api_key, '/v1/datasets', { name: 'd' })).json()) as { id: string };
    const file = { label: 'cat', content_type: 'image/png', bytes: 100 };

    const tooMany = await errorOf(await post(t.api_key, `/v1/datasets/${ds.id}/uploads`, { files: [file, file, file, file] }), 409);
    expect(tooMany.message).toMatch(/images quota/);
    expect((await post(t.api_key, `/v1/datasets/${ds.id}/uploads`, { files: [file, file] })).status).toBe(201);
    // Pending uploads count: two of three are taken, so a multipart request of two is refused and one fits.
    const multipart = (n: number) => edge.fetch(`/v1/datasets/${ds.id}/images`, { method: 'POST', headers: bearer(t.api_key), body: imageForm('cat', n) });
    expect((await errorOf(await multipart(2), 409)).message).toMatch(/images quota/);
    expect((await multipart(1)).status).toBe(201);
    expect((await post(t.api_key, `/v1/datasets/${ds.id}/uploads`, { files: [file] })).status).toBe(409);
    expect((edge.db.raw.prepare('SELECT COUNT(*) AS n FROM images WHERE tenant_id = ?').get(t.id) as { n: number }).n).toBe(3);
  });

  it('bytes and concurrent_jobs: the overrides hold too', async () => {
    const t = await edge.createTenant('Small');
    expect((await patch(t.id, { quotas: { bytes: 150, concurrent_jobs: 1 } })).status).toBe(200);
    const ds = (await (await post(t.api_key, '/v1/datasets', { name: 'd' })).json()) as { id: string };
    const big = await errorOf(await post(t.api_key, `/v1/datasets/${ds.id}/uploads`, { files: [{ label: 'cat', content_type: 'image/png', bytes: 151 }] }), 409);
    expect(big.message).toMatch(/storage quota/);
    expect((await post(t.api_key, `/v1/datasets/${ds.id}/uploads`, { files: [{ label: 'cat', content_type: 'image/png', bytes: 150 }] })).status).toBe(201);

    const ready = insertReadyDataset(edge, t.id);
    expect((await post(t.api_key, '/v1/training-jobs', { dataset_id: ready, method: 'coop' })).status).toBe(201);
    const second = await errorOf(await post(t.api_key, '/v1/training-jobs', { dataset_id: ready, method: 'coop' }), 409);
    expect(second.message).toMatch(/concurrent_jobs/);
    expect((await patch(t.id, { quotas: { concurrent_jobs: 2 } })).status).toBe(200);
    expect((await post(t.api_key, '/v1/training-jobs', { dataset_id: ready, method: 'coop' })).status).toBe(201);
  });

  it('concurrent PATCHes of different fields both hold (merged in the UPDATE, not read-modify-write)', async () => {
    const t = await edge.createTenant('Merged');
    const results = await Promise.all([
      patch(t.id, { quotas: { datasets: 7 } }),
      patch(t.id, { quotas: { images: 70 } }),
      patch(t.id, { rate_limit: { requests_per_window: 700 } }),
    ]);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    const after = await me(t.api_key);
    expect(after.quotas).toEqual({ ...DEFAULT_QUOTAS, datasets: 7, images: 70 });
    expect(after.rate_limit).toEqual({ requests_per_window: 700, window_seconds: 60 });
  });
});

describe('PATCH /v1/tenants/{id}: request limit override (Node: enforced exactly)', () => {
  it("the tenant's keys get its limit: the request over it is 429 with X-RateLimit-Limit; other tenants keep the default", async () => {
    const t = await edge.createTenant('Throttled');
    const other = await edge.createTenant('Unthrottled');
    const spare = (await (await post(t.api_key, '/v1/api-keys', {})).json()) as { api_key: string };
    const limit = 3;
    expect((await patch(t.id, { rate_limit: { requests_per_window: limit } })).status).toBe(200);
    expect((await me(t.api_key)).rate_limit).toEqual({ requests_per_window: limit, window_seconds: 60 });
    // The spare key has made no request yet. Fixed one-minute windows: one may end during the loop, so the refusal
    // comes after `limit` and at most 2 × limit requests of the key.
    const statuses: number[] = [];
    let refused: Response | null = null;
    for (let i = 0; i < 2 * limit + 1 && !refused; i++) {
      const res = await edge.fetch('/v1/datasets', { headers: bearer(spare.api_key) });
      statuses.push(res.status);
      expect(res.headers.get('x-ratelimit-limit')).toBe(String(limit));
      if (res.status === 429) refused = res;
    }
    expect(refused, statuses.join()).not.toBeNull();
    expect(statuses.length).toBeGreaterThan(limit);
    expect(((await refused!.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
    const fine = await edge.fetch('/v1/datasets', { headers: bearer(other.api_key) });
    expect(fine.status).toBe(200);
    expect(fine.headers.get('x-ratelimit-limit')).toBe('1000');

    // Removing the override gives the default back.
    expect((await patch(t.id, { rate_limit: { requests_per_window: null } })).status).toBe(200);
    const again = await edge.fetch('/v1/datasets', { headers: bearer(spare.api_key) });
    expect(again.headers.get('x-ratelimit-limit')).toBe('1000');
    expect(again.status).toBe(200);
  });
});

describe('PATCH /v1/tenants/{id}: audit and bad input', () => {
  it('writes tenant.limits_updated (actor admin, data: the changed fields) in the same batch', async () => {
    const t = await edge.createTenant('Audited');
    expect((await patch(t.id, { quotas: { datasets: 4, images: null }, rate_limit: { requests_per_window: 50 } })).status).toBe(200);
    const res = await edge.fetch('/v1/audit-events', { headers: bearer(t.api_key) });
    const events = ((await res.json()) as { data: { action: string; actor: unknown; target: unknown; data?: unknown }[] }).data;
    expect(events[0]).toMatchObject({
      action: 'tenant.limits_updated',
      actor: { type: 'admin', id: null },
      target: { type: 'tenant', id: t.id },
      data: { 'quotas.datasets': 4, 'quotas.images': null, 'rate_limit.requests_per_window': 50 },
    });
  });

  it('out of range, wrong type, unknown field, empty patch: 422 with param; unknown tenant 404; not admin 401; nothing written', async () => {
    const t = await edge.createTenant('Strict');
    expect((await patch(t.id, { quotas: { datasets: 2 } })).status).toBe(200);
    const rows = () => ({
      limits: (edge.db.raw.prepare('SELECT limits FROM tenants WHERE id = ?').get(t.id) as { limits: string }).limits,
      events: (edge.db.raw.prepare('SELECT COUNT(*) AS n FROM audit_events').get() as { n: number }).n,
    });
    const before = rows();
    const cases: [unknown, string | undefined][] = [
      [{ quotas: { datasets: 0 } }, 'quotas.datasets'],
      [{ quotas: { datasets: -5 } }, 'quotas.datasets'],
      [{ quotas: { images: 1.5 } }, 'quotas.images'],
      [{ quotas: { bytes: 2 ** 51 } }, 'quotas.bytes'],
      [{ quotas: { concurrent_jobs: 1001 } }, 'quotas.concurrent_jobs'],
      [{ quotas: { datasets: '3' } }, 'quotas.datasets'],
      [{ quotas: { webhooks: 3 } }, 'quotas.webhooks'],
      [{ rate_limit: { requests_per_window: 0 } }, 'rate_limit.requests_per_window'],
      [{ rate_limit: { requests_per_window: 1_000_001 } }, 'rate_limit.requests_per_window'],
      [{ plan: 'gold' }, 'plan'],
      [{ quotas: [] }, 'quotas'],
      [{}, undefined],
      [{ quotas: {} }, undefined],
    ];
    for (const [body, param] of cases) {
      const err = await errorOf(await patch(t.id, body), 422);
      expect(err.code, JSON.stringify(body)).toBe('validation_failed');
      expect(err.param, JSON.stringify(body)).toBe(param);
    }
    expect((await errorOf(await patch(t.id, '{"quotas":'), 400)).code).toBe('invalid_request');
    const unknown = await errorOf(await patch('ten_0000000000000000000000', { quotas: { datasets: 3 } }), 404);
    expect(unknown).toMatchObject({ code: 'not_found', param: 'id' });
    for (const token of [t.api_key, WORKER_TOKEN, 'nope']) expect((await patch(t.id, { quotas: { datasets: 3 } }, token)).status).toBe(401);
    expect(rows()).toEqual(before);
    expect((await me(t.api_key)).quotas.datasets).toBe(2);
  });
});
