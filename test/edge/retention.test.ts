// Retention (edge/background.ts): job events, webhook deliveries and their attempts, and the rows of final
// jobs and evaluations are purged once older than the retention (RETENTION_DAYS, default 30); a job whose
// model still exists keeps its row. And every statement the background tasks run is an index search, never
// a scan of a whole table (EXPLAIN QUERY PLAN on real SQLite): purges and lookups stay cheap as tables grow.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackgroundTasks } from '../../edge/background.ts';
import { reconcileBucket } from '../../edge/bucket/reconcile.ts';
import { ConfigError, configFromEnv } from '../../edge/config.ts';
import { newId } from '../../edge/ids.ts';
import { type RunningEdge, startEdge } from '../../edge/node/server.ts';
import type { SqlValue } from '../../edge/ports.ts';
import { webhookSettings } from '../../edge/webhooks/settings.ts';
import { adapterKey, checkpointKey, checkpointPrefix, imageKey, uploadStagingKey } from '../../shared/storage/keys.ts';
import { ADMIN_TOKEN, WORKER_TOKEN } from '../helpers/edge.ts';
import { RecordingDatabase } from '../helpers/recording-db.ts';
import { type RunningS3rver, s3Config, startS3rver } from '../helpers/s3rver.ts';

const DAY = 86_400_000;
let s3: RunningS3rver;
let edge: RunningEdge;
let dataDir: string;
const settings = webhookSettings({ localMode: true, retryScheduleSeconds: [0], timeoutMs: 2000 });

beforeAll(async () => {
  s3 = await startS3rver();
  dataDir = mkdtempSync(join(tmpdir(), 'retention-'));
  edge = await startEdge({
    dataDir,
    port: 0,
    config: { adminToken: ADMIN_TOKEN, workerToken: WORKER_TOKEN, localMode: true, logger: { error: (m, d) => console.error(m, d), warn: () => {} } },
    s3: s3Config(s3.endpoint, s3.bucket),
    ensureBucket: true,
    backgroundIntervalMs: 0,
  });
}, 30_000);

afterAll(async () => {
  await edge?.close();
  await s3?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const raw = () => edge.db.raw;
const count = (sql: string, ...args: unknown[]) => (raw().prepare(sql).get(...args) as { n: number }).n;
const iso = (ms: number) => new Date(ms).toISOString();

function insertJob(o: { tenant: string; status: string; finishedAt: number | null; kind?: 'training' | 'evaluation'; model?: boolean }): string {
  const id = newId(o.kind === 'evaluation' ? 'evaluation' : 'job');
  const created = iso((o.finishedAt ?? Date.now()) - DAY);
  raw()
    .prepare(
      `INSERT INTO training_jobs (id, tenant_id, kind, dataset_id, method, status, hyperparameters, created_at, finished_at)
       VALUES (?, ?, ?, 'ds_x', ?, ?, '{}', ?, ?)`,
    )
    .run(id, o.tenant, o.kind ?? 'training', o.kind === 'evaluation' ? 'zero-shot' : 'coop', o.status, created, o.finishedAt === null ? null : iso(o.finishedAt));
  for (let i = 0; i < 3; i++) {
    raw()
      .prepare("INSERT INTO job_events (id, job_id, tenant_id, created_at, level, type, message) VALUES (?, ?, ?, ?, 'info', 'message', 'm')")
      .run(newId('event'), id, o.tenant, created);
  }
  if (o.model) {
    raw()
      .prepare(
        `INSERT INTO models (id, tenant_id, job_id, method, base_model, classes, metrics, artifact_key, artifact_bytes, artifact_sha256, created_at)
         VALUES (?, ?, ?, 'coop', 'toy-clip', '[]', '{}', 'k', 1, 'x', ?)`,
      )
      .run(newId('model'), o.tenant, id, created);
  }
  return id;
}

function insertDelivery(tenant: string, status: 'pending' | 'succeeded' | 'failed', createdAt: number, nextAttemptAt = createdAt): string {
  const id = newId('webhookMessage');
  raw()
    .prepare(
      `INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_type, payload, status, attempts, next_attempt_at, created_at)
       VALUES (?, ?, 'ep_gone', 'training_job.succeeded', ?, ?, 2, ?, ?)`,
    )
    .run(id, tenant, JSON.stringify({ id }), status, nextAttemptAt, iso(createdAt));
  for (let i = 0; i < 2; i++) {
    raw().prepare('INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, duration_ms) VALUES (?, ?, 500, 3)').run(id, iso(createdAt));
  }
  return id;
}

const jobRow = (id: string) => count('SELECT COUNT(*) AS n FROM training_jobs WHERE id = ?', id);
const events = (id: string) => count('SELECT COUNT(*) AS n FROM job_events WHERE job_id = ?', id);
const delivery = (id: string) => count('SELECT COUNT(*) AS n FROM webhook_deliveries WHERE id = ?', id);
const attempts = (id: string) => count('SELECT COUNT(*) AS n FROM webhook_attempts WHERE delivery_id = ?', id);

describe('retention', () => {
  it('RETENTION_DAYS: default 30, a positive integer', () => {
    const env = { ADMIN_TOKEN, WORKER_TOKEN };
    expect(configFromEnv(env).retentionDays).toBe(30);
    expect(configFromEnv({ ...env, RETENTION_DAYS: '7' }).retentionDays).toBe(7);
    expect(() => configFromEnv({ ...env, RETENTION_DAYS: '0' })).toThrow(ConfigError);
    expect(() => configFromEnv({ ...env, RETENTION_DAYS: 'a week' })).toThrow(ConfigError);
  });

  it('purges events, deliveries, attempts and final jobs older than the retention; keeps the rest', async () => {
    const now = Date.now();
    const t = 'tenant_retention';
    const old = now - 40 * DAY;
    const recent = now - 5 * DAY;
    const withModel = insertJob({ tenant: t, status: 'succeeded', finishedAt: old, model: true });
    const failedOld = insertJob({ tenant: t, status: 'failed', finishedAt: old });
    const cancelledOld = insertJob({ tenant: t, status: 'cancelled', finishedAt: old });
    const evalOld = insertJob({ tenant: t, status: 'succeeded', finishedAt: old, kind: 'evaluation' });
    const failedRecent = insertJob({ tenant: t, status: 'failed', finishedAt: recent });
    const running = insertJob({ tenant: t, status: 'running', finishedAt: null });
    raw().prepare('UPDATE job_events SET created_at = ? WHERE job_id = ?').run(iso(old), running);
    const delOld = insertDelivery(t, 'succeeded', old);
    const delOldFailed = insertDelivery(t, 'failed', old);
    const delOldPending = insertDelivery(t, 'pending', old, now + DAY);
    const delRecent = insertDelivery(t, 'succeeded', recent);

    const s = await runBackgroundTasks(edge.ports, edge.config, settings, new Date(now));
    expect(s.errors).toEqual([]);
    expect(s.retention).toEqual({ jobEvents: 12, jobs: 3, deliveries: 2, attempts: 4 });

    // The job of an existing model keeps its row (models name their job), without its old events.
    expect([jobRow(withModel), events(withModel)]).toEqual([1, 0]);
    for (const id of [failedOld, cancelledOld, evalOld]) expect([jobRow(id), events(id)]).toEqual([0, 0]);
    expect([jobRow(failedRecent), events(failedRecent)]).toEqual([1, 3]);
    expect([jobRow(running), events(running)]).toEqual([1, 3]);
    for (const id of [delOld, delOldFailed]) expect([delivery(id), attempts(id)]).toEqual([0, 0]);
    for (const id of [delOldPending, delRecent]) expect([delivery(id), attempts(id)]).toEqual([1, 2]);

    // A shorter retention reaches the recent ones; a second run finds nothing more.
    const short = { ...edge.config, retentionDays: 3 };
    const s2 = await runBackgroundTasks(edge.ports, short, settings, new Date(now));
    expect(s2.retention).toEqual({ jobEvents: 3, jobs: 1, deliveries: 1, attempts: 2 });
    expect([jobRow(failedRecent), delivery(delRecent)]).toEqual([0, 0]);
    expect((await runBackgroundTasks(edge.ports, short, settings, new Date(now))).retention).toEqual({ jobEvents: 0, jobs: 0, deliveries: 0, attempts: 0 });
    expect([jobRow(withModel), jobRow(running), delivery(delOldPending)]).toEqual([1, 1, 1]);
  });
});

/** Lines of EXPLAIN QUERY PLAN that read a whole table (or a whole index) of the schema. */
function fullScans(sql: string, values: SqlValue[]): string[] {
  const tables = new Set((raw().prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
  const plan = raw().prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...values) as { detail: string }[];
  return plan.map((p) => p.detail).filter((d) => {
    const m = /^SCAN (\w+)/.exec(d);
    return m !== null && tables.has(m[1]);
  });
}

describe('every statement of the background tasks searches an index', () => {
  it('EXPLAIN QUERY PLAN of each statement of a run with work in every task shows no full scan', async () => {
    const now = Date.now();
    const t = 'tenant_plans';
    insertJob({ tenant: t, status: 'failed', finishedAt: now - 60 * DAY });
    insertJob({ tenant: t, status: 'succeeded', finishedAt: now - 60 * DAY, model: true });
    insertDelivery(t, 'succeeded', now - 60 * DAY);
    insertDelivery(t, 'pending', now - 1000, now - 1000);
    raw().prepare("INSERT INTO idempotency_keys (tenant_id, key, route, request_hash, status, body, created_at) VALUES (?, 'k', 'POST /x', 'h', 201, '{}', ?)").run(t, now - 2 * DAY);
    raw().prepare('INSERT INTO rate_windows (key_id, window_start, count) VALUES (?, ?, 1)').run('k_plans', now - 2 * DAY);
    raw().prepare('INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)').run(t, 'plans', iso(now));
    raw().prepare("INSERT INTO datasets (id, tenant_id, name, status, created_at) VALUES ('ds_plans', ?, 'p', 'open', ?)").run(t, iso(now));
    raw()
      .prepare(
        `INSERT INTO images (id, tenant_id, dataset_id, label, object_key, content_type, bytes, status, expires_at, created_at)
         VALUES ('img_plans', ?, 'ds_plans', 'a', 'tenants/tenant_plans/datasets/ds_plans/images/img_plans.png', 'image/png', 3, 'pending', ?, ?)`,
      )
      .run(t, iso(now - 1000), iso(now - DAY));

    const db = new RecordingDatabase(edge.db);
    const s = await runBackgroundTasks({ ...edge.ports, db }, edge.config, settings, new Date(now), {
      fetchImpl: async () => new Response(null, { status: 200 }),
    });
    expect(s.errors).toEqual([]);

    const seen = new Map<string, SqlValue[]>();
    for (const r of db.recorded) if (!seen.has(r.sql)) seen.set(r.sql, r.values);
    expect(seen.size).toBeGreaterThanOrEqual(8);
    const scans = [...seen.entries()].flatMap(([sql, values]) => fullScans(sql, values).map((d) => `${d}  ←  ${sql.replace(/\s+/g, ' ').slice(0, 140)}`));
    expect(scans).toEqual([]);
    expect(s.idempotencyKeysPurged + s.rateWindowsPurged + s.uploadsExpired).toBeGreaterThanOrEqual(3);
    expect(s.retention.jobs + s.retention.deliveries).toBeGreaterThanOrEqual(2);
  });

  it('and so does each statement of the bucket reconciliation (edge/bucket/reconcile.ts) on a page of every key kind', async () => {
    const now = Date.now();
    const t = 'tenant_plans';
    const job = insertJob({ tenant: t, status: 'running', finishedAt: null });
    const keys = [
      imageKey(t, 'ds_plans', 'img_plans', 'png'),
      imageKey(t, 'ds_plans', 'img_orphan', 'png'),
      uploadStagingKey(t, 'ds_plans', 'img_plans', 'png'),
      checkpointKey(checkpointPrefix(t, job, 1), 1),
      adapterKey(t, `mdl_${job.slice(4)}`, 1),
      `tenants/${t}/unknown.txt`,
    ];
    for (const k of keys) await edge.ports.blobs.put(k, new Uint8Array([1]), 'application/octet-stream');
    const db = new RecordingDatabase(edge.db);
    const run = await reconcileBucket({ ...edge.ports, db }, new Date(now + 2 * DAY), { graceMs: DAY, retentionDays: 30 });
    expect(run!.listed).toBeGreaterThanOrEqual(keys.length);
    expect(run!.deleted).toContain(keys[1]);

    const seen = new Map<string, SqlValue[]>();
    for (const r of db.recorded) if (!seen.has(r.sql)) seen.set(r.sql, r.values);
    // the claim, five lookups (sweep records, image keys, uploads, jobs, models), the cursor, the report and its purge
    expect(seen.size).toBe(9);
    const scans = [...seen.entries()].flatMap(([sql, values]) => fullScans(sql, values).map((d) => `${d}  ←  ${sql.replace(/\s+/g, ' ').slice(0, 140)}`));
    expect(scans).toEqual([]);
  });
});
