// The bucket reconciliation by listing (edge/bucket/reconcile.ts, run by edge/background.ts) on the edge on Node with
// real SQLite and the real S3 store on s3rver. The bucket holds objects of every kind that rows refer to, orphans of
// every kind (a failed request's image, a leftover staging copy, checkpoints and adapters of superseded attempts, of
// ended, missing and other tenants' jobs, of a deleted model), keys of unknown shape, a fresh orphan inside the grace
// period and an object outside tenants/. The clock is injected (`now`); objects are made old by setting the
// LastModified s3rver reports (the fixture checks the listing), never by waiting. Exactly the orphans past the grace
// period go; everything referred to stays; the report (summary, log line, bucket_reconciliations row) names them; the
// cursor covers a bucket larger than one page across runs.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runBackgroundTasks } from '../../../edge/background.ts';
import { RECONCILE_INTERVAL_MS, RECONCILE_PASS_PAUSE_MS, type ReconcileSummary, reconcileBucket } from '../../../edge/bucket/reconcile.ts';
import { ConfigError, configFromEnv } from '../../../edge/config.ts';
import { newId } from '../../../edge/ids.ts';
import { modelIdOf } from '../../../edge/jobs/records.ts';
import { webhookSettings } from '../../../edge/webhooks/settings.ts';
import { adapterKey, checkpointKey, checkpointPrefix, imageKey, latestCheckpointPointerKey, uploadStagingKey } from '../../../shared/storage/keys.ts';
import type { S3BlobStore } from '../../../shared/storage/s3-blob-store.ts';
import { ADMIN_TOKEN, WORKER_TOKEN, type TestEdge, startTestEdge } from '../../helpers/edge.ts';
import { type RunningS3rver, setLastModified } from '../../helpers/s3rver.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const settings = webhookSettings({ localMode: true, retryScheduleSeconds: [0], timeoutMs: 2000 });

let s3: RunningS3rver;
let edge: TestEdge;
let warnings: string[];
let errors: string[];

beforeEach(async () => {
  warnings = [];
  errors = [];
  edge = await startTestEdge({ localMode: true, logger: { error: (m) => void errors.push(m), warn: (m) => void warnings.push(m) } });
  s3 = edge.s3!;
}, 30_000);

afterEach(async () => {
  await edge?.close();
});

const raw = () => edge.db.raw;
const iso = (ms: number) => new Date(ms).toISOString();
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const sorted = (keys: Iterable<string>) => [...keys].sort(byteOrder);

async function bucketKeys(prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | null = null;
  do {
    const page = await edge.ports.blobs.list(prefix, { cursor });
    keys.push(...page.objects.map((o) => o.key));
    cursor = page.cursor;
  } while (cursor);
  return keys;
}

/** Every object of the bucket with the LastModified the listing reports. */
async function bucketObjects(): Promise<Map<string, Date>> {
  const objects = new Map<string, Date>();
  let cursor: string | null = null;
  do {
    const page = await edge.ports.blobs.list('', { cursor });
    for (const o of page.objects) objects.set(o.key, o.lastModified);
    cursor = page.cursor;
  } while (cursor);
  return objects;
}

/** Puts `keys` and makes them `ageMs` old (as s3rver reports them) relative to `now`; checks the listing says so. */
async function put(keys: string[], now: number, ageMs = 2 * DAY): Promise<void> {
  const at = new Date(Math.floor((now - ageMs) / 1000) * 1000); // S3 reports whole seconds
  for (const k of keys) {
    await edge.ports.blobs.put(k, new TextEncoder().encode(k), 'application/octet-stream');
    if (ageMs > 0) setLastModified(s3, k, at, (edge.ports.blobs as S3BlobStore).bucket);
  }
  if (ageMs === 0) return;
  const listed = await bucketObjects();
  const notAged = keys.filter((k) => listed.get(k)?.getTime() !== at.getTime()).map((k) => `${k} (listed: ${listed.get(k)?.toISOString() ?? 'absent'})`);
  expect(notAged, `the fixture: objects aged to ${at.toISOString()} are listed with another LastModified`).toEqual([]);
}

/** Why a run's deletions differ from `expected`: its counts, and each expected orphan it left with its listed LastModified. */
async function explainDeleted(run: Pick<ReconcileSummary, 'listed' | 'referenced' | 'recent' | 'unknown' | 'deleted'>, expected: string[], now: number): Promise<string> {
  const listed = await bucketObjects();
  const left = expected
    .filter((k) => !run.deleted.includes(k))
    .map((k) => `${k} (listed: ${listed.get(k)?.toISOString() ?? 'absent'}${(listed.get(k)?.getTime() ?? 0) > now - DAY ? ', inside the grace period' : ''})`);
  const extra = run.deleted.filter((k) => !expected.includes(k));
  return `the run (listed ${run.listed}, referenced ${run.referenced}, recent ${run.recent}, unknown ${run.unknown.length}) left ${left.length} orphan(s): ${left.join(', ') || 'none'}; deleted ${extra.length} unexpected: ${extra.join(', ') || 'none'}`;
}

function insertImage(o: { tenant: string; dataset: string; id: string; status: 'stored' | 'pending'; expiresAt?: number }): void {
  raw()
    .prepare(
      `INSERT INTO images (id, tenant_id, dataset_id, label, object_key, content_type, bytes, status, expires_at, created_at)
       VALUES (?, ?, ?, 'cat', ?, 'image/png', 3, ?, ?, ?)`,
    )
    .run(o.id, o.tenant, o.dataset, imageKey(o.tenant, o.dataset, o.id, 'png'), o.status, o.expiresAt ? iso(o.expiresAt) : null, iso(Date.now()));
}

function insertJob(o: { tenant: string; status: string; attempts: number; kind?: 'training' | 'evaluation'; id?: string }): string {
  const id = o.id ?? newId(o.kind === 'evaluation' ? 'evaluation' : 'job');
  const final = ['succeeded', 'failed', 'cancelled'].includes(o.status);
  raw()
    .prepare(
      `INSERT INTO training_jobs (id, tenant_id, kind, dataset_id, method, status, hyperparameters, created_at, finished_at, attempts)
       VALUES (?, ?, ?, 'ds_x', ?, ?, '{}', ?, ?, ?)`,
    )
    .run(id, o.tenant, o.kind ?? 'training', o.kind === 'evaluation' ? 'zero-shot' : 'coop', o.status, iso(Date.now() - DAY), final ? iso(Date.now()) : null, o.attempts);
  return id;
}

function insertModel(tenant: string, jobId: string, artifactKey: string): string {
  const id = modelIdOf(jobId);
  raw()
    .prepare(
      `INSERT INTO models (id, tenant_id, job_id, method, base_model, classes, metrics, artifact_key, artifact_bytes, artifact_sha256, created_at)
       VALUES (?, ?, ?, 'coop', 'toy-clip', '[]', '{}', ?, 1, 'x', ?)`,
    )
    .run(id, tenant, jobId, artifactKey, iso(Date.now()));
  return id;
}

const checkpointFiles = (tenant: string, job: string, attempt: number) => {
  const prefix = checkpointPrefix(tenant, job, attempt);
  return [checkpointKey(prefix, 1), latestCheckpointPointerKey(prefix)];
};

/**
 * The fixture: rows, and old objects of every kind — `kept` (a row or a sweep record refers to them), `orphans` (by
 * kind), `unknown` key shapes — plus one `fresh` orphan (inside the grace period) and an object outside tenants/.
 */
async function seed(now: number) {
  const t = newId('tenant');
  const other = newId('tenant');
  raw().prepare('INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?), (?, ?, ?)').run(t, 'acme', iso(now), other, 'other', iso(now));
  const ds = newId('dataset');
  raw().prepare("INSERT INTO datasets (id, tenant_id, name, status, created_at) VALUES (?, ?, 'pets', 'open', ?)").run(ds, t, iso(now));
  const kept: string[] = [];
  const orphans = { image: [] as string[], staging: [] as string[], checkpoint: [] as string[], adapter: [] as string[] };

  // Dataset images and presigned uploads.
  const stored = newId('image');
  insertImage({ tenant: t, dataset: ds, id: stored, status: 'stored' });
  kept.push(imageKey(t, ds, stored, 'png'));
  const completed = newId('image'); // uploads/complete copied it; its staging copy was left behind
  insertImage({ tenant: t, dataset: ds, id: completed, status: 'stored' });
  kept.push(imageKey(t, ds, completed, 'png'));
  orphans.staging.push(uploadStagingKey(t, ds, completed, 'png'));
  const pending = newId('image'); // a presigned upload whose URL may still be used
  insertImage({ tenant: t, dataset: ds, id: pending, status: 'pending', expiresAt: now + 10 * 60_000 });
  kept.push(uploadStagingKey(t, ds, pending, 'png'));
  orphans.staging.push(uploadStagingKey(t, ds, newId('image'), 'png')); // no row at all
  orphans.image.push(imageKey(t, ds, newId('image'), 'png')); // a failed request put it, nobody recorded it
  orphans.image.push(imageKey(t, newId('dataset'), newId('image'), 'jpg')); // a deleted dataset's image
  const recorded = imageKey(t, ds, newId('image'), 'webp'); // recorded, not due yet: the record-based sweep's
  raw()
    .prepare("INSERT INTO blob_sweeps (object_key, tenant_id, sweep_after, reason, created_at) VALUES (?, ?, ?, 'unconfirmed', ?)")
    .run(recorded, t, now + HOUR, iso(now));
  kept.push(recorded);

  // A running job on its attempt 2: both attempts' checkpoints (a resume reads them) and attempt 2's adapter stay.
  const live = insertJob({ tenant: t, status: 'running', attempts: 2 });
  kept.push(...checkpointFiles(t, live, 1), ...checkpointFiles(t, live, 2), adapterKey(t, modelIdOf(live), 2));
  orphans.checkpoint.push(checkpointKey(checkpointPrefix(t, live, 3), 1)); // an attempt the job never had
  orphans.adapter.push(adapterKey(t, modelIdOf(live), 1)); // a superseded attempt's adapter
  orphans.checkpoint.push(latestCheckpointPointerKey(checkpointPrefix(other, live, 1))); // the same job id, another tenant
  // A queued job waiting for its attempt 2: attempt 1's checkpoints are what it resumes from.
  const queued = insertJob({ tenant: t, status: 'queued', attempts: 1 });
  kept.push(...checkpointFiles(t, queued, 1));
  // A succeeded job: the model's adapter stays; the other attempt's adapter and all checkpoints go.
  const done = insertJob({ tenant: t, status: 'succeeded', attempts: 2 });
  insertModel(t, done, adapterKey(t, modelIdOf(done), 2));
  kept.push(adapterKey(t, modelIdOf(done), 2));
  orphans.adapter.push(adapterKey(t, modelIdOf(done), 1));
  orphans.checkpoint.push(...checkpointFiles(t, done, 1), ...checkpointFiles(t, done, 2));
  // A model published before per-attempt keys, named by its row.
  const legacy = insertJob({ tenant: t, status: 'succeeded', attempts: 1 });
  const legacyKey = `tenants/${t}/models/${modelIdOf(legacy)}/adapter.safetensors`;
  insertModel(t, legacy, legacyKey);
  kept.push(legacyKey);
  // A failed job, a job whose row is gone (retention), a deleted model, an evaluation (no checkpoints of its own).
  const failed = insertJob({ tenant: t, status: 'failed', attempts: 1 });
  orphans.adapter.push(adapterKey(t, modelIdOf(failed), 1));
  orphans.checkpoint.push(...checkpointFiles(t, failed, 1));
  const gone = newId('job');
  orphans.checkpoint.push(checkpointKey(checkpointPrefix(t, gone, 1), 3), `tenants/${t}/jobs/${gone}/checkpoints/latest.json`);
  const modelDeleted = insertJob({ tenant: t, status: 'succeeded', attempts: 1 });
  orphans.adapter.push(adapterKey(t, modelIdOf(modelDeleted), 1));
  const evaluation = insertJob({ tenant: t, status: 'running', attempts: 1, kind: 'evaluation' });
  orphans.checkpoint.push(latestCheckpointPointerKey(checkpointPrefix(t, evaluation, 1)));

  const unknown = [
    `tenants/${t}/notes/readme.txt`,
    `tenants/${t}/datasets/${ds}/images/${newId('image')}.gif`,
    `${checkpointPrefix(t, live, 1)}notes.txt`,
  ];
  const fresh = imageKey(t, ds, newId('image'), 'png');
  const outside = 'backups/2026-01-01.tar';
  const allOrphans = Object.values(orphans).flat();
  await put([...kept, ...allOrphans, ...unknown, outside], now);
  await put([fresh], now, 0);
  return { t, kept, orphans, allOrphans, unknown, fresh, outside };
}

describe('the bucket reconciliation by listing', () => {
  it('deletes exactly the orphans past the grace period, keeps everything a row or record names, reports them', async () => {
    const now = Date.now();
    const f = await seed(now);
    expect(f.allOrphans.length).toBe(19);

    const s = await runBackgroundTasks(edge.ports, edge.config, settings, new Date(now));
    expect(s.errors).toEqual([]);
    const run = s.bucketReconciliation!;
    expect(sorted(run.deleted), await explainDeleted(run, f.allOrphans, now)).toEqual(sorted(f.allOrphans));
    expect(run.deletedByKind).toEqual({ image: 2, staging: 2, checkpoint: 11, adapter: 4 });
    expect(sorted(run.unknown)).toEqual(sorted(f.unknown));
    expect(run).toMatchObject({ startedAfter: null, nextCursor: null, listed: f.kept.length + 19 + 3 + 1, referenced: f.kept.length, recent: 1 });

    // The bucket: what rows name, the fresh orphan, the unknown shapes, and what is outside tenants/.
    expect(sorted(await bucketKeys())).toEqual(sorted([...f.kept, f.fresh, ...f.unknown, f.outside]));

    // The report: a log line with the counts and example keys, and the run's row.
    const line = warnings.find((w) => w.includes('bucket reconciliation'));
    expect(line).toContain('deleted 19 orphaned object(s) (');
    expect(line).toContain('kept 3 object(s) of unknown key shape');
    expect(line).toContain(sorted(run.deleted)[0].slice(0, 20));
    expect(line).toContain('pass over the bucket complete');
    const row = raw().prepare('SELECT * FROM bucket_reconciliations').all() as Record<string, unknown>[];
    expect(row).toHaveLength(1);
    expect(row[0]).toMatchObject({ started_after: null, next_cursor: null, listed: run.listed, referenced: f.kept.length, recent: 1, deleted: 19, unknown: 3 });
    const examples = JSON.parse(String(row[0].examples)) as { deleted: string[]; unknown: string[]; deleted_by_kind: object };
    expect(examples.deleted).toHaveLength(10);
    for (const k of examples.deleted) expect(f.allOrphans).toContain(k);
    expect(sorted(examples.unknown)).toEqual(sorted(f.unknown));
    expect(examples.deleted_by_kind).toEqual(run.deletedByKind);

    // The pass is complete: no run until the pause is over; then a new pass from the start finds nothing new.
    expect((await runBackgroundTasks(edge.ports, edge.config, settings, new Date(now + RECONCILE_INTERVAL_MS))).bucketReconciliation).toBeNull();
    const next = await reconcileBucket(edge.ports, new Date(now + RECONCILE_PASS_PAUSE_MS), { graceMs: DAY, retentionDays: 30 });
    expect(next).toMatchObject({ startedAfter: null, nextCursor: null, deleted: [], recent: 1 });
    expect(sorted(next!.unknown)).toEqual(sorted(f.unknown));

    // Once the fresh orphan is past the grace period too, it goes; nothing else does.
    const later = await reconcileBucket(edge.ports, new Date(now + DAY + 2 * HOUR), { graceMs: DAY, retentionDays: 30 });
    expect(later!.deleted).toEqual([f.fresh]);
    expect(sorted(await bucketKeys())).toEqual(sorted([...f.kept, ...f.unknown, f.outside]));
  });

  it('a longer grace period (ORPHAN_GRACE_HOURS) keeps orphans that are younger than it', async () => {
    const now = Date.now();
    const f = await seed(now); // orphans are 48 h old
    const config = { ...edge.config, orphanGraceHours: 72 };
    const s = await runBackgroundTasks(edge.ports, config, settings, new Date(now));
    expect(s.bucketReconciliation).toMatchObject({ deleted: [], referenced: 0, recent: f.kept.length + 19 + 1 });
    expect(await bucketKeys('tenants/')).toHaveLength(f.kept.length + 19 + 1 + 3);

    const env = { ADMIN_TOKEN, WORKER_TOKEN };
    expect(configFromEnv(env).orphanGraceHours).toBe(24);
    expect(configFromEnv({ ...env, ORPHAN_GRACE_HOURS: '72' }).orphanGraceHours).toBe(72);
    expect(() => configFromEnv({ ...env, ORPHAN_GRACE_HOURS: '0' })).toThrow(ConfigError);
    expect(() => configFromEnv({ ...env, ORPHAN_GRACE_HOURS: 'a day' })).toThrow(ConfigError);
  });

  it('covers a bucket larger than one page across runs, resuming from the cursor stored in the database', async () => {
    const now = Date.now();
    const t = newId('tenant');
    const ds = newId('dataset');
    raw().prepare('INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)').run(t, 'big', iso(now));
    raw().prepare("INSERT INTO datasets (id, tenant_id, name, status, created_at) VALUES (?, ?, 'big', 'open', ?)").run(ds, t, iso(now));
    const kept: string[] = [];
    const orphans: string[] = [];
    for (let i = 0; i < 10; i++) {
      const id = newId('image');
      insertImage({ tenant: t, dataset: ds, id, status: 'stored' });
      kept.push(imageKey(t, ds, id, 'png'));
      orphans.push(imageKey(t, ds, newId('image'), 'png'));
    }
    const job = insertJob({ tenant: t, status: 'running', attempts: 1 });
    kept.push(...checkpointFiles(t, job, 1));
    orphans.push(...checkpointFiles(t, job, 2));
    await put([...kept, ...orphans], now);
    const total = kept.length + orphans.length;
    expect(total).toBe(24);

    const opts = { graceMs: DAY, retentionDays: 30, pageSize: 5, intervalMs: 60_000, passPauseMs: HOUR };
    const runs: ReconcileSummary[] = [];
    let at = now;
    let cursor: string | null = null;
    for (;;) {
      const run = await reconcileBucket(edge.ports, new Date(at), opts);
      expect(run).not.toBeNull();
      expect(run!.startedAfter).toBe(cursor);
      expect(run!.listed).toBeLessThanOrEqual(5);
      runs.push(run!);
      cursor = run!.nextCursor;
      expect(raw().prepare('SELECT cursor FROM bucket_scan').get()).toEqual({ cursor });
      // Bounded work: the next run is not due before the interval.
      expect(await reconcileBucket(edge.ports, new Date(at + 30_000), opts)).toBeNull();
      at += 60_000;
      if (cursor === null || runs.length > 10) break;
    }
    expect(runs.map((r) => r.listed)).toEqual([5, 5, 5, 5, 4]);
    expect(runs.reduce((n, r) => n + r.listed, 0)).toBe(total);
    const sum = (count: (r: ReconcileSummary) => number) => runs.reduce((n, r) => n + count(r), 0);
    const pass = { listed: sum((r) => r.listed), referenced: sum((r) => r.referenced), recent: sum((r) => r.recent), unknown: runs.flatMap((r) => r.unknown), deleted: runs.flatMap((r) => r.deleted) };
    expect(sorted(pass.deleted), await explainDeleted(pass, orphans, now)).toEqual(sorted(orphans));
    expect(runs.every((r) => r.passStartedAt === iso(now))).toBe(true);
    expect(sorted(await bucketKeys())).toEqual(sorted(kept));
    expect(raw().prepare('SELECT COUNT(*) AS n FROM bucket_reconciliations').get()).toEqual({ n: 5 });

    // After the pass, the pause; then the next pass starts at the beginning again.
    expect(await reconcileBucket(edge.ports, new Date(at - 60_000 + HOUR - 1), opts)).toBeNull();
    const again = await reconcileBucket(edge.ports, new Date(at - 60_000 + HOUR), opts);
    expect(again).toMatchObject({ startedAfter: null, listed: 5, deleted: [] });
  });

  it('S3 down: the run fails, nothing moves, and the next due run handles the same page', async () => {
    const now = Date.now();
    const orphan = imageKey(newId('tenant'), newId('dataset'), newId('image'), 'png');
    await put([orphan], now);
    await s3.down();
    const s = await runBackgroundTasks(edge.ports, edge.config, settings, new Date(now));
    expect(s.errors).toEqual([expect.stringContaining('bucket reconciliation')]);
    expect(errors).toEqual(['[background] bucket reconciliation failed']);
    expect(s.bucketReconciliation).toBeNull();
    expect(raw().prepare('SELECT cursor FROM bucket_scan').get()).toEqual({ cursor: null });
    expect(raw().prepare('SELECT COUNT(*) AS n FROM bucket_reconciliations').get()).toEqual({ n: 0 });
    await s3.up();
    const run = await reconcileBucket(edge.ports, new Date(now + RECONCILE_INTERVAL_MS), { graceMs: DAY, retentionDays: 30 });
    expect(run).toMatchObject({ startedAfter: null, deleted: [orphan] });
  }, 60_000);

  it('purges its report rows past the retention', async () => {
    const now = Date.now();
    raw()
      .prepare("INSERT INTO bucket_reconciliations (ran_at, listed, referenced, recent, deleted, unknown, examples) VALUES (?, 0, 0, 0, 0, 0, '{}'), (?, 0, 0, 0, 0, 0, '{}')")
      .run(iso(now - 31 * DAY), iso(now - 29 * DAY));
    await reconcileBucket(edge.ports, new Date(now), { graceMs: DAY, retentionDays: 30 });
    const left = raw().prepare('SELECT ran_at FROM bucket_reconciliations ORDER BY seq').all();
    expect(left).toEqual([{ ran_at: iso(now - 29 * DAY) }, { ran_at: iso(now) }]);
  });
});
