// Evaluations (POST/GET /v1/evaluations) and the validation inputs of training jobs over real HTTP with real
// SQLite, with the internal worker API driven by hand (workerClient): creation with defaults, get, list with a
// cursor, the evaluation lease (model artifact + dataset images), /result and /fail with their webhook outbox
// rows, the wrong final report of each kind (409), a result for other labels (422), an expired lease re-leased
// (attempts 2, the old lease refused); every bad input answered with its documented status, code and param and
// with nothing written; datasets in use as a validation dataset cannot be deleted.
import { afterEach, describe, expect, it } from 'vitest';
import type { Lease } from '../../../shared/contracts/worker-api.ts';
import { type TestEdge, bearer, jsonHeaders, startTestEdge } from '../../helpers/edge.ts';
import { completeBody, count, insertReadyDataset, workerClient } from '../../helpers/jobs.ts';

type Scores = {
  n: number;
  accuracy: number;
  zero_shot_accuracy: number;
  per_class: { label: string; n: number; accuracy: number; zero_shot_accuracy: number }[];
  confusion: { labels: string[]; matrix: number[][] };
};
type Evaluation = {
  id: string;
  object: string;
  model: string;
  dataset_id: string;
  labels: string[];
  status: string;
  result: Scores | null;
  error: { code: string; message: string } | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
};
type ApiError = { code: string; message: string; param?: string };
type EvaluationLeaseBody = Extract<Lease, { kind: 'evaluation' }>;

// One edge per test: the worker queue is global.
let edge: TestEdge;
afterEach(async () => {
  await edge?.close();
});
async function fresh(concurrentJobs = 5): Promise<TestEdge> {
  edge = await startTestEdge({ quotas: { concurrent_jobs: concurrentJobs } });
  return edge;
}

async function errorOf(res: Response): Promise<ApiError> {
  const body = (await res.json()) as { error: ApiError };
  expect(Object.keys(body)).toEqual(['error']);
  return body.error;
}

const createEvaluation = (e: TestEdge, key: string, body: unknown, headers: Record<string, string> = {}) =>
  e.fetch('/v1/evaluations', { method: 'POST', headers: jsonHeaders(key, headers), body: JSON.stringify(body) });

async function createEvaluationOk(e: TestEdge, key: string, body: Record<string, unknown>): Promise<Evaluation> {
  const res = await createEvaluation(e, key, body);
  if (res.status !== 202) throw new Error(`create evaluation: ${res.status} ${await res.text()}`);
  return (await res.json()) as Evaluation;
}

async function getEvaluation(e: TestEdge, key: string, id: string): Promise<Evaluation> {
  const res = await e.fetch(`/v1/evaluations/${id}`, { headers: bearer(key) });
  expect(res.status).toBe(200);
  return (await res.json()) as Evaluation;
}

const createJob = (e: TestEdge, key: string, body: unknown) =>
  e.fetch('/v1/training-jobs', { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify(body) });

/** A published model of the tenant: a training job created, leased and completed through the worker API. */
async function publishModel(e: TestEdge, key: string, tenantId: string): Promise<{ modelId: string; artifactKey: string; sha256: string }> {
  const datasetId = insertReadyDataset(e, tenantId, ['cat', 'dog'], 2);
  const res = await createJob(e, key, { dataset_id: datasetId, method: 'cocoop' });
  expect(res.status).toBe(201);
  const w = workerClient(e);
  const lease = await w.leaseOk('trainer');
  const body = await completeBody(e, lease);
  const done = await w.complete(lease.job.id, body);
  expect(done.status).toBe(200);
  const modelId = ((await done.json()) as { model_id: string }).model_id;
  return { modelId, artifactKey: lease.storage.artifact_key, sha256: body.artifact.sha256 };
}

async function leaseEvaluation(e: TestEdge, workerId = 'w1'): Promise<EvaluationLeaseBody> {
  const lease = await workerClient(e).leaseAnyOk(workerId, 60);
  if (lease.kind !== 'evaluation') throw new Error(`expected an evaluation lease, got ${lease.kind}`);
  return lease;
}

function insertWebhookEndpoint(e: TestEdge, tenantId: string, events: string[]): string {
  const id = `whe_test${Math.random().toString(36).slice(2, 12)}`;
  e.db.raw
    .prepare('INSERT INTO webhook_endpoints (id, tenant_id, url, events, secret, created_at) VALUES (?, ?, ?, ?, ?, ?)')
    .run(id, tenantId, 'https://hooks.example/x', JSON.stringify(events), 'whsec_dGVzdA==', new Date().toISOString());
  return id;
}

function deliveryRows(e: TestEdge, type: string): { endpoint_id: string; payload: string }[] {
  return e.db.raw.prepare('SELECT endpoint_id, payload FROM webhook_deliveries WHERE event_type = ? ORDER BY endpoint_id').all(type) as {
    endpoint_id: string;
    payload: string;
  }[];
}

/** Row counts of everything a create may write. */
function snapshot(e: TestEdge) {
  return {
    jobs: count(e, 'SELECT COUNT(*) AS n FROM training_jobs'),
    events: count(e, 'SELECT COUNT(*) AS n FROM job_events'),
    deliveries: count(e, 'SELECT COUNT(*) AS n FROM webhook_deliveries'),
  };
}

/** Hand-written figures for a cat×2 + dog×2 dataset classified against [cat, dog]: 3 of 4 right, zero-shot 2 of 4. */
function handResult(labels = ['cat', 'dog']): Scores {
  return {
    n: 4,
    accuracy: 0.75,
    zero_shot_accuracy: 0.5,
    per_class: [
      { label: 'cat', n: 2, accuracy: 1, zero_shot_accuracy: 0.5 },
      { label: 'dog', n: 2, accuracy: 0.5, zero_shot_accuracy: 0.5 },
    ],
    // Rows: true cat → [2, 0], true dog → [1, 1]; rows and columns of further labels are zero.
    confusion: {
      labels,
      matrix: labels.map((truth) => labels.map((_, j) => (truth === 'cat' && j === 0 ? 2 : truth === 'dog' && j < 2 ? 1 : 0))),
    },
  };
}

describe('POST /v1/evaluations, GET, list', () => {
  it('202 with the defaults (labels = the dataset classes, sorted); GET returns it; other tenants get 404', async () => {
    const e = await fresh();
    const t = await e.createTenant();
    const { modelId } = await publishModel(e, t.api_key, t.id);
    const datasetId = insertReadyDataset(e, t.id, ['zebra', 'ant', 'moth'], 1);
    const before = snapshot(e);
    const res = await createEvaluation(e, t.api_key, { model: modelId, dataset_id: datasetId });
    expect(res.status).toBe(202);
    const ev = (await res.json()) as Evaluation;
    expect(ev.id).toMatch(/^eval_[0-9a-z]+$/);
    expect(ev).toEqual({
      id: ev.id,
      object: 'evaluation',
      model: modelId,
      dataset_id: datasetId,
      labels: ['ant', 'moth', 'zebra'],
      status: 'queued',
      result: null,
      error: null,
      created_at: expect.any(String),
      started_at: null,
      finished_at: null,
    });
    expect(Number.isNaN(Date.parse(ev.created_at))).toBe(false);
    expect(snapshot(e)).toEqual({ ...before, jobs: before.jobs + 1, events: before.events + 1 });
    expect(await getEvaluation(e, t.api_key, ev.id)).toEqual(ev);

    // Zero-shot, with labels given (kept in the given order) and a distractor.
    const zs = await createEvaluationOk(e, t.api_key, { model: 'zero-shot', dataset_id: datasetId, labels: ['moth', 'zebra', 'ant', 'bee'] });
    expect(zs).toMatchObject({ model: 'zero-shot', labels: ['moth', 'zebra', 'ant', 'bee'], status: 'queued' });

    // Another tenant sees none of it; an evaluation is not a training job and vice versa.
    const other = await e.createTenant('Other');
    expect((await e.fetch(`/v1/evaluations/${ev.id}`, { headers: bearer(other.api_key) })).status).toBe(404);
    expect((await (await e.fetch('/v1/evaluations', { headers: bearer(other.api_key) })).json()) as unknown).toEqual({ data: [], has_more: false });
    expect((await e.fetch(`/v1/training-jobs/${ev.id}`, { headers: bearer(t.api_key) })).status).toBe(404);
    const jobs = (await (await e.fetch('/v1/training-jobs', { headers: bearer(t.api_key) })).json()) as { data: { id: string }[] };
    expect(jobs.data.map((j) => j.id).filter((id) => id.startsWith('eval_'))).toEqual([]);
    expect(jobs.data).toHaveLength(1);
    const jobId = jobs.data[0]!.id;
    expect((await e.fetch(`/v1/evaluations/${jobId}`, { headers: bearer(t.api_key) })).status).toBe(404);
    expect((await e.fetch(`/v1/evaluations/eval_doesnotexist000000000`, { headers: bearer(t.api_key) })).status).toBe(404);
  });

  it('lists newest first with a cursor', async () => {
    const e = await fresh(10);
    const t = await e.createTenant();
    const datasetId = insertReadyDataset(e, t.id);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await createEvaluationOk(e, t.api_key, { model: 'zero-shot', dataset_id: datasetId })).id);
    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    for (;;) {
      const res = await e.fetch(`/v1/evaluations?limit=2${after ? `&after=${after}` : ''}`, { headers: bearer(t.api_key) });
      expect(res.status).toBe(200);
      const page = (await res.json()) as { data: Evaluation[]; has_more: boolean };
      pages++;
      expect(page.data.length).toBeLessThanOrEqual(2);
      for (const ev of page.data) expect(ev.object).toBe('evaluation');
      seen.push(...page.data.map((x) => x.id));
      if (!page.has_more) break;
      after = page.data.at(-1)!.id;
      expect(pages).toBeLessThan(10);
    }
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse());
  });

  it('Idempotency-Key: the same key twice creates one evaluation', async () => {
    const e = await fresh();
    const t = await e.createTenant();
    const datasetId = insertReadyDataset(e, t.id);
    const body = { model: 'zero-shot', dataset_id: datasetId };
    const r1 = await createEvaluation(e, t.api_key, body, { 'Idempotency-Key': 'ev-1' });
    const r2 = await createEvaluation(e, t.api_key, body, { 'Idempotency-Key': 'ev-1' });
    expect([r1.status, r2.status]).toEqual([202, 202]);
    expect(((await r2.json()) as Evaluation).id).toBe(((await r1.json()) as Evaluation).id);
    expect(count(e, `SELECT COUNT(*) AS n FROM training_jobs WHERE kind = 'evaluation'`)).toBe(1);
  });
});

describe('the evaluation through the worker API', () => {
  it('the lease carries the model artifact and the dataset images; /result succeeds it with one evaluation.succeeded row per subscribed endpoint', async () => {
    const e = await fresh();
    const t = await e.createTenant();
    const { modelId, artifactKey, sha256 } = await publishModel(e, t.api_key, t.id);
    const model = (await (await e.fetch(`/v1/models/${modelId}`, { headers: bearer(t.api_key) })).json()) as { artifact: { sha256: string } };
    expect(model.artifact.sha256).toBe(sha256);
    const hookA = insertWebhookEndpoint(e, t.id, ['evaluation.succeeded', 'evaluation.failed']);
    const hookB = insertWebhookEndpoint(e, t.id, ['evaluation.succeeded']);
    insertWebhookEndpoint(e, t.id, ['training_job.succeeded']); // not subscribed
    const other = await e.createTenant('Other');
    insertWebhookEndpoint(e, other.id, ['evaluation.succeeded']); // another tenant's

    const datasetId = insertReadyDataset(e, t.id, ['cat', 'dog'], 2);
    const ev = await createEvaluationOk(e, t.api_key, { model: modelId, dataset_id: datasetId });
    const lease = await leaseEvaluation(e);
    expect(lease.attempts).toBe(1);
    expect(lease.tenant_id).toBe(t.id);
    expect(lease.evaluation.id).toBe(ev.id);
    expect(lease.evaluation.status).toBe('running');
    expect(lease.evaluation.labels).toEqual(['cat', 'dog']);
    expect(lease.model).toEqual({ id: modelId, method: 'cocoop', artifact_key: artifactKey, sha256 });
    const rows = e.db.raw.prepare('SELECT id, label, object_key FROM images WHERE dataset_id = ? ORDER BY id').all(datasetId) as {
      id: string;
      label: string;
      object_key: string;
    }[];
    expect(rows).toHaveLength(4);
    expect([...lease.dataset.images].sort((a, b) => a.id.localeCompare(b.id)).map(({ id, label, object_key }) => ({ id, label, object_key }))).toEqual(rows);
    expect(lease.dataset.id).toBe(datasetId);
    const running = await getEvaluation(e, t.api_key, ev.id);
    expect(running.status).toBe('running');
    expect(running.started_at).toEqual(expect.any(String));
    expect(deliveryRows(e, 'evaluation.succeeded')).toEqual([]);

    const w = workerClient(e);
    const hb = await w.heartbeat(ev.id, { lease_id: lease.lease_id, progress: { step: 2, steps: 4 } });
    expect(hb.status).toBe(200);
    expect(((await hb.json()) as { cancel_requested: boolean }).cancel_requested).toBe(false);

    const result = handResult();
    const res = await w.result(ev.id, { lease_id: lease.lease_id, result });
    expect(res.status).toBe(200);
    const done = await getEvaluation(e, t.api_key, ev.id);
    expect(done.status).toBe('succeeded');
    expect(done.result).toEqual(result);
    expect(done.error).toBeNull();
    expect(done.finished_at).toEqual(expect.any(String));
    expect(await res.json()).toEqual(done);

    const rowsSucceeded = deliveryRows(e, 'evaluation.succeeded');
    expect(rowsSucceeded.map((r) => r.endpoint_id)).toEqual([hookA, hookB].sort());
    for (const r of rowsSucceeded) {
      const payload = JSON.parse(r.payload) as { type: string; data: Evaluation };
      expect(payload.type).toBe('evaluation.succeeded');
      expect(payload.data).toMatchObject({ id: ev.id, object: 'evaluation', status: 'succeeded', result });
    }
    expect(deliveryRows(e, 'evaluation.failed')).toEqual([]);

    // A second report under the same lease changes nothing.
    const again = await w.result(ev.id, { lease_id: lease.lease_id, result: { ...result, accuracy: 0.25 } });
    expect(again.status).toBe(409);
    expect((await getEvaluation(e, t.api_key, ev.id)).result).toEqual(result);
    expect(deliveryRows(e, 'evaluation.succeeded')).toHaveLength(2);
    // Nothing left to lease.
    expect((await w.lease('w2')).status).toBe(204);
  });

  it('a zero-shot evaluation is leased without a model; /fail fails it with evaluation.failed', async () => {
    const e = await fresh();
    const t = await e.createTenant();
    const hook = insertWebhookEndpoint(e, t.id, ['evaluation.succeeded', 'evaluation.failed']);
    const datasetId = insertReadyDataset(e, t.id, ['cat', 'dog'], 1);
    const ev = await createEvaluationOk(e, t.api_key, { model: 'zero-shot', dataset_id: datasetId, labels: ['dog', 'cat', 'owl'] });
    const lease = await leaseEvaluation(e);
    expect(lease.model).toBeNull();
    expect(lease.evaluation.labels).toEqual(['dog', 'cat', 'owl']);
    expect(lease.dataset.images).toHaveLength(2);
    const res = await workerClient(e).fail(ev.id, { lease_id: lease.lease_id, code: 'dataset_download_failed', message: 'The images could not be downloaded.' });
    expect(res.status).toBe(200);
    const failed = await getEvaluation(e, t.api_key, ev.id);
    expect(failed).toMatchObject({ status: 'failed', result: null, error: { code: 'dataset_download_failed', message: 'The images could not be downloaded.' } });
    expect(failed.finished_at).toEqual(expect.any(String));
    const rows = deliveryRows(e, 'evaluation.failed');
    expect(rows.map((r) => r.endpoint_id)).toEqual([hook]);
    expect(JSON.parse(rows[0]!.payload)).toMatchObject({ type: 'evaluation.failed', data: { id: ev.id, status: 'failed', error: { code: 'dataset_download_failed' } } });
    expect(deliveryRows(e, 'evaluation.succeeded')).toEqual([]);
    // After failing, /result is refused and writes nothing.
    const late = await workerClient(e).result(ev.id, { lease_id: lease.lease_id, result: handResult(['dog', 'cat', 'owl']) });
    expect(late.status).toBe(409);
    expect((await getEvaluation(e, t.api_key, ev.id)).status).toBe('failed');
  });

  it('a training job cannot /result and an evaluation cannot /complete (409); a result for other labels is 422', async () => {
    const e = await fresh();
    const t = await e.createTenant();
    const w = workerClient(e);
    // A training job, leased: /result is refused.
    const trainDs = insertReadyDataset(e, t.id);
    expect((await createJob(e, t.api_key, { dataset_id: trainDs, method: 'coop' })).status).toBe(201);
    const jobLease = await w.leaseOk('w1');
    const r1 = await w.result(jobLease.job.id, { lease_id: jobLease.lease_id, result: handResult() });
    expect(r1.status).toBe(409);
    expect((await errorOf(r1)).code).toBe('conflict');
    expect(count(e, 'SELECT COUNT(*) AS n FROM training_jobs WHERE id = ? AND status = ? AND result IS NULL', jobLease.job.id, 'running')).toBe(1);
    expect(count(e, 'SELECT COUNT(*) AS n FROM models')).toBe(0);

    // An evaluation, leased: /complete is refused.
    const ev = await createEvaluationOk(e, t.api_key, { model: 'zero-shot', dataset_id: trainDs });
    const lease = await leaseEvaluation(e, 'w2');
    expect(lease.evaluation.id).toBe(ev.id);
    const fakeArtifact = new TextEncoder().encode('not an adapter');
    const key = `tenants/${t.id}/models/whatever/adapter.safetensors`;
    await e.ports.blobs.put(key, fakeArtifact, 'application/octet-stream');
    const r2 = await w.complete(ev.id, {
      lease_id: lease.lease_id,
      artifact: { key, bytes: fakeArtifact.byteLength, sha256: 'a'.repeat(64) },
      base_model: 'toy-clip',
      classes: ['cat', 'dog'],
      metrics: {},
    });
    expect(r2.status).toBe(409);
    expect((await errorOf(r2)).code).toBe('conflict');
    expect(count(e, 'SELECT COUNT(*) AS n FROM models')).toBe(0);
    expect((await getEvaluation(e, t.api_key, ev.id)).status).toBe('running');

    // Result for labels that are not the evaluation's (order matters too).
    const events0 = count(e, 'SELECT COUNT(*) AS n FROM job_events WHERE job_id = ?', ev.id);
    for (const labels of [['dog', 'cat'], ['cat', 'dog', 'owl'], ['cat']]) {
      const bad = handResult(['cat', 'dog']);
      bad.confusion = { labels, matrix: labels.map(() => labels.map(() => 0)) };
      const r3 = await w.result(ev.id, { lease_id: lease.lease_id, result: bad });
      expect(r3.status, JSON.stringify(labels)).toBe(422);
      const err = await errorOf(r3);
      expect(err.code).toBe('validation_failed');
      expect(err.param).toBe('result.confusion.labels');
    }
    expect(count(e, 'SELECT COUNT(*) AS n FROM job_events WHERE job_id = ?', ev.id)).toBe(events0);
    expect(await getEvaluation(e, t.api_key, ev.id)).toMatchObject({ status: 'running', result: null });
    // The right labels then succeed.
    expect((await w.result(ev.id, { lease_id: lease.lease_id, result: handResult() })).status).toBe(200);
  });

  it('an expired lease is re-leased with attempts 2; the old lease can no longer report', async () => {
    const e = await fresh();
    const t = await e.createTenant();
    insertWebhookEndpoint(e, t.id, ['evaluation.succeeded', 'evaluation.failed']);
    const datasetId = insertReadyDataset(e, t.id);
    const ev = await createEvaluationOk(e, t.api_key, { model: 'zero-shot', dataset_id: datasetId });
    const first = await leaseEvaluation(e, 'worker-a');
    expect(first.attempts).toBe(1);
    // Worker a "died": its lease is over.
    e.db.raw.prepare('UPDATE training_jobs SET lease_expires_at = ? WHERE id = ?').run(Date.now() - 1, ev.id);
    const second = await leaseEvaluation(e, 'worker-b');
    expect([second.evaluation.id, second.attempts]).toEqual([ev.id, 2]);
    expect(second.lease_id).not.toBe(first.lease_id);
    const w = workerClient(e);
    const stale = await w.result(ev.id, { lease_id: first.lease_id, result: handResult() });
    expect(stale.status).toBe(409);
    expect((await errorOf(stale)).param).toBe('lease_id');
    expect((await w.heartbeat(ev.id, { lease_id: first.lease_id })).status).toBe(409);
    expect((await w.fail(ev.id, { lease_id: first.lease_id, code: 'x', message: 'old worker' })).status).toBe(409);
    expect(await getEvaluation(e, t.api_key, ev.id)).toMatchObject({ status: 'running', result: null, error: null });
    expect(deliveryRows(e, 'evaluation.succeeded')).toEqual([]);
    expect(deliveryRows(e, 'evaluation.failed')).toEqual([]);

    const ok = await w.result(ev.id, { lease_id: second.lease_id, result: handResult() });
    expect(ok.status).toBe(200);
    expect((await getEvaluation(e, t.api_key, ev.id)).status).toBe('succeeded');
    expect(deliveryRows(e, 'evaluation.succeeded')).toHaveLength(1);
    expect((await w.result(ev.id, { lease_id: first.lease_id, result: handResult() })).status).toBe(409);
    expect(deliveryRows(e, 'evaluation.succeeded')).toHaveLength(1);
  });
});

describe('the attempt limit applies to evaluations', () => {
  it('an evaluation whose last allowed lease expired fails with too_many_attempts and one evaluation.failed row', async () => {
    edge = await startTestEdge({ maxJobAttempts: 1, quotas: { concurrent_jobs: 5 } });
    const e = edge;
    const t = await e.createTenant();
    const hook = insertWebhookEndpoint(e, t.id, ['evaluation.succeeded', 'evaluation.failed']);
    const ev = await createEvaluationOk(e, t.api_key, { model: 'zero-shot', dataset_id: insertReadyDataset(e, t.id) });
    const lease = await leaseEvaluation(e, 'only-try');
    e.db.raw.prepare('UPDATE training_jobs SET lease_expires_at = ? WHERE id = ?').run(Date.now() - 1, ev.id);
    expect((await workerClient(e).lease('next')).status).toBe(204);
    const failed = await getEvaluation(e, t.api_key, ev.id);
    expect(failed.status).toBe('failed');
    expect(failed.error?.code).toBe('too_many_attempts');
    expect(failed.result).toBeNull();
    const rows = deliveryRows(e, 'evaluation.failed');
    expect(rows.map((r) => r.endpoint_id)).toEqual([hook]);
    expect(JSON.parse(rows[0]!.payload)).toMatchObject({ type: 'evaluation.failed', data: { id: ev.id, status: 'failed', error: { code: 'too_many_attempts' } } });
    expect(count(e, `SELECT COUNT(*) AS n FROM job_events WHERE job_id = ? AND level = 'error'`, ev.id)).toBe(1);
    // The expired lease cannot report any more; another lease request changes nothing.
    expect((await workerClient(e).result(ev.id, { lease_id: lease.lease_id, result: handResult() })).status).toBe(409);
    expect((await workerClient(e).lease('again')).status).toBe(204);
    expect(deliveryRows(e, 'evaluation.failed')).toHaveLength(1);
    expect(deliveryRows(e, 'evaluation.succeeded')).toEqual([]);
  });

  it('an evaluation is not a training job: its id is 404 on the training-job routes (cancel included) and it is never cancelled', async () => {
    const e = await fresh();
    const t = await e.createTenant();
    const ev = await createEvaluationOk(e, t.api_key, { model: 'zero-shot', dataset_id: insertReadyDataset(e, t.id) });
    const before = snapshot(e);
    const cancel = await e.fetch(`/v1/training-jobs/${ev.id}/cancel`, { method: 'POST', headers: bearer(t.api_key) });
    expect(cancel.status).toBe(404);
    expect((await e.fetch(`/v1/training-jobs/${ev.id}/events`, { headers: bearer(t.api_key) })).status).toBe(404);
    expect(snapshot(e)).toEqual(before);
    expect((await getEvaluation(e, t.api_key, ev.id)).status).toBe('queued');
    // A worker's /cancelled on a running evaluation is refused (it is never cancelling).
    const lease = await leaseEvaluation(e);
    expect((await workerClient(e).cancelled(ev.id, { lease_id: lease.lease_id })).status).toBe(409);
    expect((await getEvaluation(e, t.api_key, ev.id)).status).toBe('running');
  });
});

describe('bad input to POST /v1/evaluations writes nothing', () => {
  it('404 / 409 / 422 with the documented code and param', async () => {
    const e = await fresh(10);
    const t = await e.createTenant();
    const other = await e.createTenant('Other');
    const { modelId } = await publishModel(e, t.api_key, t.id);
    const foreign = await publishModel(e, other.api_key, other.id);
    const doomed = await publishModel(e, t.api_key, t.id);
    expect((await e.fetch(`/v1/models/${doomed.modelId}`, { method: 'DELETE', headers: bearer(t.api_key) })).status).toBe(204);
    const ready = insertReadyDataset(e, t.id, ['cat', 'dog', 'fox'], 1);
    const open = insertReadyDataset(e, t.id, ['cat', 'dog'], 1, 'open');
    const foreignDs = insertReadyDataset(e, other.id, ['cat', 'dog'], 1);

    const cases: [string, Record<string, unknown>, number, string, RegExp][] = [
      ['model of another tenant', { model: foreign.modelId, dataset_id: ready }, 404, 'not_found', /^model$/],
      ['deleted model', { model: doomed.modelId, dataset_id: ready }, 404, 'not_found', /^model$/],
      ['unknown model', { model: 'mdl_doesnotexist0000000000', dataset_id: ready }, 404, 'not_found', /^model$/],
      ['dataset not ready', { model: modelId, dataset_id: open }, 409, 'conflict', /^dataset_id$/],
      ['dataset of another tenant', { model: modelId, dataset_id: foreignDs }, 404, 'not_found', /^dataset_id$/],
      ['unknown dataset', { model: 'zero-shot', dataset_id: 'ds_doesnotexist00000000000' }, 404, 'not_found', /^dataset_id$/],
      ['labels missing a class', { model: modelId, dataset_id: ready, labels: ['cat', 'dog', 'owl'] }, 422, 'validation_failed', /^labels$/],
      // API.md says param `labels`; the index of the repeat is a finer pointer into it.
      ['duplicate labels', { model: modelId, dataset_id: ready, labels: ['cat', 'dog', 'fox', 'dog'] }, 422, 'validation_failed', /^labels(\[3\]|\.3)?$/],
      ['empty labels', { model: modelId, dataset_id: ready, labels: [] }, 422, 'validation_failed', /^labels$/],
      ['no model', { dataset_id: ready }, 422, 'validation_failed', /^model$/],
      ['unknown field', { model: modelId, dataset_id: ready, epochs: 3 }, 422, 'validation_failed', /.*/],
    ];
    for (const [name, body, status, code, param] of cases) {
      const before = snapshot(e);
      const res = await createEvaluation(e, t.api_key, body);
      expect(res.status, name).toBe(status);
      const err = await errorOf(res);
      expect(err.code, name).toBe(code);
      expect(err.message.length, name).toBeGreaterThan(10);
      if (name !== 'unknown field') expect(err.param ?? '', name).toMatch(param);
      expect(snapshot(e), name).toEqual(before);
    }
    // The same model and dataset are fine.
    await createEvaluationOk(e, t.api_key, { model: modelId, dataset_id: ready, labels: ['fox', 'dog', 'cat', 'owl'] });
  });

  it('409 over the concurrent_jobs quota, counted together with training jobs; a finished one frees a slot', async () => {
    const e = await fresh(2);
    const t = await e.createTenant();
    const datasetId = insertReadyDataset(e, t.id);
    expect((await createJob(e, t.api_key, { dataset_id: datasetId, method: 'cocoop' })).status).toBe(201);
    const ev = await createEvaluationOk(e, t.api_key, { model: 'zero-shot', dataset_id: datasetId });
    const before = snapshot(e);
    const res = await createEvaluation(e, t.api_key, { model: 'zero-shot', dataset_id: datasetId });
    expect(res.status).toBe(409);
    const err = await errorOf(res);
    expect(err.code).toBe('conflict');
    expect(err.message).toMatch(/concurrent_jobs/);
    expect(snapshot(e)).toEqual(before);
    // A training job is refused too while the evaluation holds the second slot.
    const rj = await createJob(e, t.api_key, { dataset_id: datasetId, method: 'cocoop' });
    expect(rj.status).toBe(409);
    expect(snapshot(e)).toEqual(before);
    // Another tenant has its own quota.
    const other = await e.createTenant('Other');
    await createEvaluationOk(e, other.api_key, { model: 'zero-shot', dataset_id: insertReadyDataset(e, other.id) });
    // Finish the evaluation (the training job is leased first: oldest first): a slot frees up.
    const w = workerClient(e);
    await w.leaseOk('w1');
    const lease = await leaseEvaluation(e, 'w2');
    expect(lease.evaluation.id).toBe(ev.id);
    expect((await w.result(ev.id, { lease_id: lease.lease_id, result: handResult() })).status).toBe(200);
    await createEvaluationOk(e, t.api_key, { model: 'zero-shot', dataset_id: datasetId });
  });

  it('a dataset under a queued evaluation cannot be deleted (409)', async () => {
    const e = await fresh();
    const t = await e.createTenant();
    const datasetId = insertReadyDataset(e, t.id);
    await createEvaluationOk(e, t.api_key, { model: 'zero-shot', dataset_id: datasetId });
    const res = await e.fetch(`/v1/datasets/${datasetId}`, { method: 'DELETE', headers: bearer(t.api_key) });
    expect(res.status).toBe(409);
    expect((await errorOf(res)).code).toBe('conflict');
    expect(count(e, 'SELECT COUNT(*) AS n FROM datasets WHERE id = ?', datasetId)).toBe(1);
    expect(count(e, 'SELECT COUNT(*) AS n FROM images WHERE dataset_id = ?', datasetId)).toBe(4);
  });
});

describe('training-job validation inputs', () => {
  it('a validation dataset: stored with validation_split 0, leased with its images', async () => {
    const e = await fresh();
    const t = await e.createTenant();
    const train = insertReadyDataset(e, t.id, ['cat', 'dog', 'fox'], 2);
    const val = insertReadyDataset(e, t.id, ['dog', 'cat'], 3);
    const res = await createJob(e, t.api_key, { dataset_id: train, method: 'cocoop', hyperparameters: { validation_dataset_id: val } });
    expect(res.status).toBe(201);
    const job = (await res.json()) as { id: string; hyperparameters: Record<string, unknown> };
    expect(job.hyperparameters).toMatchObject({ validation_dataset_id: val, validation_split: 0 });
    const lease = await workerClient(e).leaseOk();
    expect(lease.job.id).toBe(job.id);
    expect(lease.dataset.images).toHaveLength(6);
    expect(lease.validation_dataset?.id).toBe(val);
    const labels = lease.validation_dataset!.images.map((i) => i.label).sort();
    expect(labels).toEqual(['cat', 'cat', 'cat', 'dog', 'dog', 'dog']);
    // A job with a split instead: no validation dataset in the lease.
    const res2 = await createJob(e, t.api_key, { dataset_id: train, method: 'cocoop', hyperparameters: { validation_split: 0.5 } });
    expect(res2.status).toBe(201);
    const lease2 = await workerClient(e).leaseOk('w2');
    expect(lease2.validation_dataset).toBeNull();
    expect(lease2.job.hyperparameters).toMatchObject({ validation_split: 0.5, validation_dataset_id: null });
  });

  it('bad validation inputs: documented status, code and param; nothing written', async () => {
    const e = await fresh(10);
    const t = await e.createTenant();
    const other = await e.createTenant('Other');
    const train = insertReadyDataset(e, t.id, ['cat', 'dog'], 3);
    const val = insertReadyDataset(e, t.id, ['cat', 'dog'], 1);
    const openVal = insertReadyDataset(e, t.id, ['cat', 'dog'], 1, 'open');
    const foreignVal = insertReadyDataset(e, other.id, ['cat', 'dog'], 1);
    const extraLabel = insertReadyDataset(e, t.id, ['cat', 'owl'], 1);
    const base = { dataset_id: train, method: 'cocoop' };
    const vdParam = 'hyperparameters.validation_dataset_id';
    const cases: [string, Record<string, unknown>, number, string, string][] = [
      ['split -0.1', { validation_split: -0.1 }, 422, 'validation_failed', 'hyperparameters.validation_split'],
      ['split 0.6', { validation_split: 0.6 }, 422, 'validation_failed', 'hyperparameters.validation_split'],
      ['split as a string', { validation_split: '0.2' }, 422, 'validation_failed', 'hyperparameters.validation_split'],
      ['both split and dataset', { validation_split: 0.2, validation_dataset_id: val }, 422, 'validation_failed', 'hyperparameters.validation_split'],
      ['validation dataset not ready', { validation_dataset_id: openVal }, 409, 'conflict', vdParam],
      ['validation dataset of another tenant', { validation_dataset_id: foreignVal }, 404, 'not_found', vdParam],
      ['unknown validation dataset', { validation_dataset_id: 'ds_doesnotexist00000000000' }, 404, 'not_found', vdParam],
      ['a label not in training', { validation_dataset_id: extraLabel }, 422, 'validation_failed', vdParam],
      ['the training dataset itself', { validation_dataset_id: train }, 422, 'validation_failed', vdParam],
    ];
    for (const [name, hp, status, code, param] of cases) {
      const before = snapshot(e);
      const res = await createJob(e, t.api_key, { ...base, hyperparameters: hp });
      expect(res.status, name).toBe(status);
      const err = await errorOf(res);
      expect(err.code, name).toBe(code);
      expect(err.param, name).toBe(param);
      expect(snapshot(e), name).toEqual(before);
    }
    // The edges of the range are accepted.
    for (const split of [0, 0.5]) {
      const res = await createJob(e, t.api_key, { ...base, hyperparameters: { validation_split: split } });
      expect(res.status, `split ${split}`).toBe(201);
      expect(((await res.json()) as { hyperparameters: { validation_split: number } }).hyperparameters.validation_split).toBe(split);
    }
  });

  it('a dataset used as validation_dataset_id by a queued job cannot be deleted (409); after the job is cancelled it can', async () => {
    const e = await fresh();
    const t = await e.createTenant();
    const train = insertReadyDataset(e, t.id, ['cat', 'dog'], 3);
    const val = insertReadyDataset(e, t.id, ['cat', 'dog'], 1);
    const res = await createJob(e, t.api_key, { dataset_id: train, method: 'cocoop', hyperparameters: { validation_dataset_id: val } });
    expect(res.status).toBe(201);
    const job = (await res.json()) as { id: string };
    const del = await e.fetch(`/v1/datasets/${val}`, { method: 'DELETE', headers: bearer(t.api_key) });
    expect(del.status).toBe(409);
    const err = await errorOf(del);
    expect(err.code).toBe('conflict');
    expect(err.message).toContain(job.id);
    expect(count(e, 'SELECT COUNT(*) AS n FROM datasets WHERE id = ?', val)).toBe(1);
    expect(count(e, 'SELECT COUNT(*) AS n FROM images WHERE dataset_id = ?', val)).toBe(2);
    expect((await e.fetch(`/v1/training-jobs/${job.id}/cancel`, { method: 'POST', headers: bearer(t.api_key) })).status).toBe(200);
    expect((await e.fetch(`/v1/datasets/${val}`, { method: 'DELETE', headers: bearer(t.api_key) })).status).toBe(204);
    expect(count(e, 'SELECT COUNT(*) AS n FROM datasets WHERE id = ?', val)).toBe(0);
  });
});
