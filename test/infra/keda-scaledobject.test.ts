// infra/k8s/scaledobject.yaml against a running Node edge: the trigger is KEDA's metrics-api with bearer
// authentication from a TriggerAuthentication, its URL path is the edge's /metrics/queue, and a query made the way the
// scaler makes it (GET, Authorization: Bearer <METRICS_TOKEN>, the number at valueLocation) counts the work the test
// created. The same query against the Workers build is in test/edge/workers/workerd-metrics.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestEdge, jsonHeaders, startTestEdge } from '../helpers/edge.ts';
import { insertReadyDataset, workerClient } from '../helpers/jobs.ts';
import { DOTTED_PATH, type MetricsApiTrigger, metricsApiTrigger, queryAsKeda } from '../helpers/keda.ts';

const METRICS_TOKEN = 'keda-metrics-token-0123456789';
let edge: TestEdge;
let trigger: MetricsApiTrigger;

beforeAll(async () => {
  trigger = metricsApiTrigger();
  edge = await startTestEdge({ metricsToken: METRICS_TOKEN, quotas: { concurrent_jobs: 10 } });
});
afterAll(async () => {
  await edge?.close();
});

describe('infra/k8s/scaledobject.yaml', () => {
  it('is a metrics-api trigger on /metrics/queue with bearer auth, a simple dotted valueLocation and the worker Deployment as target', () => {
    expect(trigger.authMode).toBe('bearer');
    expect(trigger.authParameters).toEqual(['token']);
    expect(new URL(trigger.url).pathname).toBe('/metrics/queue');
    expect(trigger.valueLocation).toMatch(DOTTED_PATH);
    expect(Number(trigger.targetValue)).toBeGreaterThan(0);
    expect(trigger.scaleTargetName).toBe('cocoop-worker');
  });

  it('the scaler reads the number of jobs needing a worker: queued ones, and leased ones still holding theirs', async () => {
    expect(await queryAsKeda(edge.url, trigger, METRICS_TOKEN)).toEqual({ status: 200, value: 0 });
    const tenant = await edge.createTenant('Scaled Co');
    const dataset = insertReadyDataset(edge, tenant.id);
    const N = 3;
    for (let i = 0; i < N; i++) {
      const res = await edge.fetch('/v1/training-jobs', { method: 'POST', headers: jsonHeaders(tenant.api_key), body: JSON.stringify({ dataset_id: dataset, method: 'coop' }) });
      expect(res.status).toBe(201);
    }
    expect(await queryAsKeda(edge.url, trigger, METRICS_TOKEN)).toEqual({ status: 200, value: N });
    // A worker takes one: it is no longer queued but still needs its pod, so the wanted pool size stays N.
    await workerClient(edge).leaseOk('w1');
    expect(await queryAsKeda(edge.url, trigger, METRICS_TOKEN)).toEqual({ status: 200, value: N });
    const queue = (await (await edge.fetch('/metrics/queue', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).json()) as Record<string, number>;
    expect(queue).toMatchObject({ queued: N - 1, running: 1, demand: N });
  });

  it('without the token, or with another, the scaler gets 401 and no value', async () => {
    expect(await queryAsKeda(edge.url, trigger, null)).toEqual({ status: 401, value: undefined });
    expect(await queryAsKeda(edge.url, trigger, 'not-the-metrics-token-0000')).toEqual({ status: 401, value: undefined });
  });
});
