// Heartbeats that do not move: a worker stuck on a silent socket keeps heartbeating, and before this its lease (and
// the tenant's job slot) was renewed forever. Over real HTTP with real SQLite; time is moved by setting the row's
// progress_at / started_at into the past (no sleeping):
//  - a heartbeat whose progress has not moved for JOB_STALL_SECONDS fails the job (`stalled`, one error event, one
//    training_job.failed webhook row) and answers 409; progress that moves keeps it alive;
//  - a job running longer than JOB_MAX_SECONDS fails with `timed_out`;
//  - an evaluation the same (`evaluation.failed`).
import { afterEach, describe, expect, it } from 'vitest';
import { type TestEdge, bearer, jsonHeaders, startTestEdge } from '../../helpers/edge.ts';
import { count, insertReadyDataset, workerClient } from '../../helpers/jobs.ts';

let edge: TestEdge;
afterEach(async () => {
  await edge?.close();
});

const STALL = 60;
const MAX = 3600;

async function setup() {
  edge = await startTestEdge({ jobStallSeconds: STALL, jobMaxSeconds: MAX, quotas: { concurrent_jobs: 5 } });
  const t = await edge.createTenant();
  const datasetId = insertReadyDataset(edge, t.id);
  // An endpoint subscribed to the failure events (inserted directly: no DNS for its URL in tests).
  edge.db.raw
    .prepare('INSERT INTO webhook_endpoints (id, tenant_id, url, events, secret, created_at) VALUES (?, ?, ?, ?, ?, ?)')
    .run('whe_stalltest', t.id, 'https://hooks.example/x', JSON.stringify(['training_job.failed', 'evaluation.failed']), 'whsec_dGVzdA==', new Date().toISOString());
  return { key: t.api_key, datasetId, w: workerClient(edge) };
}

const setPast = (column: 'progress_at' | 'started_at', id: string, secondsAgo: number) =>
  edge.db.raw
    .prepare(`UPDATE training_jobs SET ${column} = ? WHERE id = ?`)
    .run(column === 'progress_at' ? Date.now() - secondsAgo * 1000 : new Date(Date.now() - secondsAgo * 1000).toISOString(), id);

async function job(key: string, datasetId: string) {
  const res = await edge.fetch('/v1/training-jobs', { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify({ dataset_id: datasetId, method: 'coop' }) });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

async function state(key: string, id: string) {
  return (await (await edge.fetch(`/v1/training-jobs/${id}`, { headers: bearer(key) })).json()) as { status: string; error: { code: string; message: string } | null };
}

describe('a job whose heartbeats carry no progress', () => {
  it('progress that moves keeps the lease; the same progress past JOB_STALL_SECONDS fails the job (stalled) and answers 409', async () => {
    const { key, datasetId, w } = await setup();
    const id = await job(key, datasetId);
    const lease = await w.leaseOk('gpu-1');
    const beat = (step: number) => w.heartbeat(id, { lease_id: lease.lease_id, progress: { epoch: 1, epochs: 2, step, steps: 10 } });
    expect((await beat(1)).status).toBe(200);
    // Long ago, but the progress moves now: alive.
    setPast('progress_at', id, STALL + 30);
    expect((await beat(2)).status).toBe(200);
    expect((await beat(2)).status).toBe(200); // not moved, but within the stall time
    // Not moved for longer than the stall time.
    setPast('progress_at', id, STALL + 1);
    const res = await beat(2);
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/no progress for \d+ s \(JOB_STALL_SECONDS is 60\)/);
    const after = await state(key, id);
    expect(after.status).toBe('failed');
    expect(after.error?.code).toBe('stalled');
    expect(count(edge, `SELECT COUNT(*) AS n FROM job_events WHERE job_id = ? AND level = 'error'`, id)).toBe(1);
    expect(count(edge, `SELECT COUNT(*) AS n FROM webhook_deliveries WHERE event_type = 'training_job.failed'`)).toBe(1);
    // The slot is free: the worker's lease is over, and its next heartbeat is refused too.
    expect((await beat(3)).status).toBe(409);
  });

  it('a job running longer than JOB_MAX_SECONDS fails with timed_out, even while its progress moves', async () => {
    const { key, datasetId, w } = await setup();
    const id = await job(key, datasetId);
    const lease = await w.leaseOk('gpu-1');
    setPast('started_at', id, MAX + 1);
    const res = await w.heartbeat(id, { lease_id: lease.lease_id, progress: { epoch: 1, step: 5 } });
    expect(res.status).toBe(409);
    expect((await state(key, id)).error?.code).toBe('timed_out');
  });

  it('an evaluation that stalls fails with stalled (evaluation.failed)', async () => {
    const { key, datasetId, w } = await setup();
    const res = await edge.fetch('/v1/evaluations', { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify({ model: 'zero-shot', dataset_id: datasetId }) });
    expect(res.status).toBe(202);
    const id = ((await res.json()) as { id: string }).id;
    const lease = await w.leaseAnyOk('gpu-1');
    expect(lease.kind).toBe('evaluation');
    setPast('progress_at', id, STALL + 1);
    expect((await w.heartbeat(id, { lease_id: lease.lease_id })).status).toBe(409);
    const ev = (await (await edge.fetch(`/v1/evaluations/${id}`, { headers: bearer(key) })).json()) as { status: string; error: { code: string } };
    expect([ev.status, ev.error.code]).toEqual(['failed', 'stalled']);
    expect(count(edge, `SELECT COUNT(*) AS n FROM webhook_deliveries WHERE event_type = 'evaluation.failed'`)).toBe(1);
  });
});
