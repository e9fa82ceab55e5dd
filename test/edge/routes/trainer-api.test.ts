// The internal worker API (edge/routes/trainer-api.ts) for training jobs over real HTTP with real SQLite: the
// lifecycle queued → leased → heartbeat → complete, the artifact checks of complete, fail, racing workers, lease
// expiry and resume, stale leases, webhook outbox rows, and the worker token and lease body the routes require.
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, WORKER_TOKEN, bearer, jsonHeaders } from '../../helpers/edge.ts';
import { completeBody, count, workerClient } from '../../helpers/jobs.ts';
import { ManualClock } from '../../helpers/manual-clock.ts';
import {
  type Job,
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

describe('auth and tenant isolation', () => {
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
