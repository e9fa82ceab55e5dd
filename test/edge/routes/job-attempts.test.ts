// The attempt limit of training jobs (config.maxJobAttempts, env MAX_JOB_ATTEMPTS) through the internal worker
// API over real HTTP with real SQLite: a job whose lease expires after its last allowed attempt is never leased
// again — the next lease request fails it with `too_many_attempts` (one error event, one training_job.failed
// webhook row, in one transaction) and hands out the next queued job instead; a cancelling job in that state is
// cancelled; a job whose lease is still alive is left alone; the old lease can no longer finish the job.
// Lease expiry is simulated by moving lease_expires_at into the past (no sleeping).
import { afterEach, describe, expect, it } from 'vitest';
import { type TestEdge, bearer, jsonHeaders, startTestEdge } from '../../helpers/edge.ts';
import { completeBody, count, insertReadyDataset, workerClient } from '../../helpers/jobs.ts';

type Job = { id: string; status: string; error: { code: string; message: string } | null; finished_at: string | null; model_id: string | null };

let edge: TestEdge;
afterEach(async () => {
  await edge?.close();
});

async function setup(maxJobAttempts: number) {
  edge = await startTestEdge({ maxJobAttempts, quotas: { concurrent_jobs: 5 } });
  const t = await edge.createTenant();
  const datasetId = insertReadyDataset(edge, t.id);
  const hook = `whe_test${Math.random().toString(36).slice(2, 12)}`;
  edge.db.raw
    .prepare('INSERT INTO webhook_endpoints (id, tenant_id, url, events, secret, created_at) VALUES (?, ?, ?, ?, ?, ?)')
    .run(hook, t.id, 'https://hooks.example/x', JSON.stringify(['training_job.succeeded', 'training_job.failed', 'training_job.cancelled']), 'whsec_dGVzdA==', new Date().toISOString());
  return { e: edge, key: t.api_key, tenantId: t.id, datasetId, w: workerClient(edge) };
}

async function createJob(e: TestEdge, key: string, datasetId: string): Promise<Job> {
  const res = await e.fetch('/v1/training-jobs', { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify({ dataset_id: datasetId, method: 'cocoop' }) });
  expect(res.status).toBe(201);
  return (await res.json()) as Job;
}

async function getJob(e: TestEdge, key: string, id: string): Promise<Job> {
  const res = await e.fetch(`/v1/training-jobs/${id}`, { headers: bearer(key) });
  expect(res.status).toBe(200);
  return (await res.json()) as Job;
}

async function events(e: TestEdge, key: string, id: string) {
  const res = await e.fetch(`/v1/training-jobs/${id}/events?limit=100`, { headers: bearer(key) });
  return ((await res.json()) as { data: { level: string; message: string; data?: Record<string, unknown> }[] }).data;
}

/** The worker holding the job "died": its lease is already over. */
const expireLease = (e: TestEdge, jobId: string) => e.db.raw.prepare('UPDATE training_jobs SET lease_expires_at = ? WHERE id = ?').run(Date.now() - 1, jobId);

const webhookRows = (e: TestEdge, type: string) => count(e, 'SELECT COUNT(*) AS n FROM webhook_deliveries WHERE event_type = ?', type);

describe('the attempt limit of training jobs', () => {
  it('after maxJobAttempts expired leases the next lease request fails the job (too_many_attempts), once', async () => {
    const { e, key, datasetId, w } = await setup(2);
    const job = await createJob(e, key, datasetId);
    const first = await w.leaseOk('worker-a', 60);
    expect(first.attempts).toBe(1);
    expireLease(e, job.id);
    const second = await w.leaseOk('worker-b', 60);
    expect([second.job.id, second.attempts]).toEqual([job.id, 2]);
    expireLease(e, job.id);

    // Attempt 3 would be over the limit: nothing to lease, and the job is failed.
    expect((await w.lease('worker-c', 60)).status).toBe(204);
    const failed = await getJob(e, key, job.id);
    expect(failed.status).toBe('failed');
    expect(failed.error?.code).toBe('too_many_attempts');
    expect(failed.error?.message).toMatch(/^The job's worker stopped 2 times without finishing/);
    expect(failed.finished_at).toEqual(expect.any(String));
    expect(failed.model_id).toBeNull();
    const errorEvents = (await events(e, key, job.id)).filter((x) => x.level === 'error');
    expect(errorEvents).toHaveLength(1);
    expect(errorEvents[0]!.message).toBe(`Training failed: ${failed.error!.message}`);
    expect(errorEvents[0]!.data).toEqual({ code: 'too_many_attempts', attempts: 2 });
    expect(webhookRows(e, 'training_job.failed')).toBe(1);
    const payload = JSON.parse(
      (e.db.raw.prepare("SELECT payload FROM webhook_deliveries WHERE event_type = 'training_job.failed'").get() as { payload: string }).payload,
    ) as { data: { id: string; status: string } };
    expect(payload.data).toMatchObject({ id: job.id, status: 'failed' });
    expect(count(e, 'SELECT attempts AS n FROM training_jobs WHERE id = ?', job.id)).toBe(2);

    // The last worker cannot finish it any more; more lease requests change nothing.
    expect((await w.heartbeat(job.id, { lease_id: second.lease_id })).status).toBe(409);
    expect((await w.complete(job.id, await completeBody(e, second))).status).toBe(409);
    expect((await w.lease('worker-d', 60)).status).toBe(204);
    expect(webhookRows(e, 'training_job.failed')).toBe(1);
    expect(webhookRows(e, 'training_job.succeeded')).toBe(0);
    expect(count(e, 'SELECT COUNT(*) AS n FROM models')).toBe(0);
  });

  it('the same lease request that retires an exhausted job hands out the next queued job', async () => {
    const { e, key, datasetId, w } = await setup(1);
    const old = await createJob(e, key, datasetId);
    await w.leaseOk('worker-a', 60);
    expireLease(e, old.id);
    const next = await createJob(e, key, datasetId);
    const lease = await w.leaseOk('worker-b', 60);
    expect([lease.job.id, lease.attempts]).toEqual([next.id, 1]);
    const failed = await getJob(e, key, old.id);
    expect([failed.status, failed.error?.code]).toEqual(['failed', 'too_many_attempts']);
    expect(failed.error?.message).toMatch(/^The job's worker stopped once without finishing/);
  });

  it('a cancelling job whose worker stopped on its last attempt is cancelled, with one cancelled webhook row', async () => {
    const { e, key, datasetId, w } = await setup(1);
    const job = await createJob(e, key, datasetId);
    await w.leaseOk('worker-a', 60);
    const res = await e.fetch(`/v1/training-jobs/${job.id}/cancel`, { method: 'POST', headers: bearer(key) });
    expect(((await res.json()) as Job).status).toBe('cancelling');
    expireLease(e, job.id);
    expect((await w.lease('worker-b', 60)).status).toBe(204);
    const done = await getJob(e, key, job.id);
    expect([done.status, done.error]).toEqual(['cancelled', null]);
    expect(webhookRows(e, 'training_job.cancelled')).toBe(1);
    expect(webhookRows(e, 'training_job.failed')).toBe(0);
  });

  it('a job on its last attempt whose lease is alive is left alone and can still succeed', async () => {
    const { e, key, datasetId, w } = await setup(1);
    const job = await createJob(e, key, datasetId);
    const lease = await w.leaseOk('worker-a', 60);
    expect((await w.lease('worker-b', 60)).status).toBe(204);
    expect((await getJob(e, key, job.id)).status).toBe('running');
    expect((await w.complete(job.id, await completeBody(e, lease))).status).toBe(200);
    expect((await getJob(e, key, job.id)).status).toBe('succeeded');
    expect(webhookRows(e, 'training_job.succeeded')).toBe(1);
    expect(webhookRows(e, 'training_job.failed')).toBe(0);
  });
});
