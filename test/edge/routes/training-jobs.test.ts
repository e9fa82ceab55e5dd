// Training jobs (edge/routes/training-jobs.ts, the customer API) over real HTTP with real SQLite: creation
// (validation, defaults, quota, idempotency), cancel in each state, tenant isolation, and the OpenAPI document.
// The worker-facing lease / heartbeat / complete API is in trainer-api.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, type TestEdge, WORKER_TOKEN, bearer, jsonHeaders, startTestEdge } from '../../helpers/edge.ts';
import { completeBody, count, insertReadyDataset, workerClient } from '../../helpers/jobs.ts';
import {
  type Job,
  createJob,
  createJobOk,
  deliveries,
  edgePerTest,
  errorOf,
  events,
  getJob,
  insertWebhookEndpoint,
  tenantWithDataset,
} from '../../helpers/training-job-api.ts';

const { fresh } = edgePerTest();

describe('POST /v1/training-jobs', () => {
  it('creates a queued job with the defaults applied and stored; GET and list return it', async () => {
    const e = await fresh();
    const t = await tenantWithDataset(e);
    const job = await createJobOk(e, t.api_key, t.datasetId, { metadata: { project: 'pets' } });
    expect(job.id).toMatch(/^job_[0-9a-z]{21}$/);
    expect(job).toMatchObject({
      dataset_id: t.datasetId,
      method: 'cocoop',
      status: 'queued',
      hyperparameters: { epochs: 10, learning_rate: 0.002, batch_size: 1, n_ctx: null, ctx_init: 'a photo of a', shots: 16, seed: 1, crop_scale: [0.08, 1], validation_split: 0.2, validation_dataset_id: null },
      metadata: { project: 'pets' },
      progress: { epoch: 0, epochs: 10, step: 0, steps: 0 },
      metrics: {},
      model_id: null,
      error: null,
      started_at: null,
      finished_at: null,
    });
    const stored = e.db.raw.prepare('SELECT hyperparameters FROM training_jobs WHERE id = ?').get(job.id) as { hyperparameters: string };
    expect(JSON.parse(stored.hyperparameters)).toEqual(job.hyperparameters);
    expect(await getJob(e, t.api_key, job.id)).toEqual(job);

    const hp = { epochs: 3, learning_rate: 1, batch_size: 64, n_ctx: 16, shots: 1000, seed: 0, crop_scale: [0.5, 1] };
    const job2 = await createJobOk(e, t.api_key, t.datasetId, { method: 'coop', hyperparameters: hp });
    expect(job2.hyperparameters).toEqual({ ...hp, ctx_init: null, validation_split: 0.2, validation_dataset_id: null });

    const list = await e.fetch('/v1/training-jobs?limit=1', { headers: bearer(t.api_key) });
    const page = (await list.json()) as { data: Job[]; has_more: boolean };
    expect(page.data.map((j) => j.id)).toEqual([job2.id]);
    expect(page.has_more).toBe(true);
    const next = await e.fetch(`/v1/training-jobs?limit=1&after=${job2.id}`, { headers: bearer(t.api_key) });
    const page2 = (await next.json()) as { data: Job[]; has_more: boolean };
    expect(page2.data.map((j) => j.id)).toEqual([job.id]);
    expect(page2.has_more).toBe(false);

    expect((await events(e, t.api_key, job.id)).map((ev) => ev.message)).toEqual(['Job queued (cocoop).']);
  });

  it('422 with param for every invalid field; nothing is created', async () => {
    const e = await fresh();
    const t = await tenantWithDataset(e);
    const base = { dataset_id: t.datasetId, method: 'cocoop' };
    const cases: [Record<string, unknown>, string][] = [
      [{ method: 'cocoop' }, 'dataset_id'],
      [{ dataset_id: t.datasetId }, 'method'],
      [{ ...base, method: 'lora' }, 'method'],
      [{ ...base, dataset_id: 42 }, 'dataset_id'],
      [{ ...base, extra: 1 }, 'extra'],
      [{ ...base, hyperparameters: { epochs: 0 } }, 'hyperparameters.epochs'],
      [{ ...base, hyperparameters: { epochs: 101 } }, 'hyperparameters.epochs'],
      [{ ...base, hyperparameters: { epochs: 2.5 } }, 'hyperparameters.epochs'],
      [{ ...base, hyperparameters: { epochs: 1e308 } }, 'hyperparameters.epochs'],
      [{ ...base, hyperparameters: { epochs: '10' } }, 'hyperparameters.epochs'],
      [{ ...base, hyperparameters: { learning_rate: 0 } }, 'hyperparameters.learning_rate'],
      [{ ...base, hyperparameters: { learning_rate: -0.1 } }, 'hyperparameters.learning_rate'],
      [{ ...base, hyperparameters: { learning_rate: 1.5 } }, 'hyperparameters.learning_rate'],
      [{ ...base, hyperparameters: { batch_size: 65 } }, 'hyperparameters.batch_size'],
      [{ ...base, hyperparameters: { n_ctx: 0 } }, 'hyperparameters.n_ctx'],
      [{ ...base, hyperparameters: { n_ctx: 17 } }, 'hyperparameters.n_ctx'],
      [{ ...base, hyperparameters: { ctx_init: '' } }, 'hyperparameters.ctx_init'],
      [{ ...base, hyperparameters: { ctx_init: '   ' } }, 'hyperparameters.ctx_init'],
      [{ ...base, hyperparameters: { ctx_init: 'x'.repeat(201) } }, 'hyperparameters.ctx_init'],
      [{ ...base, hyperparameters: { n_ctx: 4, ctx_init: 'a photo of a' } }, 'hyperparameters.n_ctx'],
      [{ ...base, hyperparameters: { shots: 0 } }, 'hyperparameters.shots'],
      [{ ...base, hyperparameters: { shots: 1001 } }, 'hyperparameters.shots'],
      [{ ...base, hyperparameters: { seed: -1 } }, 'hyperparameters.seed'],
      [{ ...base, hyperparameters: { seed: 1.5 } }, 'hyperparameters.seed'],
      [{ ...base, hyperparameters: { momentum: 0.9 } }, 'hyperparameters.momentum'],
      [{ ...base, hyperparameters: { ctx_init: 'a photo\u0000 of a' } }, 'hyperparameters.ctx_init'],
      [{ ...base, metadata: { project: 'a\u001b[31mred' } }, 'metadata.project'],
      [{ ...base, hyperparameters: { crop_scale: [0, 1] } }, 'hyperparameters.crop_scale[0]'],
      [{ ...base, hyperparameters: { crop_scale: [0.5, 1.2] } }, 'hyperparameters.crop_scale[1]'],
      [{ ...base, hyperparameters: { crop_scale: [0.6, 0.5] } }, 'hyperparameters.crop_scale'],
      [{ ...base, hyperparameters: { crop_scale: [0.5] } }, 'hyperparameters.crop_scale'],
      [{ ...base, hyperparameters: { crop_scale: [0.5, 1, 1] } }, 'hyperparameters.crop_scale'],
      [{ ...base, hyperparameters: { crop_scale: '0.5,1' } }, 'hyperparameters.crop_scale'],
      [{ ...base, hyperparameters: [] }, 'hyperparameters'],
      [{ ...base, metadata: { a: 1 } }, 'metadata.a'],
      [{ ...base, metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }, 'metadata'],
    ];
    for (const [body, param] of cases) {
      const res = await createJob(e, t.api_key, body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      const err = await errorOf(res);
      expect(err.code).toBe('validation_failed');
      expect(err.param, JSON.stringify(body)).toBe(param);
      expect(err.message.length).toBeGreaterThan(10);
    }
    // NaN / Infinity are not JSON: the body does not parse (400), still nothing created.
    const nan = await e.fetch('/v1/training-jobs', {
      method: 'POST',
      headers: jsonHeaders(t.api_key),
      body: `{"dataset_id": "${t.datasetId}", "method": "cocoop", "hyperparameters": {"learning_rate": NaN}}`,
    });
    expect(nan.status).toBe(400);
    expect(count(e, 'SELECT COUNT(*) AS n FROM training_jobs')).toBe(0);
  });

  it('404 for an unknown (or another tenant’s) dataset, 409 for a dataset that is not ready', async () => {
    const e = await fresh();
    const a = await tenantWithDataset(e, 'A');
    const b = await tenantWithDataset(e, 'B');
    let res = await createJob(e, a.api_key, { dataset_id: 'ds_nope', method: 'coop' });
    expect(res.status).toBe(404);
    expect((await errorOf(res)).param).toBe('dataset_id');
    res = await createJob(e, a.api_key, { dataset_id: b.datasetId, method: 'coop' });
    expect(res.status).toBe(404);
    const open = insertReadyDataset(e, a.id, ['x'], 1, 'open');
    res = await createJob(e, a.api_key, { dataset_id: open, method: 'coop' });
    expect(res.status).toBe(409);
    expect((await errorOf(res)).message).toMatch(/finalize/);
    expect(count(e, 'SELECT COUNT(*) AS n FROM training_jobs')).toBe(0);
  });

  it('enforces the concurrent_jobs quota (queued + running + cancelling), also under concurrency', async () => {
    const e = await fresh(2);
    const t = await tenantWithDataset(e);
    const results = await Promise.all(Array.from({ length: 6 }, () => createJob(e, t.api_key, { dataset_id: t.datasetId, method: 'coop' })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 201, 409, 409, 409, 409]);
    const err = await errorOf(results.find((r) => r.status === 409)!);
    expect(err.message).toMatch(/concurrent_jobs/);
    // Another tenant has its own quota.
    const other = await tenantWithDataset(e, 'Other');
    await createJobOk(e, other.api_key, other.datasetId);
    // A final job frees a slot: cancel a queued one.
    const [first] = ((await (await e.fetch('/v1/training-jobs', { headers: bearer(t.api_key) })).json()) as { data: Job[] }).data;
    expect((await e.fetch(`/v1/training-jobs/${first.id}/cancel`, { method: 'POST', headers: bearer(t.api_key) })).status).toBe(200);
    await createJobOk(e, t.api_key, t.datasetId);
  });

  it('Idempotency-Key: the same key twice creates one job; a different body is 409', async () => {
    const e = await fresh();
    const t = await tenantWithDataset(e);
    const body = { dataset_id: t.datasetId, method: 'cocoop' };
    const r1 = await createJob(e, t.api_key, body, { 'Idempotency-Key': 'job-1' });
    const r2 = await createJob(e, t.api_key, body, { 'Idempotency-Key': 'job-1' });
    expect(r1.status).toBe(201);
    expect(r2.status).toBe(201);
    expect(r2.headers.get('idempotent-replayed')).toBe('true');
    expect(((await r2.json()) as Job).id).toBe(((await r1.json()) as Job).id);
    expect(count(e, 'SELECT COUNT(*) AS n FROM training_jobs')).toBe(1);
    const r3 = await createJob(e, t.api_key, { ...body, method: 'coop' }, { 'Idempotency-Key': 'job-1' });
    expect(r3.status).toBe(409);
    expect((await errorOf(r3)).param).toBe('Idempotency-Key');
    expect(count(e, 'SELECT COUNT(*) AS n FROM training_jobs')).toBe(1);
  });
});

describe('cancel', () => {
  it('queued → cancelled at once (finished_at, event, webhook); a worker never gets it', async () => {
    const e = await fresh();
    const t = await tenantWithDataset(e);
    insertWebhookEndpoint(e, t.id, ['training_job.cancelled']);
    const job = await createJobOk(e, t.api_key, t.datasetId);
    const res = await e.fetch(`/v1/training-jobs/${job.id}/cancel`, { method: 'POST', headers: bearer(t.api_key) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Job;
    expect(body.status).toBe('cancelled');
    expect(body.finished_at).not.toBeNull();
    expect((await events(e, t.api_key, job.id)).at(-1)?.message).toBe('Job cancelled before it started.');
    expect(deliveries(e, t.id, 'training_job.cancelled')).toBe(1);
    expect((await workerClient(e).lease()).status).toBe(204);
    // Final → 409, nothing changes.
    const again = await e.fetch(`/v1/training-jobs/${job.id}/cancel`, { method: 'POST', headers: bearer(t.api_key) });
    expect(again.status).toBe(409);
    expect((await errorOf(again)).code).toBe('conflict');
    expect(deliveries(e, t.id, 'training_job.cancelled')).toBe(1);
  });

  it('running → cancelling; the heartbeat says cancel_requested; the worker confirms → cancelled', async () => {
    const e = await fresh();
    const t = await tenantWithDataset(e);
    insertWebhookEndpoint(e, t.id, ['training_job.cancelled']);
    const w = workerClient(e);
    const job = await createJobOk(e, t.api_key, t.datasetId);
    const lease = await w.leaseOk();
    // Confirming a cancel nobody asked for → 409.
    expect((await w.cancelled(job.id, { lease_id: lease.lease_id })).status).toBe(409);

    const res = await e.fetch(`/v1/training-jobs/${job.id}/cancel`, { method: 'POST', headers: bearer(t.api_key) });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Job).status).toBe('cancelling');
    // Cancelling again is harmless (still cancelling).
    const again = await e.fetch(`/v1/training-jobs/${job.id}/cancel`, { method: 'POST', headers: bearer(t.api_key) });
    expect(again.status).toBe(200);
    expect(((await again.json()) as Job).status).toBe('cancelling');
    expect(deliveries(e, t.id, 'training_job.cancelled')).toBe(0);

    const hb = await w.heartbeat(job.id, { lease_id: lease.lease_id });
    expect(((await hb.json()) as { cancel_requested: boolean }).cancel_requested).toBe(true);
    const done = await w.cancelled(job.id, { lease_id: lease.lease_id });
    expect(done.status).toBe(200);
    const now = await getJob(e, t.api_key, job.id);
    expect(now.status).toBe('cancelled');
    expect(now.finished_at).not.toBeNull();
    expect(deliveries(e, t.id, 'training_job.cancelled')).toBe(1);
    expect((await w.cancelled(job.id, { lease_id: lease.lease_id })).status).toBe(409);
    expect((await e.fetch(`/v1/training-jobs/${job.id}/cancel`, { method: 'POST', headers: bearer(t.api_key) })).status).toBe(409);
  });

  it('succeeded and failed jobs cannot be cancelled (409)', async () => {
    const e = await fresh();
    const t = await tenantWithDataset(e);
    const w = workerClient(e);
    const a = await createJobOk(e, t.api_key, t.datasetId);
    const la = await w.leaseOk();
    await w.complete(a.id, await completeBody(e, la));
    const b = await createJobOk(e, t.api_key, t.datasetId);
    const lb = await w.leaseOk();
    await w.fail(b.id, { lease_id: lb.lease_id, code: 'oom', message: 'out of memory' });
    for (const id of [a.id, b.id]) {
      const res = await e.fetch(`/v1/training-jobs/${id}/cancel`, { method: 'POST', headers: bearer(t.api_key) });
      expect(res.status).toBe(409);
    }
    expect((await getJob(e, t.api_key, a.id)).status).toBe('succeeded');
    expect((await getJob(e, t.api_key, b.id)).status).toBe('failed');
  });
});

describe('auth and tenant isolation', () => {
  it('another tenant’s job is 404 on every route and nothing changes', async () => {
    const e = await fresh();
    const a = await tenantWithDataset(e, 'A');
    const b = await tenantWithDataset(e, 'B');
    const job = await createJobOk(e, a.api_key, a.datasetId);
    const before = JSON.stringify(e.db.raw.prepare('SELECT * FROM training_jobs').all());
    const beforeEvents = count(e, 'SELECT COUNT(*) AS n FROM job_events');
    for (const [method, path] of [
      ['GET', `/v1/training-jobs/${job.id}`],
      ['GET', `/v1/training-jobs/${job.id}/events`],
      ['POST', `/v1/training-jobs/${job.id}/cancel`],
    ]) {
      const res = await e.fetch(path, { method, headers: bearer(b.api_key) });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect((await errorOf(res)).code).toBe('not_found');
    }
    const list = (await (await e.fetch('/v1/training-jobs', { headers: bearer(b.api_key) })).json()) as { data: Job[] };
    expect(list.data).toEqual([]);
    expect(JSON.stringify(e.db.raw.prepare('SELECT * FROM training_jobs').all())).toBe(before);
    expect(count(e, 'SELECT COUNT(*) AS n FROM job_events')).toBe(beforeEvents);
  });

  it('job routes need a tenant key (401 for none, the worker and the admin token)', async () => {
    const e = await fresh();
    for (const headers of [{}, bearer(WORKER_TOKEN), bearer(ADMIN_TOKEN)]) {
      const res = await e.fetch('/v1/training-jobs', { headers });
      expect(res.status).toBe(401);
    }
  });
});

describe('OpenAPI', () => {
  let e: TestEdge;
  beforeAll(async () => {
    e = await startTestEdge();
  });
  afterAll(async () => {
    await e.close();
  });
  it('documents the job and worker routes; the create body is strict', async () => {
    const doc = (await (await e.fetch('/openapi.json')).json()) as {
      paths: Record<string, Record<string, { security?: unknown }>>;
      components: { schemas: Record<string, { additionalProperties?: unknown }> };
    };
    for (const p of ['/v1/training-jobs', '/v1/training-jobs/{id}', '/v1/training-jobs/{id}/cancel', '/v1/training-jobs/{id}/events', '/internal/v1/leases', '/internal/v1/jobs/{id}/complete']) {
      expect(doc.paths[p], p).toBeTruthy();
    }
    expect(doc.paths['/internal/v1/leases'].post.security).toEqual([{ WorkerToken: [] }]);
    expect(doc.components.schemas.CreateTrainingJobRequest.additionalProperties).toBe(false);
    expect(doc.components.schemas.HyperparametersInput.additionalProperties).toBe(false);
  });
});
