// Tenants and API keys over real HTTP with real SQLite: creation (admin only), /v1/me, key creation and
// revocation, tenant isolation, hashed storage, idempotent creation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { ADMIN_TOKEN, WORKER_TOKEN, type TestEdge, bearer, jsonHeaders, startTestEdge } from '../../helpers/edge.ts';

let edge: TestEdge;
beforeAll(async () => {
  edge = await startTestEdge();
});
afterAll(async () => {
  await edge?.close();
});

async function errorOf(res: Response): Promise<{ code: string; message: string; param?: string }> {
  const body = (await res.json()) as { error: { code: string; message: string; param?: string } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(typeof body.error.message).toBe('string');
  expect(body.error.message.length).toBeGreaterThan(10);
  return body.error;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('POST /v1/tenants', () => {
  it('creates a tenant with a first key (admin token), 201 {id, name, api_key}', async () => {
    const res = await edge.fetch('/v1/tenants', {
      method: 'POST',
      headers: jsonHeaders(ADMIN_TOKEN),
      body: JSON.stringify({ name: '  Acme Inc.  ' }),
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as Record<string, string>;
    expect(Object.keys(body).sort()).toEqual(['api_key', 'id', 'name']);
    expect(body.id).toMatch(/^ten_[0-9a-z]{21}$/);
    expect(body.name).toBe('Acme Inc.');
    expect(body.api_key).toMatch(/^ck_live_[0-9A-Za-z]{32}$/);

    const me = await edge.fetch('/v1/me', { headers: bearer(body.api_key) });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { id: string }).id).toBe(body.id);
  });

  it('stores only the hash of the key (and a display prefix), never the key', async () => {
    const t = await edge.createTenant('Hashed');
    const rows = edge.db.raw.prepare('SELECT * FROM api_keys WHERE tenant_id = ?').all(t.id) as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    expect(rows[0].key_hash).toBe(sha256(t.api_key));
    expect(rows[0].prefix).toBe(t.api_key.slice(0, 12));
    // The secret appears in no column of any table.
    const secretPart = t.api_key.slice(12);
    const tables = (edge.db.raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name);
    for (const table of tables) {
      const dump = JSON.stringify(edge.db.raw.prepare(`SELECT * FROM "${table}"`).all());
      expect(dump.includes(secretPart), `table ${table}`).toBe(false);
    }
  });

  it('refuses tenant keys, the worker token, a wrong token and no token (401)', async () => {
    const t = await edge.createTenant('NotAdmin');
    const before = (edge.db.raw.prepare('SELECT COUNT(*) AS n FROM tenants').get() as { n: number }).n;
    for (const headers of [
      jsonHeaders(t.api_key),
      jsonHeaders(WORKER_TOKEN),
      jsonHeaders(ADMIN_TOKEN + 'x'),
      jsonHeaders(ADMIN_TOKEN.slice(0, -1)),
      { 'content-type': 'application/json' },
    ]) {
      const res = await edge.fetch('/v1/tenants', { method: 'POST', headers, body: JSON.stringify({ name: 'Sneaky' }) });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect((await errorOf(res)).code).toBe('unauthorized');
    }
    const after = (edge.db.raw.prepare('SELECT COUNT(*) AS n FROM tenants').get() as { n: number }).n;
    expect(after).toBe(before);
  });

  it('validates the body: 422 for unknown fields, wrong types and empty names; 400 for malformed JSON', async () => {
    const post = (body: string, headers = jsonHeaders(ADMIN_TOKEN)) => edge.fetch('/v1/tenants', { method: 'POST', headers, body });

    let res = await post(JSON.stringify({ name: 'A', plan: 'gold' }));
    expect(res.status).toBe(422);
    let err = await errorOf(res);
    expect(err).toMatchObject({ code: 'validation_failed', param: 'plan' });
    expect(err.message).toMatch(/unknown field "plan"/i);

    res = await post(JSON.stringify({ name: 42 }));
    expect(res.status).toBe(422);
    err = await errorOf(res);
    expect(err).toMatchObject({ code: 'validation_failed', param: 'name' });
    expect(err.message).toMatch(/must be a string/);

    for (const name of ['', '   ']) {
      res = await post(JSON.stringify({ name }));
      expect(res.status).toBe(422);
      err = await errorOf(res);
      expect(err).toMatchObject({ code: 'validation_failed', param: 'name' });
      expect(err.message).toMatch(/must not be empty/);
    }

    res = await post(JSON.stringify({ name: 'x'.repeat(201) }));
    expect(res.status).toBe(422);
    expect((await errorOf(res)).message).toMatch(/at most 200 characters/);

    res = await post(JSON.stringify({}));
    expect(res.status).toBe(422);
    err = await errorOf(res);
    expect(err).toMatchObject({ param: 'name' });
    expect(err.message).toMatch(/required/);

    res = await post(JSON.stringify(['name']));
    expect(res.status).toBe(422);
    expect((await errorOf(res)).message).toMatch(/must be a JSON object/);

    for (const bad of ['{"name": "A"', "{'name': 'A'}", 'name=A', '{"name": "A"} x']) {
      res = await post(bad);
      expect(res.status, bad).toBe(400);
      err = await errorOf(res);
      expect(err.code).toBe('invalid_request');
      expect(err.message).toMatch(/not valid JSON/);
    }

    res = await post('');
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe('invalid_request');
  });

  it('rejects a non-JSON content type with 415 and a missing body with 422', async () => {
    for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const res = await edge.fetch('/v1/tenants', {
        method: 'POST',
        headers: { ...bearer(ADMIN_TOKEN), 'content-type': ct },
        body: JSON.stringify({ name: 'A' }),
      });
      expect(res.status, ct).toBe(415);
      const err = await errorOf(res);
      expect(err.code).toBe('unsupported_media_type');
      expect(err.message).toMatch(/application\/json/);
    }
    const res = await edge.fetch('/v1/tenants', { method: 'POST', headers: bearer(ADMIN_TOKEN) });
    expect(res.status).toBe(422);
    expect(await errorOf(res)).toMatchObject({ code: 'validation_failed', param: 'name' });
  });
});

describe('GET /v1/me', () => {
  it('returns the tenant with default quotas and usage counted from the tables', async () => {
    const t = await edge.createTenant('Counted');
    let res = await edge.fetch('/v1/me', { headers: bearer(t.api_key) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      id: t.id,
      name: 'Counted',
      quotas: { datasets: 50, images: 20000, bytes: 2 * 1024 ** 3, concurrent_jobs: 2 },
      rate_limit: { requests_per_window: 600, window_seconds: 60 },
      usage: { datasets: 0, images: 0, bytes: 0, concurrent_jobs: 0 },
    });

    // Rows of this tenant count; rows of another tenant do not.
    const other = await edge.createTenant('Other');
    const now = new Date().toISOString();
    const db = edge.db.raw;
    for (const [tenant, ds] of [
      [t.id, 'ds_a'],
      [t.id, 'ds_b'],
      [other.id, 'ds_c'],
    ]) {
      db.prepare("INSERT INTO datasets (id, tenant_id, name, status, created_at) VALUES (?, ?, 'd', 'open', ?)").run(ds, tenant, now);
    }
    const img = db.prepare(
      "INSERT INTO images (id, tenant_id, dataset_id, label, object_key, content_type, bytes, status, created_at) VALUES (?, ?, ?, 'cat', 'k', 'image/png', ?, 'stored', ?)",
    );
    img.run('img_1', t.id, 'ds_a', 1000, now);
    img.run('img_2', t.id, 'ds_b', 234, now);
    img.run('img_3', other.id, 'ds_c', 99999, now);
    const job = db.prepare(
      "INSERT INTO training_jobs (id, tenant_id, dataset_id, method, status, hyperparameters, created_at) VALUES (?, ?, 'ds_a', 'cocoop', ?, '{}', ?)",
    );
    job.run('job_1', t.id, 'queued', now);
    job.run('job_2', t.id, 'succeeded', now);
    job.run('job_3', other.id, 'running', now);
    db.prepare(
      "INSERT INTO models (id, tenant_id, job_id, method, base_model, classes, metrics, artifact_key, artifact_bytes, artifact_sha256, created_at) VALUES ('mdl_1', ?, 'job_2', 'cocoop', 'toy', '[]', '{}', 'k', 500, 'h', ?)",
    ).run(t.id, now);

    res = await edge.fetch('/v1/me', { headers: bearer(t.api_key) });
    expect(((await res.json()) as { usage: unknown }).usage).toEqual({ datasets: 2, images: 2, bytes: 1734, concurrent_jobs: 1 });
  });

  it('401 without a key, with a malformed header, an unknown key, or the admin token', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{}, /Missing API key/],
      [{ authorization: 'Basic Zm9vOmJhcg==' }, /Malformed Authorization/],
      [{ authorization: 'Bearer' }, /Malformed Authorization|Missing/],
      [bearer('ck_live_' + 'A'.repeat(32)), /no key matches/],
      [bearer('not-a-key'), /Invalid API key/],
      [bearer(ADMIN_TOKEN), /tenant API key/],
    ];
    for (const [headers, message] of cases) {
      const res = await edge.fetch('/v1/me', { headers });
      expect(res.status, JSON.stringify(headers)).toBe(401);
      const err = await errorOf(res);
      expect(err.code).toBe('unauthorized');
      expect(err.message).toMatch(message);
    }
  });
});

describe('API keys', () => {
  it('POST /v1/api-keys creates a working second key; DELETE revokes it at once', async () => {
    const t = await edge.createTenant('Keys');
    const res = await edge.fetch('/v1/api-keys', { method: 'POST', headers: bearer(t.api_key) });
    expect(res.status).toBe(201);
    const created = (await res.json()) as { id: string; api_key: string };
    expect(Object.keys(created).sort()).toEqual(['api_key', 'expires_at', 'id']);
    expect(created.id).toMatch(/^key_[0-9a-z]{21}$/);
    expect(created.api_key).toMatch(/^ck_live_[0-9A-Za-z]{32}$/);
    expect(created.api_key).not.toBe(t.api_key);

    expect((await edge.fetch('/v1/me', { headers: bearer(created.api_key) })).status).toBe(200);

    const del = await edge.fetch(`/v1/api-keys/${created.id}`, { method: 'DELETE', headers: bearer(t.api_key) });
    expect(del.status).toBe(204);
    expect(await del.text()).toBe('');

    const after = await edge.fetch('/v1/me', { headers: bearer(created.api_key) });
    expect(after.status).toBe(401);
    expect((await errorOf(after)).message).toMatch(/revoked/);
    // The other key is unaffected.
    expect((await edge.fetch('/v1/me', { headers: bearer(t.api_key) })).status).toBe(200);

    // Revoking again: the key is gone.
    const again = await edge.fetch(`/v1/api-keys/${created.id}`, { method: 'DELETE', headers: bearer(t.api_key) });
    expect(again.status).toBe(404);
  });

  it('a key may revoke itself (the next request with it is 401)', async () => {
    const t = await edge.createTenant('SelfRevoke');
    const keyId = (edge.db.raw.prepare('SELECT id FROM api_keys WHERE tenant_id = ?').get(t.id) as { id: string }).id;
    const del = await edge.fetch(`/v1/api-keys/${keyId}`, { method: 'DELETE', headers: bearer(t.api_key) });
    expect(del.status).toBe(204);
    expect((await edge.fetch('/v1/me', { headers: bearer(t.api_key) })).status).toBe(401);
  });

  it('404 for an unknown key id and for another tenant’s key id, which keeps working', async () => {
    const a = await edge.createTenant('A');
    const b = await edge.createTenant('B');
    const aKeyId = (edge.db.raw.prepare('SELECT id FROM api_keys WHERE tenant_id = ?').get(a.id) as { id: string }).id;

    let res = await edge.fetch('/v1/api-keys/key_doesnotexist', { method: 'DELETE', headers: bearer(b.api_key) });
    expect(res.status).toBe(404);
    expect(await errorOf(res)).toMatchObject({ code: 'not_found', param: 'id' });

    res = await edge.fetch(`/v1/api-keys/${aKeyId}`, { method: 'DELETE', headers: bearer(b.api_key) });
    expect(res.status).toBe(404);
    const err = await errorOf(res);
    expect(err.code).toBe('not_found');
    expect(err.message).not.toMatch(/another tenant|forbidden/i);

    const me = await edge.fetch('/v1/me', { headers: bearer(a.api_key) });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { id: string }).id).toBe(a.id);
    expect((edge.db.raw.prepare('SELECT revoked_at FROM api_keys WHERE id = ?').get(aKeyId) as { revoked_at: unknown }).revoked_at).toBeNull();
  });

  it('a tenant key cannot create tenants, and admin/worker tokens cannot create keys', async () => {
    for (const token of [ADMIN_TOKEN, WORKER_TOKEN]) {
      const res = await edge.fetch('/v1/api-keys', { method: 'POST', headers: bearer(token) });
      expect(res.status).toBe(401);
    }
  });
});

describe('Idempotency-Key', () => {
  it('replays tenant creation for the same key and body, creates nothing; 409 for another body', async () => {
    const count = () => (edge.db.raw.prepare('SELECT COUNT(*) AS n FROM tenants').get() as { n: number }).n;
    const post = (body: unknown, key: string) =>
      edge.fetch('/v1/tenants', { method: 'POST', headers: jsonHeaders(ADMIN_TOKEN, { 'Idempotency-Key': key }), body: JSON.stringify(body) });

    const before = count();
    const first = await post({ name: 'Once' }, 'create-once-1');
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const firstBody = await first.json();
    expect(count()).toBe(before + 1);

    const second = await post({ name: 'Once' }, 'create-once-1');
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.headers.get('content-type')).toMatch(/application\/json/);
    // The key is shown once and never stored: the replay has the tenant, api_key null and a note.
    const { api_key: _key, ...tenant } = firstBody as { id: string; name: string; api_key: string };
    expect(await second.json()).toEqual({ ...tenant, api_key: null, note: expect.stringMatching(/shown only once/) });
    expect(count()).toBe(before + 1);

    const different = await post({ name: 'Twice' }, 'create-once-1');
    expect(different.status).toBe(409);
    expect(await errorOf(different)).toMatchObject({ code: 'conflict', param: 'Idempotency-Key' });
    expect(count()).toBe(before + 1);

    // Another key creates another tenant.
    const other = await post({ name: 'Once' }, 'create-once-2');
    expect(other.status).toBe(201);
    expect(((await other.json()) as { id: string }).id).not.toBe((firstBody as { id: string }).id);
    expect(count()).toBe(before + 2);
  });

  it('a failed request does not use up the key; the corrected retry creates', async () => {
    const headers = jsonHeaders(ADMIN_TOKEN, { 'Idempotency-Key': 'fix-and-retry' });
    const bad = await edge.fetch('/v1/tenants', { method: 'POST', headers, body: JSON.stringify({ name: '' }) });
    expect(bad.status).toBe(422);
    const good = await edge.fetch('/v1/tenants', { method: 'POST', headers, body: JSON.stringify({ name: 'Fixed' }) });
    expect(good.status).toBe(201);
    expect(good.headers.get('idempotent-replayed')).toBeNull();
  });

  it('replays key creation per tenant: same key name in two tenants creates two keys', async () => {
    const a = await edge.createTenant('IdemA');
    const b = await edge.createTenant('IdemB');
    const keys = (tenantId: string) => (edge.db.raw.prepare('SELECT COUNT(*) AS n FROM api_keys WHERE tenant_id = ?').get(tenantId) as { n: number }).n;

    const r1 = await edge.fetch('/v1/api-keys', { method: 'POST', headers: bearer(a.api_key, { 'Idempotency-Key': 'k1' }) });
    const r2 = await edge.fetch('/v1/api-keys', { method: 'POST', headers: bearer(a.api_key, { 'Idempotency-Key': 'k1' }) });
    expect(r1.status).toBe(201);
    expect(r2.status).toBe(201);
    const created = (await r1.json()) as { id: string; api_key: string };
    expect(await r2.json()).toEqual({ id: created.id, api_key: null, expires_at: null, note: expect.stringMatching(/not stored/) });
    expect(keys(a.id)).toBe(2);

    const r3 = await edge.fetch('/v1/api-keys', { method: 'POST', headers: bearer(b.api_key, { 'Idempotency-Key': 'k1' }) });
    expect(r3.status).toBe(201);
    expect(r3.headers.get('idempotent-replayed')).toBeNull();
    expect(keys(b.id)).toBe(2);

    // Same key on a different route is a different request: 409.
    const r4 = await edge.fetch('/v1/tenants', {
      method: 'POST',
      headers: jsonHeaders(ADMIN_TOKEN, { 'Idempotency-Key': 'k1' }),
      body: JSON.stringify({ name: 'X' }),
    });
    expect(r4.status).toBe(201); // the admin has its own key scope
  });

  it('entries older than 24 h are ignored: the key creates again', async () => {
    const a = await edge.createTenant('Expiry');
    const h = bearer(a.api_key, { 'Idempotency-Key': 'old-key' });
    const first = (await (await edge.fetch('/v1/api-keys', { method: 'POST', headers: h })).json()) as { id: string };
    // Scope = "<tenant id>/<api key id>" (edge/http/idempotency.ts).
    edge.db.raw.prepare('UPDATE idempotency_keys SET created_at = ? WHERE tenant_id LIKE ? AND key = ?').run(Date.now() - 24 * 3600_000 - 1, `${a.id}/%`, 'old-key');
    const second = await edge.fetch('/v1/api-keys', { method: 'POST', headers: h });
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBeNull();
    expect(((await second.json()) as { id: string }).id).not.toBe(first.id);
  });

  it('concurrent duplicates create exactly one resource (the others replay or get 409)', async () => {
    const a = await edge.createTenant('Concurrent');
    const keys = () => (edge.db.raw.prepare('SELECT COUNT(*) AS n FROM api_keys WHERE tenant_id = ?').get(a.id) as { n: number }).n;
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => edge.fetch('/v1/api-keys', { method: 'POST', headers: bearer(a.api_key, { 'Idempotency-Key': 'race' }) })),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.every((s) => s === 201 || s === 409), statuses.join()).toBe(true);
    const bodies = await Promise.all(responses.filter((r) => r.status === 201).map((r) => r.json() as Promise<{ id: string }>));
    expect(new Set(bodies.map((b) => b.id)).size).toBe(1);
    expect(keys()).toBe(2); // the first key + exactly one created
  });

  it('a key still being processed is 409; a malformed key is 400', async () => {
    const a = await edge.createTenant('Pending');
    const keyId = (edge.db.raw.prepare('SELECT id FROM api_keys WHERE tenant_id = ?').get(a.id) as { id: string }).id;
    edge.db.raw
      .prepare("INSERT INTO idempotency_keys (tenant_id, key, route, request_hash, status, body, created_at) VALUES (?, 'busy', 'POST /v1/api-keys', 'h', 0, '', ?)")
      .run(`${a.id}/${keyId}`, Date.now());
    const res = await edge.fetch('/v1/api-keys', { method: 'POST', headers: bearer(a.api_key, { 'Idempotency-Key': 'busy' }) });
    expect(res.status).toBe(409);
    expect((await errorOf(res)).message).toMatch(/still being processed/);

    const bad = await edge.fetch('/v1/api-keys', { method: 'POST', headers: bearer(a.api_key, { 'Idempotency-Key': 'x'.repeat(300) }) });
    expect(bad.status).toBe(400);
    expect(await errorOf(bad)).toMatchObject({ code: 'invalid_request', param: 'Idempotency-Key' });
  });
});
