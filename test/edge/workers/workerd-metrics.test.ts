// The metrics routes on the Workers build inside workerd (`wrangler dev`, local D1): GET /metrics.json and
// GET /metrics/queue read the same figures from D1 as the Node edge reads from SQLite (edge/metrics/ops-figures.ts),
// KEDA's query as infra/k8s/scaledobject.yaml configures it gets the jobs the test created, GET /metrics (Prometheus
// text, Node only) is 404 pointing to /metrics.json, and nothing is readable without the metrics or admin token.
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricsApiTrigger, queryAsKeda } from '../../helpers/keda.ts';
import { type RunningS3rver, startS3rver } from '../../helpers/s3rver.ts';
import { type WranglerDev, WORKERD_ADMIN, WORKERD_WORKER, edgeVars, startWranglerDev } from '../../helpers/wrangler-dev.ts';

const METRICS_TOKEN = 'workerd-metrics-token-0123456789';
let s3: RunningS3rver;
let dev: WranglerDev;

beforeAll(async () => {
  s3 = await startS3rver();
  dev = await startWranglerDev({ vars: edgeVars(s3, { METRICS_TOKEN, QUOTA_CONCURRENT_JOBS: '10' }) });
}, 90_000);
afterAll(async () => {
  await dev?.stop();
  await s3?.stop();
});

const f = (path: string, init?: RequestInit) => fetch(dev.base + path, init);
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const post = (path: string, token: string, body: unknown = {}) =>
  f(path, { method: 'POST', headers: { ...bearer(token), 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function readyDataset(apiKey: string): Promise<string> {
  const res = await post('/v1/datasets', apiKey, { name: 'Metrics', classes: ['cat', 'dog'] });
  expect(res.status).toBe(201);
  const id = ((await res.json()) as { id: string }).id;
  for (const [label, shade] of [['cat', 10], ['dog', 200]] as const) {
    const fd = new FormData();
    fd.append('label', label);
    for (const s of [shade, shade + 20]) {
      const png = await sharp({ create: { width: 12, height: 10, channels: 3, background: { r: s, g: 90, b: 160 } } }).png().toBuffer();
      fd.append('file', new Blob([new Uint8Array(png)], { type: 'image/png' }), `${label}${s}.png`);
    }
    const up = await f(`/v1/datasets/${id}/images`, { method: 'POST', headers: bearer(apiKey), body: fd });
    expect(up.status, await up.clone().text()).toBe(201);
  }
  expect((await post(`/v1/datasets/${id}/finalize`, apiKey)).status).toBe(200);
  return id;
}

describe('metrics on Workers (workerd, D1)', () => {
  it('401 without the metrics or admin token; the worker token and tenant keys are refused too', async () => {
    const tenant = (await (await post('/v1/tenants', WORKERD_ADMIN, { name: 'Nosy' })).json()) as { api_key: string };
    for (const path of ['/metrics', '/metrics.json', '/metrics/queue']) {
      for (const headers of [{}, bearer('not-the-metrics-token-000000'), bearer(WORKERD_WORKER), bearer(tenant.api_key)]) {
        const res = await f(path, { headers });
        expect(res.status, path).toBe(401);
        expect(await res.json()).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
      }
    }
  });

  it('/metrics.json and the KEDA query count the work the test created over D1; /metrics is 404 here', async () => {
    const trigger = metricsApiTrigger();
    expect(await queryAsKeda(dev.base, trigger, METRICS_TOKEN)).toEqual({ status: 200, value: 0 });

    const tenant = (await (await post('/v1/tenants', WORKERD_ADMIN, { name: 'Scaled on D1' })).json()) as { api_key: string };
    const dataset = await readyDataset(tenant.api_key);
    const jobs: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await post('/v1/training-jobs', tenant.api_key, { dataset_id: dataset, method: 'coop' });
      expect(res.status, await res.clone().text()).toBe(201);
      jobs.push(((await res.json()) as { id: string }).id);
    }
    expect((await post('/v1/evaluations', tenant.api_key, { model: 'zero-shot', dataset_id: dataset })).status).toBe(202);
    expect(await queryAsKeda(dev.base, trigger, METRICS_TOKEN)).toEqual({ status: 200, value: 5 });

    const lease = await post('/internal/v1/leases', WORKERD_WORKER, { worker_id: 'gpu-1' });
    expect(lease.status).toBe(200);
    expect((await post(`/v1/training-jobs/${jobs[3]}/cancel`, tenant.api_key)).status).toBe(200); // queued → cancelled

    const res = await f('/metrics.json', { headers: bearer(METRICS_TOKEN) });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      jobs: { training: { queued: 2, running: 1, cancelling: 0 }, evaluation: { queued: 1, running: 0, cancelling: 0 } },
      jobs_finished_last_hour: { training: { succeeded: 0, failed: 0, cancelled: 1 } },
      queue: { queued: 3, running: 1, demand: 4 },
      webhooks: { pending: 0, retrying: 0, failed: 0, oldest_pending_seconds: 0 },
    });
    expect(await queryAsKeda(dev.base, trigger, METRICS_TOKEN)).toEqual({ status: 200, value: 4 });
    expect(await queryAsKeda(dev.base, trigger, WORKERD_ADMIN)).toEqual({ status: 200, value: 4 });
    expect(await queryAsKeda(dev.base, trigger, null)).toEqual({ status: 401, value: undefined });

    const text = await f('/metrics', { headers: bearer(METRICS_TOKEN) });
    expect(text.status).toBe(404);
    const body = (await text.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('not_found');
    expect(body.error.message).toMatch(/\/metrics\.json/);
  });
});
