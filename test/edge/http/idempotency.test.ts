// Idempotency-Key (edge/http/idempotency.ts) on the edge over real HTTP and real SQLite: the key is recorded
// in the same batch as the resource it protects, so a request that fails or dies right after that commit is
// answered on retry with what it created; a claim whose request died before committing lapses after the lock
// time; responses that carry a secret are never stored with it.
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../../edge/crypto.ts';
import { IDEMPOTENCY_LOCK_MS } from '../../../edge/http/idempotency.ts';
import { ADMIN_TOKEN, type TestEdge, bearer, jsonHeaders, startTestEdge } from '../../helpers/edge.ts';
import { count, insertReadyDataset } from '../../helpers/jobs.ts';
import { CrashAfterCommit, type CrashMode } from '../../helpers/sql-faults.ts';

let edge: TestEdge;
afterEach(async () => {
  await edge?.close();
});

type Job = { id: string; status: string; dataset_id: string };

async function setup() {
  edge = await startTestEdge();
  const t = await edge.createTenant('Idem');
  return { ...t, datasetId: insertReadyDataset(edge, t.id) };
}

const postJob = (key: string, datasetId: string, idemKey: string, signal?: AbortSignal) =>
  edge.fetch('/v1/training-jobs', {
    method: 'POST',
    headers: jsonHeaders(key, { 'Idempotency-Key': idemKey }),
    body: JSON.stringify({ dataset_id: datasetId, method: 'cocoop' }),
    signal,
  });

const jobs = (tenantId: string) => count(edge, "SELECT COUNT(*) AS n FROM training_jobs WHERE tenant_id = ? AND kind = 'training'", tenantId);

/** Makes the edge's database crash the next job-creating batch right after it commits. */
function crashNextJobCommit(mode: CrashMode): CrashAfterCommit {
  const fault = new CrashAfterCommit(edge.ports.db, /INSERT INTO training_jobs/, mode);
  edge.ports.db = fault;
  return fault;
}

describe('a request that fails or dies after its commit', () => {
  it('an exception right after the job was committed: the retry with the same key returns that job, not 409 and not a second job', async () => {
    const t = await setup();
    crashNextJobCommit('throw');
    const first = await postJob(t.api_key, t.datasetId, 'after-commit-throw');
    expect(first.status).toBe(500);
    expect(jobs(t.id)).toBe(1);
    const created = edge.db.raw.prepare('SELECT id FROM training_jobs WHERE tenant_id = ?').get(t.id) as { id: string };

    const retry = await postJob(t.api_key, t.datasetId, 'after-commit-throw');
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    const job = (await retry.json()) as Job;
    expect(job).toMatchObject({ id: created.id, status: 'queued', dataset_id: t.datasetId });
    expect(jobs(t.id)).toBe(1);

    // And again: the same answer.
    const again = (await (await postJob(t.api_key, t.datasetId, 'after-commit-throw')).json()) as Job;
    expect(again).toEqual(job);
  });

  it('a request that died after the commit (never answered): the retry returns the job at once, not 409 for 24 h', async () => {
    const t = await setup();
    const fault = crashNextJobCommit('hang');
    const abort = new AbortController();
    const first = postJob(t.api_key, t.datasetId, 'after-commit-death', abort.signal).catch((err: unknown) => err);
    await fault.committed;
    abort.abort();
    expect(await first).toBeInstanceOf(Error);
    expect(jobs(t.id)).toBe(1);
    const created = edge.db.raw.prepare('SELECT id FROM training_jobs WHERE tenant_id = ?').get(t.id) as { id: string };

    const retry = await postJob(t.api_key, t.datasetId, 'after-commit-death');
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(((await retry.json()) as Job).id).toBe(created.id);
    expect(jobs(t.id)).toBe(1);
  });

  it('a claim whose request died before committing lapses after the lock time: the retry creates the job once', async () => {
    const t = await setup();
    const keyId = (edge.db.raw.prepare('SELECT id FROM api_keys WHERE tenant_id = ?').get(t.id) as { id: string }).id;
    const scope = `${t.id}/${keyId}`;
    // What a request that died between its claim and its commit leaves behind: a pending claim.
    const hash = await sha256Hex(JSON.stringify({ dataset_id: t.datasetId, method: 'cocoop' }));
    const claimedAt = Date.now() - IDEMPOTENCY_LOCK_MS - 1;
    edge.db.raw
      .prepare("INSERT INTO idempotency_keys (tenant_id, key, route, request_hash, status, body, created_at) VALUES (?, 'died', 'POST /v1/training-jobs', ?, 0, '', ?)")
      .run(scope, hash, claimedAt);

    const retry = await postJob(t.api_key, t.datasetId, 'died');
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    const job = (await retry.json()) as Job;
    expect(jobs(t.id)).toBe(1);
    const replay = await postJob(t.api_key, t.datasetId, 'died');
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(((await replay.json()) as Job).id).toBe(job.id);
    expect(jobs(t.id)).toBe(1);
  });

  it('a claim still inside its lock time is 409 (a concurrent duplicate), with Retry-After', async () => {
    const t = await setup();
    const keyId = (edge.db.raw.prepare('SELECT id FROM api_keys WHERE tenant_id = ?').get(t.id) as { id: string }).id;
    const hash = await sha256Hex(JSON.stringify({ dataset_id: t.datasetId, method: 'cocoop' }));
    edge.db.raw
      .prepare("INSERT INTO idempotency_keys (tenant_id, key, route, request_hash, status, body, created_at) VALUES (?, 'busy', 'POST /v1/training-jobs', ?, 0, '', ?)")
      .run(`${t.id}/${keyId}`, hash, Date.now());
    const res = await postJob(t.api_key, t.datasetId, 'busy');
    expect(res.status).toBe(409);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(jobs(t.id)).toBe(0);
  });

  it('an error answered before the commit (4xx) still frees the key for a corrected retry', async () => {
    const t = await setup();
    const bad = await edge.fetch('/v1/training-jobs', {
      method: 'POST',
      headers: jsonHeaders(t.api_key, { 'Idempotency-Key': 'fix-me' }),
      body: JSON.stringify({ dataset_id: 'ds_missing', method: 'cocoop' }),
    });
    expect(bad.status).toBe(404);
    const good = await edge.fetch('/v1/training-jobs', {
      method: 'POST',
      headers: jsonHeaders(t.api_key, { 'Idempotency-Key': 'fix-me' }),
      body: JSON.stringify({ dataset_id: 'ds_missing', method: 'cocoop' }),
    });
    expect(good.status).toBe(404); // same request, same answer: nothing was stored for it
    expect(count(edge, 'SELECT COUNT(*) AS n FROM idempotency_keys WHERE key = ?', 'fix-me')).toBe(0);
  });
});

/** Every byte SQLite wrote for the edge (database file and its write-ahead log). */
function databaseBytes(): string {
  edge.db.raw.pragma('wal_checkpoint(TRUNCATE)');
  return ['edge.sqlite', 'edge.sqlite-wal']
    .map((f) => join(edge.dataDir, f))
    .filter((p) => existsSync(p))
    .map((p) => readFileSync(p).toString('latin1'))
    .join('\n');
}

describe('secrets in idempotency records', () => {
  it('tenant creation and POST /v1/api-keys with a key: no API key is anywhere in the database file; a replay names the id and says the key is not stored', async () => {
    edge = await startTestEdge();
    const tenantRes = await edge.fetch('/v1/tenants', {
      method: 'POST',
      headers: jsonHeaders(ADMIN_TOKEN, { 'Idempotency-Key': 'tenant-1' }),
      body: JSON.stringify({ name: 'Secretive' }),
    });
    expect(tenantRes.status).toBe(201);
    const tenant = (await tenantRes.json()) as { id: string; name: string; api_key: string };
    const keyRes = await edge.fetch('/v1/api-keys', { method: 'POST', headers: bearer(tenant.api_key, { 'Idempotency-Key': 'key-1' }) });
    expect(keyRes.status).toBe(201);
    const key = (await keyRes.json()) as { id: string; api_key: string };

    const bytes = databaseBytes();
    expect(bytes.includes(tenant.api_key)).toBe(false);
    expect(bytes.includes(key.api_key)).toBe(false);
    expect(bytes.includes(tenant.api_key.slice(8))).toBe(false); // not even the random part

    const tenantReplay = await edge.fetch('/v1/tenants', {
      method: 'POST',
      headers: jsonHeaders(ADMIN_TOKEN, { 'Idempotency-Key': 'tenant-1' }),
      body: JSON.stringify({ name: 'Secretive' }),
    });
    expect(tenantReplay.status).toBe(201);
    expect(tenantReplay.headers.get('idempotent-replayed')).toBe('true');
    const replayed = (await tenantReplay.json()) as Record<string, unknown>;
    expect(replayed).toMatchObject({ id: tenant.id, name: 'Secretive', api_key: null });
    expect(replayed.note).toMatch(/shown only once/);

    const keyReplay = (await (await edge.fetch('/v1/api-keys', { method: 'POST', headers: bearer(tenant.api_key, { 'Idempotency-Key': 'key-1' }) })).json()) as Record<string, unknown>;
    expect(keyReplay).toMatchObject({ id: key.id, api_key: null });
    expect(keyReplay.note).toMatch(new RegExp(`revoke ${key.id}`));
    expect(count(edge, 'SELECT COUNT(*) AS n FROM api_keys WHERE tenant_id = ?', tenant.id)).toBe(2);
  });

  it('webhook endpoint creation with a key: the secret is in no idempotency record; a replay names the endpoint and says to rotate', async () => {
    edge = await startTestEdge({ localMode: true });
    const t = await edge.createTenant('Hooks');
    const post = () =>
      edge.fetch('/v1/webhook-endpoints', {
        method: 'POST',
        headers: jsonHeaders(t.api_key, { 'Idempotency-Key': 'hook-1' }),
        body: JSON.stringify({ url: 'http://127.0.0.1:9/hook' }),
      });
    const res = await post();
    expect(res.status).toBe(201);
    const created = (await res.json()) as { id: string; secret: string };
    const stored = edge.db.raw.prepare('SELECT body FROM idempotency_keys').all() as { body: string }[];
    expect(stored.length).toBeGreaterThan(0);
    for (const row of stored) expect(row.body.includes(created.secret.slice('whsec_'.length))).toBe(false);
    // The endpoint's own row keeps the secret (HMAC signing needs it): the one place it is stored.
    const bytes = databaseBytes();
    expect(bytes.split(created.secret.slice('whsec_'.length)).length - 1).toBeLessThanOrEqual(1);

    const replay = await post();
    expect(replay.status).toBe(201);
    const body = (await replay.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ id: created.id, secret: null });
    expect(body.note).toMatch(/rotate-secret/);
  });
});
