// edge/background.ts: each maintenance task changes exactly the rows it should, and the Node timer runs,
// stops, and never overlaps runs.
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { runBackgroundTasks, startBackgroundTimer } from '../../edge/background.ts';
import { IDEMPOTENCY_TTL_MS } from '../../edge/http/idempotency.ts';
import { RATE_WINDOW_RETENTION_MS } from '../../edge/http/rate-limit.ts';
import { newId } from '../../edge/ids.ts';
import { webhookSettings } from '../../edge/webhooks/settings.ts';
import { type TestEdge, jsonHeaders, startTestEdge } from '../helpers/edge.ts';
import { count, insertReadyDataset } from '../helpers/jobs.ts';
import { type WebhookReceiver, startReceiver } from '../helpers/webhook-receiver.ts';

let edge: TestEdge;
let rx: WebhookReceiver;
let tenant: { id: string; api_key: string };
let endpointId: string;
const settings = webhookSettings({ localMode: true, retryScheduleSeconds: [0], timeoutMs: 2000 });

beforeAll(async () => {
  [edge, rx] = await Promise.all([startTestEdge({ localMode: true }), startReceiver()]);
  tenant = await edge.createTenant('bg');
  const res = await edge.fetch('/v1/webhook-endpoints', {
    method: 'POST',
    headers: jsonHeaders(tenant.api_key),
    body: JSON.stringify({ url: `${rx.url}/hook` }),
  });
  expect(res.status).toBe(201);
  endpointId = ((await res.json()) as { id: string }).id;
});
afterAll(async () => {
  await Promise.all([edge?.close(), rx?.close()]);
});

const blobs = () => edge.ports.blobs;

function insertDelivery(nextAttemptAt = Date.now() - 1): string {
  const id = newId('webhookMessage');
  edge.db.raw
    .prepare(
      `INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_type, payload, status, attempts, next_attempt_at, created_at)
       VALUES (?, ?, ?, 'training_job.succeeded', ?, 'pending', 0, ?, ?)`,
    )
    .run(id, tenant.id, endpointId, JSON.stringify({ type: 'training_job.succeeded', n: id }), nextAttemptAt, new Date().toISOString());
  return id;
}

async function insertUpload(datasetId: string, expiresAt: Date, status: 'pending' | 'stored' = 'pending'): Promise<{ id: string; key: string }> {
  const id = newId('image');
  const key = `tenants/${tenant.id}/datasets/${datasetId}/images/${id}.png`;
  edge.db.raw
    .prepare(
      `INSERT INTO images (id, tenant_id, dataset_id, label, object_key, content_type, bytes, status, expires_at, created_at)
       VALUES (?, ?, ?, 'cat', ?, 'image/png', 3, ?, ?, ?)`,
    )
    .run(id, tenant.id, datasetId, key, status, expiresAt.toISOString(), new Date().toISOString());
  await blobs().put(key, new Uint8Array([1, 2, 3]), 'image/png');
  return { id, key };
}

describe('runBackgroundTasks', () => {
  it('purges idempotency keys older than 24 h and keeps newer ones', async () => {
    const now = Date.now();
    const ins = edge.db.raw.prepare("INSERT INTO idempotency_keys (tenant_id, key, route, request_hash, status, body, created_at) VALUES (?, ?, 'POST /x', 'h', 201, '{}', ?)");
    ins.run('t-bg', 'old', now - IDEMPOTENCY_TTL_MS - 1000);
    ins.run('t-bg', 'new', now - 1000);
    const s = await runBackgroundTasks(edge.ports, edge.config, settings, new Date(now));
    expect(s.errors).toEqual([]);
    expect(s.idempotencyKeysPurged).toBe(1);
    expect(count(edge, "SELECT COUNT(*) AS n FROM idempotency_keys WHERE tenant_id = 't-bg' AND key = 'old'")).toBe(0);
    expect(count(edge, "SELECT COUNT(*) AS n FROM idempotency_keys WHERE tenant_id = 't-bg' AND key = 'new'")).toBe(1);
  });

  it('purges rate-limit windows older than an hour', async () => {
    const now = Date.now();
    const ins = edge.db.raw.prepare('INSERT INTO rate_windows (key_id, window_start, count) VALUES (?, ?, 1)');
    ins.run('k-old', now - RATE_WINDOW_RETENTION_MS - 60_000);
    ins.run('k-recent', now - RATE_WINDOW_RETENTION_MS + 60_000);
    const s = await runBackgroundTasks(edge.ports, edge.config, settings, new Date(now));
    expect(s.rateWindowsPurged).toBeGreaterThanOrEqual(1);
    expect(count(edge, "SELECT COUNT(*) AS n FROM rate_windows WHERE key_id = 'k-old'")).toBe(0);
    expect(count(edge, "SELECT COUNT(*) AS n FROM rate_windows WHERE key_id = 'k-recent'")).toBe(1);
  });

  it('expires pending uploads past expires_at (row and object) and leaves the rest', async () => {
    const ds = insertReadyDataset(edge, tenant.id, ['cat', 'dog'], 1, 'open');
    const now = new Date();
    const expired = await insertUpload(ds, new Date(now.getTime() - 1000));
    const fresh = await insertUpload(ds, new Date(now.getTime() + 60_000));
    const stored = await insertUpload(ds, new Date(now.getTime() - 1000), 'stored');
    const s = await runBackgroundTasks(edge.ports, edge.config, settings, now);
    expect(s.uploadsExpired).toBe(1);
    expect(count(edge, 'SELECT COUNT(*) AS n FROM images WHERE id = ?', expired.id)).toBe(0);
    expect(await blobs().head(expired.key)).toBeNull();
    for (const kept of [fresh, stored]) {
      expect(count(edge, 'SELECT COUNT(*) AS n FROM images WHERE id = ?', kept.id)).toBe(1);
      expect(await blobs().head(kept.key)).toEqual({ size: 3, contentType: 'image/png' });
    }
  });

  it('dispatches due webhook deliveries (and not future ones)', async () => {
    const due = insertDelivery();
    const later = insertDelivery(Date.now() + 3_600_000);
    const before = rx.at('/hook').length;
    const s = await runBackgroundTasks(edge.ports, edge.config, settings);
    expect(s.webhooks).toMatchObject({ claimed: 1, succeeded: 1 });
    expect(rx.at('/hook').length).toBe(before + 1);
    expect(edge.db.raw.prepare('SELECT status FROM webhook_deliveries WHERE id = ?').get(due)).toEqual({ status: 'succeeded' });
    expect(edge.db.raw.prepare('SELECT status, attempts FROM webhook_deliveries WHERE id = ?').get(later)).toEqual({ status: 'pending', attempts: 0 });
    edge.db.raw.prepare('DELETE FROM webhook_deliveries WHERE id = ?').run(later);
  });

  it('runs the other tasks when one fails, logs and lists the failure, never throws', async () => {
    const logged: unknown[] = [];
    const config = { ...edge.config, logger: { error: (m: string) => logged.push(m), warn: () => {} } };
    const failingBlobs = { ...edge.ports.blobs, list: edge.ports.blobs.list.bind(edge.ports.blobs), delete: async () => Promise.reject(new Error('s3 down')) };
    const ds = insertReadyDataset(edge, tenant.id, ['cat', 'dog'], 1, 'open');
    await insertUpload(ds, new Date(Date.now() - 1000));
    edge.db.raw
      .prepare("INSERT INTO idempotency_keys (tenant_id, key, route, request_hash, status, body, created_at) VALUES ('t-bg', 'old2', 'POST /x', 'h', 201, '{}', 0)")
      .run();
    const s = await runBackgroundTasks({ ...edge.ports, blobs: failingBlobs }, config, settings);
    // The expired upload's row goes and its objects stay recorded; removing them fails and is retried next run.
    expect(s.uploadsExpired).toBe(1);
    expect(s.errors).toEqual([expect.stringContaining('s3 down')]);
    expect(logged).toEqual([expect.stringContaining('object sweep')]);
    expect(s.idempotencyKeysPurged).toBe(1);
    expect(s.webhooks).not.toBeNull();
  });
});

describe('startBackgroundTimer', () => {
  it('runs on its interval and stops', async () => {
    // The interval is moved by hand; a run starts by reading the clock, so `starts` counts the runs the ticks began.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      let starts = 0;
      const config = { ...edge.config, clock: () => (starts++, new Date()) };
      const runs: unknown[] = [];
      const timer = startBackgroundTimer(edge.ports, config, settings, { intervalMs: 20, onRun: (s) => runs.push(s) });
      vi.advanceTimersByTime(19);
      expect(starts).toBe(0);
      for (const n of [1, 2]) {
        vi.advanceTimersByTime(n === 1 ? 1 : 20);
        expect(starts).toBe(n);
        await timer.runNow(); // joins the run the tick began
        expect(runs).toHaveLength(n);
      }
      await timer.stop();
      vi.advanceTimersByTime(1000);
      expect(starts).toBe(2);
      expect(runs).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('never runs twice at once: ticks during a slow run are skipped, stop() waits for it', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    let active = 0;
    let maxActive = 0;
    const slowFetch: typeof fetch = async () => {
      calls++;
      active++;
      maxActive = Math.max(maxActive, active);
      await gate;
      active--;
      return new Response('ok', { status: 200 });
    };
    const id = insertDelivery();
    const runs: unknown[] = [];
    let starts = 0;
    const config = { ...edge.config, clock: () => (starts++, new Date()) };
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    onTestFinished(() => void vi.useRealTimers());
    const timer = startBackgroundTimer(edge.ports, config, settings, { intervalMs: 10, fetchImpl: slowFetch, onRun: (s) => runs.push(s) });
    vi.advanceTimersByTime(10);
    await expect.poll(() => calls, { timeout: 2000 }).toBe(1);
    vi.advanceTimersByTime(150); // 15 ticks while the run is blocked: none starts another
    expect(starts).toBe(1);
    expect(runs).toHaveLength(0);
    expect(maxActive).toBe(1);
    let stopped = false;
    const stopping = timer.stop().then(() => (stopped = true));
    await new Promise<void>((r) => setImmediate(r));
    expect(stopped).toBe(false); // waiting for the run in progress
    release();
    await stopping;
    expect(runs).toHaveLength(1);
    expect(calls).toBe(1);
    expect(edge.db.raw.prepare('SELECT status FROM webhook_deliveries WHERE id = ?').get(id)).toEqual({ status: 'succeeded' });
  });

  it('logs a failing run instead of throwing', async () => {
    const logged: string[] = [];
    const config = { ...edge.config, logger: { error: (m: string) => logged.push(m), warn: () => {} } };
    const brokenDb = { prepare: () => { throw new Error('db gone'); }, batch: async () => { throw new Error('db gone'); } };
    const timer = startBackgroundTimer({ ...edge.ports, db: brokenDb }, config, settings, { intervalMs: 10 });
    await expect.poll(() => logged.length, { timeout: 2000 }).toBeGreaterThanOrEqual(6);
    await timer.stop();
    expect(logged.slice(0, 6)).toEqual([
      expect.stringContaining('idempotency'),
      expect.stringContaining('rate windows'),
      expect.stringContaining('expired uploads'),
      expect.stringContaining('object sweep'),
      expect.stringContaining('retention'),
      expect.stringContaining('webhooks'),
    ]);
  });
});
