// Training jobs and the internal worker API over real HTTP with real SQLite: creation (validation,
// defaults, quota, idempotency), the lifecycle queued → leased → heartbeat → complete, racing workers,
// lease expiry and resume, cancel in each state, stale leases, webhook outbox rows, tenant isolation.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, type TestEdge, WORKER_TOKEN, bearer, jsonHeaders, startTestEdge } from '../../helpers/edge.ts';
import { completeBody, count, insertReadyDataset, workerClient } from '../../helpers/jobs.ts';
import { ManualClock } from '../../helpers/manual-clock.ts';

type Job = {
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
type ApiError = { code: string; message: string; param?: string };

// One edge per test: the job queue is global, so a test must not see another test's queued jobs.
let edge: TestEdge;
afterEach(async () => {
  await edge?.close();
});
async function fresh(concurrentJobs = 5, clock?: ManualClock): Promise<TestEdge> {
  edge = await startTestEdge({ quotas: { concurrent_jobs: concurrentJobs }, ...(clock ? { clock: clock.now } : {}) });
  return edge;
}

async function tenantWithDataset(e: TestEdge, name = 'Acme') {
  const t = await e.createTenant(name);
  return { ...t, datasetId: insertReadyDataset(e, t.id) };
}

async function createJob(e: TestEdge, key: string, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return e.fetch('/v1/training-jobs', { method: 'POST', headers: jsonHeaders(key, headers), body: JSON.stringify(body) });
}

async function createJobOk(e: TestEdge, key: string, datasetId: string, extra: Record<string, unknown> = {}): Promise<Job> {
  const res = await createJob(e, key, { dataset_id: datasetId, method: 'cocoop', ...extra });
  if (res.status !== 201) throw new Error(`create job: ${res.status} ${await res.text()}`);
  return (await res.json()) as Job;
}

async function errorOf(res: Response): Promise<ApiError> {
  const body = (await res.json()) as { error: ApiError };
  expect(Object.keys(body)).toEqual(['error']);
  return body.error;
}

async function getJob(e: TestEdge, key: string, id: string): Promise<Job> {
  const res = await e.fetch(`/v1/training-jobs/${id}`, { headers: bearer(key) });
  expect(res.status).toBe(200);
  return (await res.json()) as Job;
}

async function events(e: TestEdge, key: string, id: string): Promise<{ message: string; level: string; type: string; data?: unknown }[]> {
  const res = await e.fetch(`/v1/training-jobs/${id}/events?limit=100`, { headers: bearer(key) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: { message: string; level: string; type: string }[] }).data;
}

function insertWebhookEndpoint(e: TestEdge, tenantId: string, events: string[]): string {
  const id = `whe_test${Math.random().toString(36).slice(2, 12)}`;
  e.db.raw
    .prepare('INSERT INTO webhook_endpoints (id, tenant_id, url, events, secret, created_at) VALUES (?, ?, ?, ?, ?, ?)')
    .run(id, tenantId, 'https://hooks.example/x', JSON.stringify(events), 'whsec_dGVzdA==', new Date().toISOString());
  return id;
}

const deliveries = (e: TestEdge, tenantId: string, type: string) =>
  count(e, 'SELECT COUNT(*) AS n FROM webhook_deliveries WHERE tenant_id = ? AND event_type = ?', tenantId, type);

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

describe('lifecycle through the worker API', () => {
  it('queued → leased (running) → heartbeat → events → complete → model visible, with webhook outbox rows', async () => {
    const clock = new ManualClock(); // held still: the lease's end is exact
    const e = await fresh(5, clock);
    const t = await tenantWithDataset(e);
    const hook = insertWebhookEndpoint(e, t.id, ['training_job.succeeded', 'training_job.started']);
    const w = workerClient(e);
    const job = await createJobOk(e, t.api_key, t.datasetId, { hyperparameters: { epochs: 2 } });

    const lease = await w.leaseOk('worker-a', 60);
    expect(lease.job.id).toBe(job.id);
    expect(lease.job.status).toBe('running');
    expect(lease.attempts).toBe(1);
    expect(lease.tenant_id).toBe(t.id);
    expect(lease.dataset.id).toBe(t.datasetId);
    expect(lease.dataset.images).toHaveLength(4);
    expect(lease.dataset.images[0].object_key).toMatch(new RegExp(`^tenants/${t.id}/datasets/${t.datasetId}/images/img_`));
    // Attempt 1's own keys (fencing: every attempt writes under its own), nothing earlier to resume from.
    expect(lease.storage.checkpoint_prefix).toBe(`tenants/${t.id}/jobs/${job.id}/attempts/1/checkpoints/`);
    expect(lease.storage.resume_prefixes).toEqual([]);
    expect(lease.storage.artifact_key).toMatch(new RegExp(`^tenants/${t.id}/models/mdl_[0-9a-z]{21}/attempts/1/adapter\\.safetensors$`));
    expect(lease.lease_expires_at).toBe(new Date(clock.now().getTime() + 60_000).toISOString());
    expect((await w.lease('worker-b')).status).toBe(204); // nothing else queued

    let now = await getJob(e, t.api_key, job.id);
    expect(now.status).toBe('running');
    expect(now.started_at).not.toBeNull();

    const hb = await w.heartbeat(job.id, { lease_id: lease.lease_id, progress: { epoch: 1, step: 3, steps: 8 }, metrics: { train_loss: 1.5 } });
    expect(hb.status).toBe(200);
    expect(await hb.json()).toMatchObject({ cancel_requested: false });
    now = await getJob(e, t.api_key, job.id);
    expect(now.progress).toEqual({ epoch: 1, epochs: 2, step: 3, steps: 8 });
    expect(now.metrics).toEqual({ train_loss: 1.5 });

    const ev = await w.event(job.id, { lease_id: lease.lease_id, level: 'info', type: 'metrics', message: 'epoch 1 done', data: { train_loss: 1.5 } });
    expect(ev.status).toBe(200);

    const done = await w.complete(job.id, await completeBody(e, lease));
    expect(done.status).toBe(200);
    const finished = (await done.json()) as Job;
    expect(finished.status).toBe('succeeded');
    expect(finished.model_id).toMatch(/^mdl_/);
    now = await getJob(e, t.api_key, job.id);
    expect(now).toMatchObject({ status: 'succeeded', model_id: finished.model_id, metrics: { train_loss: 0.25, train_accuracy: 0.9 } });
    expect(now.finished_at).not.toBeNull();
    // The last heartbeat said epoch 1, step 3; a succeeded job reports every epoch and step done.
    expect(now.progress).toEqual({ epoch: 2, epochs: 2, step: 8, steps: 8 });

    const model = await e.fetch(`/v1/models/${finished.model_id}`, { headers: bearer(t.api_key) });
    expect(model.status).toBe(200);
    expect(await model.json()).toMatchObject({ id: finished.model_id, job_id: job.id, method: 'cocoop', classes: ['cat', 'dog'] });

    const log = await events(e, t.api_key, job.id);
    expect(log.map((x) => x.message)).toEqual([
      'Job queued (cocoop).',
      'Started by worker worker-a.',
      'epoch 1 done',
      `Training succeeded; published model ${finished.model_id}.`,
    ]);
    expect(log[2]).toMatchObject({ type: 'metrics', data: { train_loss: 1.5 } });

    expect(deliveries(e, t.id, 'training_job.started')).toBe(1);
    expect(deliveries(e, t.id, 'training_job.succeeded')).toBe(1);
    const payload = JSON.parse(
      (e.db.raw.prepare("SELECT payload FROM webhook_deliveries WHERE endpoint_id = ? AND event_type = 'training_job.succeeded'").get(hook) as { payload: string }).payload,
    ) as { type: string; data: Record<string, unknown> };
    expect(payload.data).toMatchObject({ id: job.id, status: 'succeeded', model_id: finished.model_id });

    // Complete twice → 409, never two models, no second webhook.
    const again = await w.complete(job.id, await completeBody(e, lease));
    expect(again.status).toBe(409);
    expect(count(e, 'SELECT COUNT(*) AS n FROM models')).toBe(1);
    expect(deliveries(e, t.id, 'training_job.succeeded')).toBe(1);
    // Heartbeat of a finished job → 409.
    expect((await w.heartbeat(job.id, { lease_id: lease.lease_id })).status).toBe(409);
  });

  it('complete checks the artifact: the lease key, uploaded, the right size (422, nothing changes)', async () => {
    const e = await fresh();
    const t = await tenantWithDataset(e);
    const w = workerClient(e);
    const job = await createJobOk(e, t.api_key, t.datasetId);
    const lease = await w.leaseOk();
    const good = await completeBody(e, lease);
    await e.ports.blobs.delete([lease.storage.artifact_key]);
    let res = await w.complete(job.id, good);
    expect(res.status).toBe(422);
    expect((await errorOf(res)).param).toBe('artifact.key');
    res = await w.complete(job.id, { ...good, artifact: { ...good.artifact, key: `tenants/other/models/x/adapter.safetensors` } });
    expect(res.status).toBe(422);
    await completeBody(e, lease);
    res = await w.complete(job.id, { ...good, artifact: { ...good.artifact, bytes: good.artifact.bytes + 1 } });
    expect(res.status).toBe(422);
    expect((await errorOf(res)).param).toBe('artifact.bytes');
    // The right size but other bytes (replaced after upload): the sha256 is checked against the stored object.
    await e.ports.blobs.put(lease.storage.artifact_key, new Uint8Array(good.artifact.bytes).fill(7), 'application/octet-stream');
    res = await w.complete(job.id, good);
    expect(res.status).toBe(422);
    expect((await errorOf(res)).param).toBe('artifact.sha256');
    await completeBody(e, lease);
    for (const [body, param] of [
      [{ ...good, artifact: { ...good.artifact, sha256: 'xyz' } }, 'artifact.sha256'],
      [{ ...good, classes: [] }, 'classes'],
      [{ ...good, metrics: { loss: 'low' } }, 'metrics.loss'],
      [{ ...good, extra: true }, 'extra'],
      [{ ...good, lease_id: undefined }, 'lease_id'],
    ] as const) {
      res = await w.complete(job.id, body);
      expect(res.status, param).toBe(422);
      expect((await errorOf(res)).param).toBe(param);
    }
    expect((await getJob(e, t.api_key, job.id)).status).toBe('running');
    expect(count(e, 'SELECT COUNT(*) AS n FROM models')).toBe(0);
    expect((await w.complete(job.id, good)).status).toBe(200);
  });

  it('concurrent completes and a complete racing a fail: exactly one wins, one model, one final webhook', async () => {
    const e = await fresh();
    const t = await tenantWithDataset(e);
    insertWebhookEndpoint(e, t.id, ['training_job.succeeded', 'training_job.failed']);
    const w = workerClient(e);
    const job = await createJobOk(e, t.api_key, t.datasetId);
    const lease = await w.leaseOk();
    const body = await completeBody(e, lease);
    const results = await Promise.all([
      w.complete(job.id, body),
      w.complete(job.id, body),
      w.fail(job.id, { lease_id: lease.lease_id, code: 'x', message: 'y' }),
    ]);
    expect(results.map((r) => r.status).filter((s) => s === 200)).toHaveLength(1);
    expect(results.map((r) => r.status).filter((s) => s === 409)).toHaveLength(2);
    const final = (await getJob(e, t.api_key, job.id)).status;
    expect(count(e, 'SELECT COUNT(*) AS n FROM models')).toBe(final === 'succeeded' ? 1 : 0);
    expect(count(e, "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE event_type IN ('training_job.succeeded', 'training_job.failed')")).toBe(1);
    expect((await events(e, t.api_key, job.id)).filter((x) => /succeeded|failed/.test(x.message))).toHaveLength(1);
  });

  it('fail: the job is failed with the error, an error event and a webhook row', async () => {
    const e = await fresh();
    const t = await tenantWithDataset(e);
    insertWebhookEndpoint(e, t.id, ['training_job.failed']);
    const w = workerClient(e);
    const job = await createJobOk(e, t.api_key, t.datasetId);
    const lease = await w.leaseOk();
    const res = await w.fail(job.id, { lease_id: lease.lease_id, code: 'dataset_unreadable', message: 'image img_1 did not decode' });
    expect(res.status).toBe(200);
    const now = await getJob(e, t.api_key, job.id);
    expect(now).toMatchObject({ status: 'failed', error: { code: 'dataset_unreadable', message: 'image img_1 did not decode' }, model_id: null });
    expect((await events(e, t.api_key, job.id)).at(-1)).toMatchObject({ level: 'error', data: { code: 'dataset_unreadable' } });
    expect(deliveries(e, t.id, 'training_job.failed')).toBe(1);
    expect((await w.fail(job.id, { lease_id: lease.lease_id, code: 'x', message: 'again' })).status).toBe(409);
    expect(deliveries(e, t.id, 'training_job.failed')).toBe(1);
  });

  it('two workers racing: 10 concurrent leases over 3 jobs → each job leased once, 7 get 204', async () => {
    const e = await fresh();
    const t = await tenantWithDataset(e);
    const jobs = [];
    for (let i = 0; i < 3; i++) jobs.push((await createJobOk(e, t.api_key, t.datasetId)).id);
    const w = workerClient(e);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => w.lease(`w${i}`)));
    expect(results.filter((r) => r.status === 204)).toHaveLength(7);
    const leased = await Promise.all(results.filter((r) => r.status === 200).map(async (r) => ((await r.json()) as { job: { id: string } }).job.id));
    expect(leased.sort()).toEqual([...jobs].sort());
    expect(count(e, "SELECT COUNT(*) AS n FROM training_jobs WHERE attempts = 1 AND status = 'running'")).toBe(3);
  });

  it('leases go oldest first', async () => {
    const e = await fresh();
    const t = await tenantWithDataset(e);
    const a = await createJobOk(e, t.api_key, t.datasetId);
    const b = await createJobOk(e, t.api_key, t.datasetId);
    const w = workerClient(e);
    expect((await w.leaseOk()).job.id).toBe(a.id);
    expect((await w.leaseOk()).job.id).toBe(b.id);
  });

  it('an expired lease is re-leased (attempts 2, a resume event); the old lease is then stale (409)', async () => {
    const clock = new ManualClock();
    const e = await fresh(5, clock);
    const t = await tenantWithDataset(e);
    insertWebhookEndpoint(e, t.id, ['training_job.started', 'training_job.succeeded']);
    const w = workerClient(e);
    const job = await createJobOk(e, t.api_key, t.datasetId);
    const first = await w.leaseOk('worker-a', 1);
    expect((await w.lease('worker-b')).status).toBe(204); // still held
    clock.advance(1000);
    expect((await w.lease('worker-b')).status).toBe(204); // held up to its last millisecond
    clock.advance(1);
    const second = await w.leaseOk('worker-b', 60);
    expect(second.job.id).toBe(job.id);
    expect(second.attempts).toBe(2);
    expect(second.lease_id).not.toBe(first.lease_id);
    // Its own keys; it resumes from what attempt 1 wrote.
    expect(second.storage).toEqual({
      checkpoint_prefix: first.storage.checkpoint_prefix.replace('/attempts/1/', '/attempts/2/'),
      resume_prefixes: [first.storage.checkpoint_prefix],
      artifact_key: first.storage.artifact_key.replace('/attempts/1/', '/attempts/2/'),
    });
    expect((await events(e, t.api_key, job.id)).map((x) => x.message)).toContain(
      'Resumed by worker worker-b (attempt 2) after the previous lease expired.',
    );

    // The first worker's lease is stale everywhere.
    for (const res of [
      await w.heartbeat(job.id, { lease_id: first.lease_id }),
      await w.event(job.id, { lease_id: first.lease_id, level: 'info', type: 'message', message: 'hi' }),
      await w.complete(job.id, await completeBody(e, first)),
      await w.fail(job.id, { lease_id: first.lease_id, code: 'x', message: 'y' }),
    ]) {
      expect(res.status).toBe(409);
      expect((await errorOf(res)).param).toBe('lease_id');
    }
    expect((await w.complete(job.id, await completeBody(e, second))).status).toBe(200);
    expect(count(e, 'SELECT COUNT(*) AS n FROM models')).toBe(1);
    expect(deliveries(e, t.id, 'training_job.started')).toBe(1); // not again on resume
    expect(deliveries(e, t.id, 'training_job.succeeded')).toBe(1);
  });

  it('a heartbeat extends the lease so the job is not re-leased', async () => {
    const clock = new ManualClock();
    const e = await fresh(5, clock);
    const t = await tenantWithDataset(e);
    const w = workerClient(e);
    const job = await createJobOk(e, t.api_key, t.datasetId);
    const lease = await w.leaseOk('worker-a', 1);
    const hb = await w.heartbeat(job.id, { lease_id: lease.lease_id, lease_seconds: 60 });
    expect(hb.status).toBe(200);
    clock.advance(59_000); // past the 1 s lease, within the heartbeat's 60 s
    expect((await w.lease('worker-b')).status).toBe(204);
    clock.advance(1_001); // past the heartbeat's 60 s: now it goes to the next worker
    expect((await w.leaseOk('worker-b')).job.id).toBe(job.id);
    expect((await w.heartbeat('job_unknown', { lease_id: lease.lease_id })).status).toBe(404);
    expect((await w.heartbeat(job.id, { lease_id: 'lse_wrong' })).status).toBe(409);
    expect((await w.heartbeat(job.id, { lease_id: lease.lease_id, progress: { epoch: -1 } })).status).toBe(422);
    expect((await w.heartbeat(job.id, { lease_id: lease.lease_id, lease_seconds: 0 })).status).toBe(422);
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

  it('worker routes reject tenant keys, the admin token and no token (401); nothing changes', async () => {
    const e = await fresh();
    const t = await tenantWithDataset(e);
    const job = await createJobOk(e, t.api_key, t.datasetId);
    for (const token of [t.api_key, ADMIN_TOKEN, WORKER_TOKEN + 'x']) {
      const w = workerClient(e, token);
      const results = [
        await w.lease(),
        await w.heartbeat(job.id, { lease_id: 'x' }),
        await w.event(job.id, { lease_id: 'x', level: 'info', type: 'message', message: 'x' }),
        await w.complete(job.id, { lease_id: 'x' }),
        await w.fail(job.id, { lease_id: 'x', code: 'x', message: 'x' }),
        await w.cancelled(job.id, { lease_id: 'x' }),
      ];
      for (const res of results) {
        expect(res.status).toBe(401);
        expect((await errorOf(res)).code).toBe('unauthorized');
      }
    }
    const none = await e.fetch('/internal/v1/leases', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"worker_id":"w"}' });
    expect(none.status).toBe(401);
    expect((await getJob(e, t.api_key, job.id)).status).toBe('queued');
  });

  it('lease validation: 422 with param; bad JSON 400', async () => {
    const e = await fresh();
    const w = workerClient(e);
    for (const [body, param] of [
      [{}, 'worker_id'],
      [{ worker_id: '' }, 'worker_id'],
      [{ worker_id: 'w', lease_seconds: 0 }, 'lease_seconds'],
      [{ worker_id: 'w', lease_seconds: 1e9 }, 'lease_seconds'],
      [{ worker_id: 'w', other: 1 }, 'other'],
    ] as const) {
      const res = await w.post('/leases', body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect((await errorOf(res)).param).toBe(param);
    }
    const bad = await e.fetch('/internal/v1/leases', { method: 'POST', headers: jsonHeaders(WORKER_TOKEN), body: '{nope' });
    expect(bad.status).toBe(400);
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
