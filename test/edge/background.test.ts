// edge/background.ts: each maintenance task changes exactly the rows it should, and the Node timer runs, stops,
// never overlaps maintenance runs, and does not let a slow receiver hold other deliveries.
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { MAX_DISPATCH_RUNS, runBackgroundTasks, startBackgroundTimer } from '../../edge/background.ts';
import { IDEMPOTENCY_TTL_MS } from '../../edge/http/idempotency.ts';
import { RATE_WINDOW_RETENTION_MS } from '../../edge/http/rate-limit.ts';
import { newId } from '../../edge/ids.ts';
import { webhookSettings } from '../../edge/webhooks/settings.ts';
import { type TestEdge, jsonHeaders, startTestEdge } from '../helpers/edge.ts';
import { count, insertReadyDataset } from '../helpers/jobs.ts';
import { waitUntil } from '../helpers/wait-until.ts';
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

function insertDelivery(nextAttemptAt = Date.now() - 1, to = { tenantId: '', endpointId: '' }): string {
  const id = newId('webhookMessage');
  edge.db.raw
    .prepare(
      `INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_type, payload, status, attempts, next_attempt_at, created_at)
       VALUES (?, ?, ?, 'training_job.succeeded', ?, 'pending', 0, ?, ?)`,
    )
    .run(id, to.tenantId || tenant.id, to.endpointId || endpointId, JSON.stringify({ type: 'training_job.succeeded', n: id }), nextAttemptAt, new Date().toISOString());
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
    // The interval is moved by hand. A tick begins a maintenance run and a dispatch run, each reading the clock at once
    // (`reads`); `runs` counts the maintenance runs that ended.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      let reads = 0;
      const config = { ...edge.config, clock: () => (reads++, new Date()) };
      const runs: unknown[] = [];
      const timer = startBackgroundTimer(edge.ports, config, settings, { intervalMs: 20, onRun: (s) => runs.push(s) });
      vi.advanceTimersByTime(19);
      expect(reads).toBe(0);
      for (const n of [1, 2]) {
        const before = reads;
        vi.advanceTimersByTime(n === 1 ? 1 : 20);
        expect(reads - before).toBe(2); // the tick began both runs (their tasks read the clock again later)
        await timer.runNow(); // joins the maintenance run the tick began (waitUntil would move the faked interval)
        expect(runs).toHaveLength(n);
      }
      await timer.stop();
      const atStop = reads;
      vi.advanceTimersByTime(1000);
      expect(reads).toBe(atStop); // no run after stop()
      expect(runs).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it("a dispatch run held by a slow receiver holds nothing else: the next tick sends another tenant's delivery; stop() waits for it", async () => {
    // Before: one run at a time, and a run waited for its slowest receiver, so the second delivery waited too.
    const slowTenant = await edge.createTenant('slow receiver');
    const res = await edge.fetch('/v1/webhook-endpoints', { method: 'POST', headers: jsonHeaders(slowTenant.api_key), body: JSON.stringify({ url: `${rx.url}/slow` }) });
    expect(res.status).toBe(201);
    const slowEndpoint = ((await res.json()) as { id: string }).id;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const sent: string[] = [];
    let held = 0;
    const fetchImpl: typeof fetch = async (input) => {
      const path = new URL(input instanceof Request ? input.url : String(input)).pathname;
      sent.push(path);
      if (path === '/slow') {
        held++;
        await gate; // the receiver answers only when the test lets it
      }
      return new Response('ok', { status: 200 });
    };
    const slowId = insertDelivery(Date.now() - 1, { tenantId: slowTenant.id, endpointId: slowEndpoint });
    const runs: unknown[] = [];
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    onTestFinished(() => void vi.useRealTimers());
    const timer = startBackgroundTimer(edge.ports, edge.config, settings, { intervalMs: 10, fetchImpl, onRun: (s) => runs.push(s) });
    vi.advanceTimersByTime(10);
    await waitUntil('the slow receiver to hold its request', () => held === 1);
    const fastId = insertDelivery();
    vi.advanceTimersByTime(10);
    await waitUntil("the other tenant's delivery sent while the slow one is held", () => sent.includes('/hook'));
    await waitUntil('its success recorded', () => (edge.db.raw.prepare('SELECT status FROM webhook_deliveries WHERE id = ?').get(fastId) as { status: string }).status === 'succeeded');
    // Many more ticks while the slow one is held: maintenance runs go on, and the slow row is never sent again.
    for (let i = 0; i < 3 * MAX_DISPATCH_RUNS; i++) vi.advanceTimersByTime(10);
    await waitUntil('a later maintenance run', () => runs.length >= 2);
    expect(held).toBe(1);
    let stopped = false;
    const stopping = timer.stop().then(() => (stopped = true));
    await new Promise<void>((r) => setImmediate(r));
    expect(stopped).toBe(false); // waiting for the held dispatch run
    release();
    await stopping;
    expect(edge.db.raw.prepare('SELECT status, attempts FROM webhook_deliveries WHERE id = ?').get(slowId)).toEqual({ status: 'succeeded', attempts: 1 });
    expect(sent.filter((p) => p === '/slow')).toHaveLength(1);
  });

  it('never overlaps maintenance runs: ticks during a slow one start none, stop() waits for it', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let purges = 0;
    // A maintenance run begins with the idempotency-key purge: hold its statement until the test lets it go.
    const db = edge.ports.db;
    const heldDb: typeof db = {
      batch: (statements) => db.batch(statements),
      prepare(sql) {
        const statement = db.prepare(sql);
        if (!sql.startsWith('DELETE FROM idempotency_keys')) return statement;
        return {
          ...statement,
          bind: (...values: Parameters<typeof statement.bind>) => {
            const bound = statement.bind(...values);
            return { ...bound, run: async () => (purges++, await gate, bound.run()) };
          },
        } as typeof statement;
      },
    };
    const runs: unknown[] = [];
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    onTestFinished(() => void vi.useRealTimers());
    const timer = startBackgroundTimer({ ...edge.ports, db: heldDb }, edge.config, settings, { intervalMs: 10, onRun: (s) => runs.push(s) });
    vi.advanceTimersByTime(10);
    await waitUntil('the maintenance run to begin its purge', () => purges === 1);
    vi.advanceTimersByTime(150); // 15 ticks while it is held: none starts another
    await new Promise<void>((r) => setImmediate(r));
    expect(purges).toBe(1);
    expect(runs).toHaveLength(0);
    let stopped = false;
    const stopping = timer.stop().then(() => (stopped = true));
    await new Promise<void>((r) => setImmediate(r));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(runs).toHaveLength(1);
  });

  it('logs a failing run instead of throwing', async () => {
    const logged: string[] = [];
    const config = { ...edge.config, logger: { error: (m: string) => logged.push(m), warn: () => {} } };
    const brokenDb = { prepare: () => { throw new Error('db gone'); }, batch: async () => { throw new Error('db gone'); } };
    const timer = startBackgroundTimer({ ...edge.ports, db: brokenDb }, config, settings, { intervalMs: 10 });
    await waitUntil('the first runs to log', () => logged.length >= 6 && logged.some((m) => m.includes('webhooks')));
    await timer.stop();
    // Each task of the maintenance run, in order, and the dispatch run (a lane of its own: anywhere among them).
    const tasks = ['idempotency', 'rate windows', 'expired uploads', 'object sweep', 'retention'];
    const maintenance = logged.filter((m) => !m.includes('webhooks'));
    expect(maintenance.slice(0, 5)).toEqual(tasks.map((t) => expect.stringContaining(t)));
    expect(logged).toContainEqual(expect.stringContaining('[background] webhooks failed'));
  });
});
