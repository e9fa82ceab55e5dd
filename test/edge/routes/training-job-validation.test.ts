// The validation inputs of training jobs (validation_split, validation_dataset_id; edge/routes/training-jobs.ts)
// over real HTTP with real SQLite: a validation dataset stored and leased with its images, every bad input answered
// with its documented status, code and param and with nothing written, and a dataset in use as a validation dataset
// that cannot be deleted.
import { describe, expect, it } from 'vitest';
import { bearer } from '../../helpers/edge.ts';
import { count, insertReadyDataset, workerClient } from '../../helpers/jobs.ts';
import { createJob, edgePerTest, errorOf, snapshot } from '../../helpers/training-job-api.ts';

const { fresh } = edgePerTest();

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
