// A `cancelling` job whose worker dies with attempts left (edge/jobs/lease.ts, retireExhausted): once its lease
// expires it is not leased again — training it again after the user cancelled would spend a worker on work nobody
// wants — but ends `cancelled` on the next lease request (one event, one training_job.cancelled webhook row), and the
// next queued job is handed out instead. The same holds for a suspended tenant's job (suspension asks its running jobs
// to cancel; leases skip suspended tenants, so before this rule such a job stayed `cancelling` forever). Time moves
// with the edge's injected clock (ManualClock), no sleeping.
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, type TestEdge, bearer, jsonHeaders, startTestEdge } from '../../helpers/edge.ts';
import { count, insertReadyDataset, workerClient } from '../../helpers/jobs.ts';
import { ManualClock } from '../../helpers/manual-clock.ts';

type Job = { id: string; status: string; error: unknown; finished_at: string | null };

let edge: TestEdge | undefined;
afterEach(async () => {
  await edge?.close();
  edge = undefined;
});

describe('a cancelling job whose worker dies with attempts left', () => {
  it('is cancelled when its lease expires, never leased again; the next queued job goes to the worker', async () => {
    const clock = new ManualClock();
    edge = await startTestEdge({ maxJobAttempts: 5, quotas: { concurrent_jobs: 5 }, clock: clock.now });
    const e = edge;
    const t = await e.createTenant();
    const datasetId = insertReadyDataset(e, t.id);
    e.db.raw
      .prepare('INSERT INTO webhook_endpoints (id, tenant_id, url, events, secret, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run('whe_cancellease01', t.id, 'https://hooks.example/x', JSON.stringify(['training_job.cancelled', 'training_job.failed']), 'whsec_dGVzdA==', new Date().toISOString());
    const create = async () => {
      const res = await e.fetch('/v1/training-jobs', { method: 'POST', headers: jsonHeaders(t.api_key), body: JSON.stringify({ dataset_id: datasetId, method: 'cocoop' }) });
      expect(res.status).toBe(201);
      return (await res.json()) as Job;
    };
    const get = async (id: string) => (await (await e.fetch(`/v1/training-jobs/${id}`, { headers: bearer(t.api_key) })).json()) as Job;
    const w = workerClient(e);

    const job = await create();
    const lease = await w.leaseOk('worker-a', 30);
    expect([lease.job.id, lease.attempts]).toEqual([job.id, 1]);
    const cancel = await e.fetch(`/v1/training-jobs/${job.id}/cancel`, { method: 'POST', headers: bearer(t.api_key) });
    expect(((await cancel.json()) as Job).status).toBe('cancelling');
    const next = await create(); // queued behind it

    // worker-a dies without confirming the cancel. While its lease lasts nothing changes.
    clock.advance(30_000);
    const held = await w.leaseOk('worker-b', 30);
    expect(held.job.id).toBe(next.id); // the queued one, not the cancelling one
    expect((await get(job.id)).status).toBe('cancelling');

    // Past the lease: the next lease request cancels it instead of handing it out (4 attempts were left).
    clock.advance(1);
    expect((await w.lease('worker-c', 30)).status).toBe(204);
    const done = await get(job.id);
    expect([done.status, done.error]).toEqual(['cancelled', null]);
    expect(done.finished_at).toEqual(expect.any(String));
    expect(count(e, 'SELECT attempts AS n FROM training_jobs WHERE id = ?', job.id)).toBe(1);
    expect(count(e, "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE event_type = 'training_job.cancelled'")).toBe(1);
    expect(count(e, "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE event_type = 'training_job.failed'")).toBe(0);
    const events = ((await (await e.fetch(`/v1/training-jobs/${job.id}/events?limit=100`, { headers: bearer(t.api_key) })).json()) as { data: { message: string }[] }).data;
    expect(events.map((x) => x.message)).not.toContain('Resumed by worker worker-c (attempt 2) after the previous lease expired.');
    expect(events.map((x) => x.message)).toContain('Job cancelled; its worker stopped without confirming the cancel (its lease expired).');

    // worker-a's old lease can no longer report anything; a later lease request changes nothing.
    expect((await w.cancelled(job.id, { lease_id: lease.lease_id })).status).toBe(409);
    clock.advance(60_000);
    expect((await w.lease('worker-c', 30)).status).toBe(200); // `next`, whose worker-b lease expired
    expect((await get(job.id)).status).toBe('cancelled');
    expect(count(e, "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE event_type = 'training_job.cancelled'")).toBe(1);
  });

  it("a suspended tenant's running job (suspension asks it to cancel) whose worker died ends cancelled, not cancelling forever", async () => {
    const clock = new ManualClock();
    edge = await startTestEdge({ maxJobAttempts: 5, quotas: { concurrent_jobs: 5 }, clock: clock.now });
    const e = edge;
    const t = await e.createTenant();
    const datasetId = insertReadyDataset(e, t.id);
    const res = await e.fetch('/v1/training-jobs', { method: 'POST', headers: jsonHeaders(t.api_key), body: JSON.stringify({ dataset_id: datasetId, method: 'coop' }) });
    const job = (await res.json()) as Job;
    const w = workerClient(e);
    expect((await w.leaseOk('worker-a', 30)).job.id).toBe(job.id);
    const suspended = await e.fetch(`/v1/tenants/${t.id}/suspend`, { method: 'POST', headers: bearer(ADMIN_TOKEN) });
    expect(suspended.status).toBe(200);
    const status = () => (e.db.raw.prepare('SELECT status FROM training_jobs WHERE id = ?').get(job.id) as { status: string }).status;
    expect(status()).toBe('cancelling');
    clock.advance(30_001); // worker-a died; its lease is over
    expect((await w.lease('worker-b', 30)).status).toBe(204);
    expect(status()).toBe('cancelled');
    expect(count(e, 'SELECT attempts AS n FROM training_jobs WHERE id = ?', job.id)).toBe(1);
  });
});
