// D1 binds at most 100 parameters per statement (a statement with more fails on Workers with a 500). The edge
// app runs here on real SQLite wrapped so every statement it runs is recorded, with the real S3 store on
// s3rver, through a broad set of flows at their size limits (100-item pages, 100 files per multipart and
// presigned request, a job and an evaluation through the worker API, webhooks, the background tasks);
// then no statement may have bound more than 100 values, and none may read a whole table (EXPLAIN QUERY
// PLAN: lookups and purges stay cheap as tables grow). The real workerd run of the largest case
// (completing 100 presigned uploads in one call) is in workerd.test.ts.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../../edge/app.ts';
import { runBackgroundTasks } from '../../../edge/background.ts';
import { resolveConfig } from '../../../edge/config.ts';
import { MAX_FILES_PER_REQUEST, UPLOAD_TTL_SECONDS } from '../../../edge/datasets/limits.ts';
import { MemoryCache } from '../../../edge/node/memory-cache.ts';
import { MIGRATIONS_DIR } from '../../../edge/node/server.ts';
import { SqliteDatabase } from '../../../edge/node/sqlite-database.ts';
import type { Ports, SqlValue } from '../../../edge/ports.ts';
import { webhookSettings } from '../../../edge/webhooks/settings.ts';
import { S3BlobStore } from '../../../shared/storage/s3-blob-store.ts';
import { ADMIN_TOKEN, WORKER_TOKEN, bearer, jsonHeaders, serveApp } from '../../helpers/edge.ts';
import { RecordingDatabase } from '../../helpers/recording-db.ts';
import { type RunningS3rver, s3Config, startS3rver } from '../../helpers/s3rver.ts';
import { type WebhookReceiver, startReceiver } from '../../helpers/webhook-receiver.ts';

/** D1's limit of bound parameters per statement. */
const D1_MAX_BOUND_PARAMETERS = 100;

let s3: RunningS3rver;
let dir: string;
let sqlite: SqliteDatabase;
let db: RecordingDatabase;
let ports: Ports;
let server: { url: string; close(): Promise<void> };
let rx: WebhookReceiver;
const config = resolveConfig({
  adminToken: ADMIN_TOKEN,
  workerToken: WORKER_TOKEN,
  localMode: true,
  quotas: { datasets: 200 },
  logger: { error: (m, d) => console.error(m, d), warn: () => {} },
});

beforeAll(async () => {
  [s3, rx] = await Promise.all([startS3rver(), startReceiver()]);
  dir = mkdtempSync(join(tmpdir(), 'bind-limit-'));
  sqlite = new SqliteDatabase(join(dir, 'edge.sqlite'));
  sqlite.migrate(MIGRATIONS_DIR);
  db = new RecordingDatabase(sqlite);
  ports = { db, blobs: new S3BlobStore(s3Config(s3.endpoint, s3.bucket)), cache: new MemoryCache() };
  server = await serveApp(createApp(ports, config));
}, 30_000);

afterAll(async () => {
  await server?.close();
  sqlite?.close();
  await Promise.all([s3?.stop(), rx?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const f = (path: string, init?: RequestInit) => fetch(server.url + path, init);
const post = (token: string, path: string, body: unknown) => f(path, { method: 'POST', headers: jsonHeaders(token), body: JSON.stringify(body) });

async function ok<T>(res: Promise<Response> | Response, status = 200): Promise<T> {
  const r = await res;
  const text = await r.text();
  expect(r.status, text.slice(0, 500)).toBe(status);
  return (text && r.headers.get('content-type')?.includes('json') ? JSON.parse(text) : null) as T;
}

const png = async (r: number) => new Uint8Array(await sharp({ create: { width: 9, height: 7, channels: 3, background: { r, g: 40, b: 90 } } }).png().toBuffer());

function form(label: string, files: Uint8Array[]): FormData {
  const fd = new FormData();
  fd.append('label', label);
  for (const [i, bytes] of files.entries()) fd.append('file', new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'image/png' }), `${label}${i}.png`);
  return fd;
}

/** Every flow at its size limits, through HTTP (and the background tasks, directly). */
async function runFlows(): Promise<void> {
  {
    const n = MAX_FILES_PER_REQUEST;
    const t = await ok<{ id: string; api_key: string }>(post(ADMIN_TOKEN, '/v1/tenants', { name: 'Binds' }), 201);
    const key = t.api_key;
    await ok(post(key, '/v1/api-keys', {}), 201);
    await ok(f('/v1/me', { headers: bearer(key) }));
    await ok(f(`/v1/tenants/${t.id}`, { method: 'PATCH', headers: jsonHeaders(ADMIN_TOKEN), body: JSON.stringify({ quotas: { images: 1000 }, rate_limit: { requests_per_window: 5000 } }) }));
    await ok(f('/v1/usage?from=2025-01-01&to=2025-12-31', { headers: bearer(key) }));

    // 101 datasets, then full pages of them (the page's class counts look up 100 datasets at once).
    const ids: string[] = [];
    for (let i = 0; i < 101; i++) ids.push((await ok<{ id: string }>(post(key, '/v1/datasets', { name: `d${i}` }), 201)).id);
    const page = await ok<{ data: unknown[]; has_more: boolean }>(f('/v1/datasets?limit=100', { headers: bearer(key) }));
    expect(page.data).toHaveLength(100);
    expect(page.has_more).toBe(true);
    await ok(f(`/v1/datasets?limit=100&after=${ids[100]}`, { headers: bearer(key) }));

    // 100 files in one multipart request, 100 presigned uploads completed in one call.
    const ds = ids[0];
    const a = await png(10);
    await ok(f(`/v1/datasets/${ds}/images`, { method: 'POST', headers: bearer(key), body: form('a', Array.from({ length: n }, () => a)) }), 201);
    const b = await png(200);
    const { uploads } = await ok<{ uploads: { image_id: string; url: string; headers: Record<string, string> }[] }>(
      post(key, `/v1/datasets/${ds}/uploads`, { files: Array.from({ length: n }, () => ({ label: 'b', content_type: 'image/png', bytes: b.length })) }),
      201,
    );
    for (let i = 0; i < uploads.length; i += 10) {
      await Promise.all(
        uploads.slice(i, i + 10).map(async (u) => {
          const put = await fetch(u.url, { method: 'PUT', headers: u.headers, body: b });
          expect(put.status).toBe(200);
          await put.arrayBuffer();
        }),
      );
    }
    const done = await ok<{ images: unknown[] }>(post(key, `/v1/datasets/${ds}/uploads/complete`, { image_ids: uploads.map((u) => u.image_id) }));
    expect(done.images).toHaveLength(n);
    // 100 more presigned uploads left pending: finalize drops them all.
    await ok(post(key, `/v1/datasets/${ds}/uploads`, { files: Array.from({ length: n }, () => ({ label: 'b', content_type: 'image/png', bytes: 5 })) }), 201);
    expect(await ok<{ image_count: number }>(post(key, `/v1/datasets/${ds}/finalize`, {}))).toMatchObject({ image_count: 2 * n });
    await ok(f(`/v1/datasets/${ds}`, { headers: bearer(key) }));

    // Webhooks, a training job through the worker API, its model, an evaluation.
    const ep = await ok<{ id: string }>(post(key, '/v1/webhook-endpoints', { url: `${rx.url}/hook` }), 201);
    const job = await ok<{ id: string }>(post(key, '/v1/training-jobs', { dataset_id: ds, method: 'coop', hyperparameters: { epochs: 1 } }), 201);
    const lease = await ok<{ lease_id: string; storage: { artifact_key: string }; dataset: { images: unknown[] } }>(
      post(WORKER_TOKEN, '/internal/v1/leases', { worker_id: 'w-binds' }),
    );
    expect(lease.dataset.images).toHaveLength(2 * n);
    await ok(post(WORKER_TOKEN, `/internal/v1/jobs/${job.id}/heartbeat`, { lease_id: lease.lease_id }));
    await ok(post(WORKER_TOKEN, `/internal/v1/jobs/${job.id}/events`, { lease_id: lease.lease_id, level: 'info', type: 'message', message: 'epoch 1' }));
    const artifact = new TextEncoder().encode('adapter');
    await ports.blobs.put(lease.storage.artifact_key, artifact, 'application/octet-stream');
    const completed = await ok<{ model_id: string }>(
      post(WORKER_TOKEN, `/internal/v1/jobs/${job.id}/complete`, {
        lease_id: lease.lease_id,
        artifact: { key: lease.storage.artifact_key, bytes: artifact.length, sha256: createHash('sha256').update(artifact).digest('hex') },
        base_model: config.baseModel,
        classes: ['a', 'b'],
        metrics: { train_loss: 0.1, train_accuracy: 1 },
      }),
    );
    await ok(f(`/v1/training-jobs?limit=100`, { headers: bearer(key) }));
    await ok(f(`/v1/training-jobs/${job.id}`, { headers: bearer(key) }));
    await ok(f(`/v1/training-jobs/${job.id}/events?limit=100`, { headers: bearer(key) }));
    await ok(f(`/v1/models?limit=100`, { headers: bearer(key) }));
    await ok(f(`/v1/models/${completed.model_id}`, { headers: bearer(key) }));
    await ok(f(`/v1/models/${completed.model_id}/artifact`, { headers: bearer(key) }));
    const ev = await ok<{ id: string }>(post(key, '/v1/evaluations', { model: completed.model_id, dataset_id: ds }), 202);
    const evLease = await ok<{ lease_id: string }>(post(WORKER_TOKEN, '/internal/v1/leases', { worker_id: 'w-binds' }));
    await ok(post(WORKER_TOKEN, `/internal/v1/jobs/${ev.id}/fail`, { lease_id: evLease.lease_id, code: 'internal_error', message: 'stopped by the test' }));
    await ok(f(`/v1/evaluations?limit=100`, { headers: bearer(key) }));
    await ok(f(`/v1/evaluations/${ev.id}`, { headers: bearer(key) }));

    // The background tasks (deliveries sent, purges, expiries, sweeps) now and after every expiry.
    const settings = webhookSettings({ localMode: true, retryScheduleSeconds: [0], timeoutMs: 2000 });
    expect((await runBackgroundTasks(ports, config, settings)).errors).toEqual([]);
    const later = new Date(Date.now() + (UPLOAD_TTL_SECONDS + 3600) * 1000 + 400 * 86_400_000);
    expect((await runBackgroundTasks(ports, config, settings, later)).errors).toEqual([]);
    await ok(f(`/v1/webhook-endpoints/${ep.id}/deliveries?limit=100`, { headers: bearer(key) }));
    await ok(f(`/v1/webhook-endpoints?limit=100`, { headers: bearer(key) }));

    // A dataset with 100 images deleted; a model deleted.
    const other = ids[1];
    await ok(f(`/v1/datasets/${other}/images`, { method: 'POST', headers: bearer(key), body: form('a', Array.from({ length: n }, () => a)) }), 201);
    await ok(f(`/v1/datasets/${other}`, { method: 'DELETE', headers: bearer(key) }), 204);
    await ok(f(`/v1/models/${completed.model_id}`, { method: 'DELETE', headers: bearer(key) }), 204);

  }
}

/** Lines of EXPLAIN QUERY PLAN that read a whole table (or a whole index) of the schema. */
function fullScans(sql: string, values: SqlValue[]): string[] {
  const tables = new Set((sqlite.raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
  const plan = sqlite.raw.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...values) as { detail: string }[];
  return plan.map((p) => p.detail).filter((d) => {
    const m = /^SCAN (\w+)/.exec(d);
    return m !== null && tables.has(m[1]);
  });
}

describe('every statement the edge runs through every flow at its size limits', () => {
  beforeAll(runFlows, 120_000);

  it('binds at most 100 parameters (D1)', () => {
    const widest = db.widest().sort((x, y) => y.binds - x.binds);
    expect(widest.length).toBeGreaterThan(40);
    const over = widest.filter((w) => w.binds > D1_MAX_BOUND_PARAMETERS).map((w) => `${w.binds} binds: ${w.sql.replace(/\s+/g, ' ').slice(0, 160)}`);
    expect(over).toEqual([]);
  });

  it('searches an index: no lookup or purge reads a whole table (EXPLAIN QUERY PLAN)', () => {
    const seen = new Map<string, SqlValue[]>();
    for (const r of db.recorded) if (!seen.has(r.sql)) seen.set(r.sql, r.values);
    expect(seen.size).toBeGreaterThan(40);
    const scans = [...seen.entries()].flatMap(([sql, values]) => fullScans(sql, values).map((d) => `${d}  ←  ${sql.replace(/\s+/g, ' ').slice(0, 160)}`));
    expect(scans).toEqual([]);
  });
});
