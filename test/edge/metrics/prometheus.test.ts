// GET /metrics on the Node edge, parsed with the strict text-format parser (test/helpers/prometheus-text.ts): request
// counters and latency by route template, the work and webhook gauges against work the test created through the API
// (jobs queued, leased, cancelling, cancelled; a zero-shot evaluation) and outbox rows it wrote; GET /metrics.json and
// GET /metrics/queue with the same figures; and who may read them (METRICS_TOKEN or the admin token, nobody else).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, configFromEnv } from '../../../edge/config.ts';
import { newId } from '../../../edge/ids.ts';
import { ADMIN_TOKEN, type TestEdge, WORKER_TOKEN, jsonHeaders, startTestEdge } from '../../helpers/edge.ts';
import { insertReadyDataset, workerClient } from '../../helpers/jobs.ts';
import { ManualClock } from '../../helpers/manual-clock.ts';
import { type Family, parsePrometheusText, sampleValue } from '../../helpers/prometheus-text.ts';

const METRICS_TOKEN = 'test-metrics-token-0123456789';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

// The figures' "now" (ages, the last hour) is the edge's clock: held still, so an age is exact, not a wall-time window.
const clock = new ManualClock();
let edge: TestEdge;
let tenant: { id: string; api_key: string };

beforeAll(async () => {
  edge = await startTestEdge({ metricsToken: METRICS_TOKEN, quotas: { concurrent_jobs: 20 }, clock: clock.now });
  tenant = await edge.createTenant('Metrics Co');
});
afterAll(async () => {
  await edge?.close();
});

async function scrape(token = METRICS_TOKEN): Promise<Map<string, Family>> {
  const res = await edge.fetch('/metrics', { headers: bearer(token) });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await res.text());
}

async function expectUnauthorized(res: Response): Promise<void> {
  expect(res.status).toBe(401);
  expect(await res.json()).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
}

describe('who may read the metrics', () => {
  it('401 in the error shape without a token, with a wrong one, a tenant key or a worker token, on every metrics route', async () => {
    for (const path of ['/metrics', '/metrics.json', '/metrics/queue']) {
      await expectUnauthorized(await edge.fetch(path));
      for (const token of ['not-the-metrics-token-000000', `${METRICS_TOKEN}x`, tenant.api_key, WORKER_TOKEN]) {
        await expectUnauthorized(await edge.fetch(path, { headers: bearer(token) }));
      }
      await expectUnauthorized(await edge.fetch(path, { headers: { authorization: `Basic ${METRICS_TOKEN}` } }));
    }
  });

  it('the metrics token and the admin token both read them', async () => {
    for (const token of [METRICS_TOKEN, ADMIN_TOKEN]) {
      for (const path of ['/metrics', '/metrics.json', '/metrics/queue']) {
        expect((await edge.fetch(path, { headers: bearer(token) })).status).toBe(200);
      }
    }
  });
});

describe('METRICS_TOKEN', () => {
  const env = { ADMIN_TOKEN, WORKER_TOKEN };
  it('is read from the environment; optional', () => {
    expect(configFromEnv({ ...env, METRICS_TOKEN }).metricsToken).toBe(METRICS_TOKEN);
    expect(configFromEnv(env).metricsToken).toBeUndefined();
  });
  it('must be a long printable token, different from the admin, worker and inference tokens', () => {
    for (const bad of ['short', 'has spaces in it 0123456789', ADMIN_TOKEN, WORKER_TOKEN]) {
      expect(() => configFromEnv({ ...env, METRICS_TOKEN: bad }), bad).toThrow(ConfigError);
    }
  });
  it('unset: the admin token still reads the metrics, and no other token does', async () => {
    const plain = await startTestEdge();
    try {
      expect((await plain.fetch('/metrics/queue', { headers: bearer(ADMIN_TOKEN) })).status).toBe(200);
      await expectUnauthorized(await plain.fetch('/metrics/queue', { headers: bearer(METRICS_TOKEN) }));
    } finally {
      await plain.close();
    }
  });
});

describe('request metrics', () => {
  it('N requests to a route raise its counter by N under the route template (not the raw path), method and status', async () => {
    const before = await scrape();
    const N = 5;
    for (let i = 0; i < N; i++) {
      const res = await edge.fetch(`/v1/datasets/ds_missing${i}`, { headers: bearer(tenant.api_key) });
      expect(res.status).toBe(404);
    }
    for (let i = 0; i < 3; i++) expect((await edge.fetch('/v1/datasets', { headers: bearer(tenant.api_key) })).status).toBe(200);
    const after = await scrape();

    const labels404 = { method: 'GET', route: '/v1/datasets/:id', status: '404' };
    const labels200 = { method: 'GET', route: '/v1/datasets', status: '200' };
    const delta = (name: string, labels: Record<string, string>) => (sampleValue(after, name, labels) ?? 0) - (sampleValue(before, name, labels) ?? 0);
    expect(delta('edge_http_requests_total', labels404)).toBe(N);
    expect(delta('edge_http_requests_total', labels200)).toBe(3);
    expect(delta('edge_http_request_duration_seconds_count', { method: 'GET', route: '/v1/datasets/:id' })).toBe(N);
    expect(delta('edge_http_request_duration_seconds_bucket', { method: 'GET', route: '/v1/datasets/:id', le: '+Inf' })).toBe(N);
    expect(after.get('edge_http_requests_total')?.type).toBe('counter');
    expect(after.get('edge_http_request_duration_seconds')?.type).toBe('histogram');
    // No series carries a raw id.
    const routes = after.get('edge_http_requests_total')!.samples.map((s) => s.labels.route);
    expect(routes.filter((r) => r.includes('ds_missing'))).toEqual([]);
  });

  it('a request that fails authentication is counted under its route with status 401; an unknown path under route "none"', async () => {
    const before = await scrape();
    expect((await edge.fetch('/v1/datasets/ds_x')).status).toBe(401);
    expect((await edge.fetch('/no/such/path')).status).toBe(404);
    const after = await scrape();
    const delta = (labels: Record<string, string>) => (sampleValue(after, 'edge_http_requests_total', labels) ?? 0) - (sampleValue(before, 'edge_http_requests_total', labels) ?? 0);
    expect(delta({ method: 'GET', route: '/v1/datasets/:id', status: '401' })).toBe(1);
    expect(delta({ method: 'GET', route: 'none', status: '404' })).toBe(1);
  });

  it('includes the process metrics of prom-client', async () => {
    const m = await scrape();
    expect(m.get('process_cpu_user_seconds_total')?.type).toBe('counter');
    expect(m.get('nodejs_heap_size_used_bytes')?.type).toBe('gauge');
  });
});

describe('work and webhook figures', () => {
  const post = (path: string, body: unknown) => edge.fetch(path, { method: 'POST', headers: jsonHeaders(tenant.api_key), body: JSON.stringify(body) });

  function insertDelivery(status: 'pending' | 'failed' | 'succeeded', attempts: number, createdAt: Date): void {
    const id = newId('webhookMessage');
    edge.db.raw
      .prepare(
        `INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_type, payload, status, attempts, next_attempt_at, created_at)
         VALUES (?, ?, 'ep_metrics', 'training_job.succeeded', ?, ?, ?, ?, ?)`,
      )
      .run(id, tenant.id, JSON.stringify({ id }), status, attempts, createdAt.getTime(), createdAt.toISOString());
  }

  it('gauges, /metrics.json and /metrics/queue count exactly the work the test created', async () => {
    const dataset = insertReadyDataset(edge, tenant.id);
    const jobs: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await post('/v1/training-jobs', { dataset_id: dataset, method: 'coop' });
      expect(res.status, await res.clone().text()).toBe(201);
      jobs.push(((await res.json()) as { id: string }).id);
    }
    // Oldest first: leases take jobs in created_at order. Two leased (running), one of them then cancelling.
    const worker = workerClient(edge);
    const leased = [await worker.leaseOk('w1'), await worker.leaseOk('w2')];
    expect(leased.map((l) => l.job.id)).toEqual(jobs.slice(0, 2));
    expect((await post(`/v1/training-jobs/${jobs[1]}/cancel`, {})).status).toBe(200);
    // A queued one cancelled: it ends at once (cancelled in the last hour).
    expect((await post(`/v1/training-jobs/${jobs[5]}/cancel`, {})).status).toBe(200);
    const ev = await post('/v1/evaluations', { model: 'zero-shot', dataset_id: dataset });
    expect(ev.status, await ev.clone().text()).toBe(202);
    // The oldest queued row is jobs[2]: make its age known.
    const now = clock.now().getTime();
    edge.db.raw.prepare('UPDATE training_jobs SET created_at = ? WHERE id = ?').run(new Date(now - 120_000).toISOString(), jobs[2]);
    insertDelivery('pending', 0, new Date(now - 1000));
    insertDelivery('pending', 2, new Date(now - 300_000));
    insertDelivery('failed', 6, new Date(now - 3_600_000));
    insertDelivery('succeeded', 1, new Date(now - 5000));

    const m = await scrape();
    const g = (name: string, labels: Record<string, string> = {}) => sampleValue(m, name, labels);
    expect(m.get('edge_jobs')?.type).toBe('gauge');
    expect(g('edge_jobs', { kind: 'training', state: 'queued' })).toBe(3);
    expect(g('edge_jobs', { kind: 'training', state: 'running' })).toBe(1);
    expect(g('edge_jobs', { kind: 'training', state: 'cancelling' })).toBe(1);
    expect(g('edge_jobs', { kind: 'evaluation', state: 'queued' })).toBe(1);
    expect(g('edge_jobs', { kind: 'evaluation', state: 'running' })).toBe(0);
    expect(g('edge_jobs_finished_last_hour', { kind: 'training', state: 'cancelled' })).toBe(1);
    expect(g('edge_jobs_finished_last_hour', { kind: 'training', state: 'succeeded' })).toBe(0);
    expect(g('edge_job_queue_depth')).toBe(4);
    expect(g('edge_job_queue_running')).toBe(2);
    expect(g('edge_job_queue_oldest_age_seconds')).toBe(120);
    expect(g('edge_webhook_deliveries', { state: 'pending' })).toBe(2);
    expect(g('edge_webhook_deliveries', { state: 'failed' })).toBe(1);
    expect(g('edge_webhook_deliveries_retrying')).toBe(1);
    expect(g('edge_webhook_backlog_oldest_age_seconds')).toBe(300);

    const json = (await (await edge.fetch('/metrics.json', { headers: bearer(METRICS_TOKEN) })).json()) as Record<string, unknown>;
    expect(json).toMatchObject({
      jobs: { training: { queued: 3, running: 1, cancelling: 1 }, evaluation: { queued: 1, running: 0, cancelling: 0 } },
      jobs_finished_last_hour: { training: { succeeded: 0, failed: 0, cancelled: 1 }, evaluation: { succeeded: 0, failed: 0, cancelled: 0 } },
      queue: { queued: 4, running: 2, demand: 6 },
      webhooks: { pending: 2, retrying: 1, failed: 1, oldest_pending_seconds: 300 },
      generated_at: new Date(now).toISOString(),
    });
    const queue = (await (await edge.fetch('/metrics/queue', { headers: bearer(METRICS_TOKEN) })).json()) as Record<string, number>;
    expect(Object.keys(queue).sort()).toEqual(['demand', 'oldest_queued_seconds', 'queued', 'running']);
    expect(queue).toMatchObject({ queued: 4, running: 2, demand: 6 });
    expect(queue.oldest_queued_seconds).toBe(120);
  });
});
