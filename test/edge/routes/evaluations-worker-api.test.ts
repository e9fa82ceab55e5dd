// Evaluations through the internal worker API (edge/routes/trainer-api.ts), driven by hand (workerClient), over real
// HTTP with real SQLite: the evaluation lease (model artifact + dataset images), /result and /fail with their
// webhook outbox rows, the wrong final report of each kind (409), a result for other labels (422), an expired lease
// re-leased (attempts 2, the old lease refused), and the attempt limit.
import { describe, expect, it } from 'vitest';
import { bearer } from '../../helpers/edge.ts';
import { handResult } from '../../helpers/evaluation-scores.ts';
import { count, insertReadyDataset, workerClient } from '../../helpers/jobs.ts';
import { createJob, edgePerTest, errorOf, insertWebhookEndpoint, snapshot } from '../../helpers/training-job-api.ts';
import {
  type Evaluation,
  createEvaluationOk,
  deliveryRows,
  getEvaluation,
  leaseEvaluation,
  publishModel,
} from '../../helpers/evaluation-api.ts';

const { fresh, start } = edgePerTest();

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
    const e = await start({ maxJobAttempts: 1, quotas: { concurrent_jobs: 5 } });
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
