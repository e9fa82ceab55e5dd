// Evaluations (edge/routes/evaluations.ts: POST/GET /v1/evaluations) over real HTTP with real SQLite: creation with
// defaults, get, list with a cursor, idempotency; every bad input answered with its documented status, code and
// param and with nothing written; a dataset under a queued evaluation cannot be deleted. Running them through the
// worker API is in evaluations-worker-api.test.ts.
import { describe, expect, it } from 'vitest';
import { handResult } from '../../helpers/evaluation-scores.ts';
import { bearer } from '../../helpers/edge.ts';
import { count, insertReadyDataset, workerClient } from '../../helpers/jobs.ts';
import { createJob, edgePerTest, errorOf, snapshot } from '../../helpers/training-job-api.ts';
import {
  type Evaluation,
  createEvaluation,
  createEvaluationOk,
  getEvaluation,
  leaseEvaluation,
  publishModel,
} from '../../helpers/evaluation-api.ts';

const { fresh } = edgePerTest();

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
