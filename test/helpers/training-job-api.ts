// The fixture of the training-job, worker API and evaluation route tests (test/edge/routes/training-jobs,
// trainer-api, evaluations*, training-job-validation): one edge per test, the training-job requests, the error
// body, webhook endpoints written straight into SQLite and row counts of what a request may write.
import { afterEach, expect } from 'vitest';
import type { EdgeConfigInput } from '../../edge/config.ts';
import { type TestEdge, bearer, jsonHeaders, startTestEdge } from './edge.ts';
import { count, insertReadyDataset } from './jobs.ts';
import type { ManualClock } from './manual-clock.ts';

export type Job = {
  id: string;
  status: string;
  dataset_id: string;
  method: string;
  hyperparameters: Record<string, unknown>;
  metadata: Record<string, string>;
  progress: { epoch: number; epochs: number; step: number; steps: number };
  metrics: Record<string, number>;
  model_id: string | null;
  error: { code: string; message: string } | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
};
export type ApiError = { code: string; message: string; param?: string };

/**
 * One edge per test: the job queue is global, so a test must not see another test's queued jobs. Registers an
 * afterEach that closes the edge the test started; `fresh` starts one with a concurrent_jobs quota (and a clock the
 * test moves, if given), `start` one with any config.
 */
export function edgePerTest() {
  let edge: TestEdge | undefined;
  afterEach(async () => {
    await edge?.close();
  });
  async function start(config: Partial<EdgeConfigInput>): Promise<TestEdge> {
    edge = await startTestEdge(config);
    return edge;
  }
  async function fresh(concurrentJobs = 5, clock?: ManualClock): Promise<TestEdge> {
    return start({ quotas: { concurrent_jobs: concurrentJobs }, ...(clock ? { clock: clock.now } : {}) });
  }
  return { fresh, start };
}

export async function errorOf(res: Response): Promise<ApiError> {
  const body = (await res.json()) as { error: ApiError };
  expect(Object.keys(body)).toEqual(['error']);
  return body.error;
}

export async function tenantWithDataset(e: TestEdge, name = 'Acme') {
  const t = await e.createTenant(name);
  return { ...t, datasetId: insertReadyDataset(e, t.id) };
}

export async function createJob(e: TestEdge, key: string, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return e.fetch('/v1/training-jobs', { method: 'POST', headers: jsonHeaders(key, headers), body: JSON.stringify(body) });
}

export async function createJobOk(e: TestEdge, key: string, datasetId: string, extra: Record<string, unknown> = {}): Promise<Job> {
  const res = await createJob(e, key, { dataset_id: datasetId, method: 'cocoop', ...extra });
  if (res.status !== 201) throw new Error(`create job: ${res.status} ${await res.text()}`);
  return (await res.json()) as Job;
}

export async function getJob(e: TestEdge, key: string, id: string): Promise<Job> {
  const res = await e.fetch(`/v1/training-jobs/${id}`, { headers: bearer(key) });
  expect(res.status).toBe(200);
  return (await res.json()) as Job;
}

export async function events(e: TestEdge, key: string, id: string): Promise<{ message: string; level: string; type: string; data?: unknown }[]> {
  const res = await e.fetch(`/v1/training-jobs/${id}/events?limit=100`, { headers: bearer(key) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: { message: string; level: string; type: string }[] }).data;
}

export function insertWebhookEndpoint(e: TestEdge, tenantId: string, events: string[]): string {
  const id = `whe_test${Math.random().toString(36).slice(2, 12)}`;
  e.db.raw
    .prepare('INSERT INTO webhook_endpoints (id, tenant_id, url, events, secret, created_at) VALUES (?, ?, ?, ?, ?, ?)')
    .run(id, tenantId, 'https://hooks.example/x', JSON.stringify(events), 'whsec_dGVzdA==', new Date().toISOString());
  return id;
}

/** How many webhook outbox rows of `type` the tenant has. */
export const deliveries = (e: TestEdge, tenantId: string, type: string) =>
  count(e, 'SELECT COUNT(*) AS n FROM webhook_deliveries WHERE tenant_id = ? AND event_type = ?', tenantId, type);

/** Row counts of everything a create may write. */
export function snapshot(e: TestEdge) {
  return {
    jobs: count(e, 'SELECT COUNT(*) AS n FROM training_jobs'),
    events: count(e, 'SELECT COUNT(*) AS n FROM job_events'),
    deliveries: count(e, 'SELECT COUNT(*) AS n FROM webhook_deliveries'),
  };
}
