// The Node edge end to end with its background timer: a job completed through the worker API produces a
// signed training_job.succeeded delivery that reaches a real receiver through the running timer, once.
// Also: webhook settings from the environment, and DELETE of a dataset with an active job (409).
import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { defaultBackgroundIntervalMs, webhookSettingsFromEnv } from '../../../edge/node/server.ts';
import { nodeResolver } from '../../../edge/node/dns-resolver.ts';
import { PRODUCTION_RETRY_SCHEDULE_S } from '../../../edge/webhooks/settings.ts';
import { type TestEdge, bearer, jsonHeaders, startTestEdge } from '../../helpers/edge.ts';
import { completeBody, count, insertReadyDataset, workerClient } from '../../helpers/jobs.ts';
import { waitUntil } from '../../helpers/wait-until.ts';
import { type WebhookReceiver, startReceiver } from '../../helpers/webhook-receiver.ts';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function edgeWith(...args: Parameters<typeof startTestEdge>): Promise<TestEdge> {
  const e = await startTestEdge(...args);
  cleanup.push(() => e.close());
  return e;
}

async function createJob(edge: TestEdge, apiKey: string, datasetId: string): Promise<string> {
  const res = await edge.fetch('/v1/training-jobs', {
    method: 'POST',
    headers: jsonHeaders(apiKey),
    body: JSON.stringify({ dataset_id: datasetId, method: 'coop' }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

describe('startEdge background timer', () => {
  it('delivers through the guarded fetch: the connection-time lookup goes through the URL guard', async () => {
    const rx: WebhookReceiver = await startReceiver();
    cleanup.push(() => rx.close());
    // Local mode takes http: only for localhost; the resolver counts its lookups. The dispatcher's pre-check is one;
    // the guarded fetch's connect-time lookup (the DNS-rebinding fix) is the other.
    const lookups: string[] = [];
    const resolver = async (host: string) => {
      lookups.push(host);
      return host === 'localhost' ? ['127.0.0.1'] : [];
    };
    const edge = await edgeWith({ localMode: true }, { backgroundIntervalMs: 25, webhooks: { retryScheduleSeconds: [0], timeoutMs: 2000, resolver } });
    const t = await edge.createTenant('pinned');
    const port = new URL(rx.url).port;
    const epRes = await edge.fetch('/v1/webhook-endpoints', {
      method: 'POST',
      headers: jsonHeaders(t.api_key),
      body: JSON.stringify({ url: `http://localhost:${port}/pinned` }),
    });
    expect(epRes.status).toBe(201);
    const jobId = await createJob(edge, t.api_key, insertReadyDataset(edge, t.id));
    expect((await edge.fetch(`/v1/training-jobs/${jobId}/cancel`, { method: 'POST', headers: bearer(t.api_key) })).status).toBe(200);
    await waitUntil('the delivery to /pinned', () => rx.at('/pinned').length === 1, { intervalMs: 20 });
    expect(lookups).toEqual(['localhost', 'localhost']);
  });

  it('delivers the signed training_job.succeeded webhook through the running timer, exactly once', async () => {
    const rx: WebhookReceiver = await startReceiver();
    cleanup.push(() => rx.close());
    const edge = await edgeWith({ localMode: true }, { backgroundIntervalMs: 25, webhooks: { retryScheduleSeconds: [0, 0], timeoutMs: 2000 } });
    expect(edge.background).not.toBeNull();
    const t = await edge.createTenant('e2e');
    const epRes = await edge.fetch('/v1/webhook-endpoints', {
      method: 'POST',
      headers: jsonHeaders(t.api_key),
      body: JSON.stringify({ url: `${rx.url}/jobs`, events: ['training_job.succeeded'] }),
    });
    expect(epRes.status).toBe(201);
    const ep = (await epRes.json()) as { id: string; secret: string };

    const jobId = await createJob(edge, t.api_key, insertReadyDataset(edge, t.id));
    const worker = workerClient(edge);
    const lease = await worker.leaseOk();
    expect(lease.job.id).toBe(jobId);
    const done = await worker.complete(jobId, await completeBody(edge, lease));
    expect(done.status).toBe(200);

    await waitUntil('the delivery to /jobs', () => rx.at('/jobs').length === 1, { intervalMs: 20 });
    const req = rx.at('/jobs')[0];
    const msg = new Webhook(ep.secret).verify(req.body, req.headers as Record<string, string>) as {
      type: string;
      data: { id: string; status: string; model_id: string | null };
    };
    expect(msg.type).toBe('training_job.succeeded');
    expect(msg.data).toMatchObject({ id: jobId, status: 'succeeded' });
    expect(msg.data.model_id).toMatch(/^mdl_/);

    // Two more whole rounds (the first may be the one that sent it, still recording; the second starts after it):
    // still exactly one delivery, recorded as succeeded after one attempt.
    await edge.background!.runNow();
    await edge.background!.runNow();
    expect(rx.at('/jobs')).toHaveLength(1);
    const deliveries = await (await edge.fetch(`/v1/webhook-endpoints/${ep.id}/deliveries`, { headers: bearer(t.api_key) })).json();
    expect(JSON.stringify(deliveries)).toContain('succeeded');
    expect(count(edge, "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'succeeded' AND attempts = 1")).toBe(1);
    expect(count(edge, 'SELECT COUNT(*) AS n FROM webhook_attempts')).toBe(1);
  });

  it('is off with backgroundIntervalMs: 0 and stopped by close()', async () => {
    const off = await edgeWith({}, { backgroundIntervalMs: 0 });
    expect(off.background).toBeNull();
    // The interval is moved by hand (fake setInterval); a tick begins a maintenance run and a dispatch run, each
    // reading the clock as it begins, so the clock's reads show whether ticks still start runs.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    onTestFinished(() => void vi.useRealTimers());
    let reads = 0;
    const on = await startTestEdge({ clock: () => (reads++, new Date()) }, { backgroundIntervalMs: 10 });
    const before = reads;
    vi.advanceTimersByTime(10);
    expect(reads - before).toBe(2);
    await on.background!.runNow(); // joins the maintenance run the tick began
    await on.close(); // stops the timer before closing SQLite: no run afterwards, so no error logged
    const atClose = reads;
    vi.advanceTimersByTime(1000);
    expect(reads).toBe(atClose);
    expect(on.loggedErrors).toEqual([]);
  });

  it('defaults: 1000 ms in local mode, 5000 ms otherwise', () => {
    expect(defaultBackgroundIntervalMs({ localMode: true })).toBe(1000);
    expect(defaultBackgroundIntervalMs({ localMode: false })).toBe(5000);
  });
});

describe('webhookSettingsFromEnv', () => {
  it('reads WEBHOOK_RETRY_SCHEDULE, local mode and the Node resolver', () => {
    const s = webhookSettingsFromEnv({ WEBHOOK_RETRY_SCHEDULE: ' 1, 5,30 ' }, { localMode: true });
    expect(s.retryScheduleSeconds).toEqual([1, 5, 30]);
    expect(s.localMode).toBe(true);
    expect(s.resolver).toBe(nodeResolver);
    const d = webhookSettingsFromEnv({}, { localMode: false });
    expect(d.retryScheduleSeconds).toEqual(PRODUCTION_RETRY_SCHEDULE_S);
    expect(d.localMode).toBe(false);
  });

  it('rejects a malformed schedule', () => {
    for (const bad of ['1,,2', '-1', 'soon', '1;2']) {
      expect(() => webhookSettingsFromEnv({ WEBHOOK_RETRY_SCHEDULE: bad }, { localMode: false })).toThrow(/WEBHOOK_RETRY_SCHEDULE/);
    }
  });
});

describe('DELETE /v1/datasets/{id} with training jobs', () => {
  it('is 409 while a job is queued/running/cancelling (nothing deleted), 204 once it is final', async () => {
    const edge = await edgeWith();
    const t = await edge.createTenant('del');
    const ds = insertReadyDataset(edge, t.id);
    const jobId = await createJob(edge, t.api_key, ds);
    const images = count(edge, 'SELECT COUNT(*) AS n FROM images WHERE dataset_id = ?', ds);
    for (const status of ['queued', 'running', 'cancelling']) {
      edge.db.raw.prepare('UPDATE training_jobs SET status = ? WHERE id = ?').run(status, jobId);
      const res = await edge.fetch(`/v1/datasets/${ds}`, { method: 'DELETE', headers: bearer(t.api_key) });
      expect(res.status).toBe(409);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('conflict');
      expect(body.error.message).toContain(jobId);
      expect(count(edge, 'SELECT COUNT(*) AS n FROM datasets WHERE id = ?', ds)).toBe(1);
      expect(count(edge, 'SELECT COUNT(*) AS n FROM images WHERE dataset_id = ?', ds)).toBe(images);
    }
    edge.db.raw.prepare("UPDATE training_jobs SET status = 'cancelled' WHERE id = ?").run(jobId);
    const res = await edge.fetch(`/v1/datasets/${ds}`, { method: 'DELETE', headers: bearer(t.api_key) });
    expect(res.status).toBe(204);
    expect(count(edge, 'SELECT COUNT(*) AS n FROM datasets WHERE id = ?', ds)).toBe(0);
  });
});
