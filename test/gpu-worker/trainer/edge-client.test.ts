// EdgeClient on a scripted fetch: the one retry layer of the trainer's edge calls (network errors and 5xx retried
// with backoff, a fixed number of times or within a call's budget), 409 is a LeaseLostError, other 4xx fail at once,
// 204 from /leases is null, and the edge's answers are parsed with the worker-API contract.
import { describe, expect, it } from 'vitest';
import { EdgeApiError, EdgeClient, EdgeUnreachableError, LeaseLostError } from '../../../gpu-worker/trainer/edge-client.ts';
import { testLease } from './lease-fixture.ts';

function scripted(answers: (Response | Error)[], opts: { retries?: number } = {}) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fetchImpl = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    const a = answers.shift();
    if (!a) throw new Error('no more answers');
    if (a instanceof Error) throw a;
    return a;
  }) as unknown as typeof fetch;
  return { calls, client: new EdgeClient({ baseUrl: 'http://edge.test/', token: 'tok', backoffMs: 1, retries: opts.retries ?? 3, fetchImpl }) };
}

const jsonRes = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const down = () => new TypeError('fetch failed');

describe('EdgeClient', () => {
  it('retries network errors and 5xx, then returns the answer; sends the bearer token', async () => {
    const { calls, client } = scripted([down(), jsonRes(503, { error: { code: 'x', message: 'busy' } }), jsonRes(200, { cancel_requested: true, lease_expires_at: 'z' })]);
    const reply = await client.heartbeat('job_1', { lease_id: 'lse_1' });
    expect(reply).toEqual({ cancel_requested: true, lease_expires_at: 'z' });
    expect(calls).toHaveLength(3);
    expect(calls[0].url).toBe('http://edge.test/internal/v1/jobs/job_1/heartbeat');
    expect((calls[0].init.headers as Record<string, string>).authorization).toBe('Bearer tok');
  });

  it('gives up after the retries with an EdgeUnreachableError (status null)', async () => {
    const { calls, client } = scripted(Array.from({ length: 4 }, () => jsonRes(500, { error: { code: 'internal', message: 'boom' } })));
    const err = await client.event('job_1', 'lse_1', { level: 'info', type: 'message', message: 'hi' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EdgeUnreachableError);
    expect((err as EdgeApiError).status).toBeNull();
    expect((err as Error).message).toMatch(/boom.*gave up after 4 attempts/);
    expect(calls).toHaveLength(4);
  });

  it('a call with a budget retries beyond the default count, telling onRetry each doubling delay', async () => {
    const { calls, client } = scripted([...Array.from({ length: 6 }, down), jsonRes(200, {})], { retries: 1 });
    const delays: number[] = [];
    await client.cancelled('job_1', 'lse_1', { budgetMs: 60_000, onRetry: (err, ms) => delays.push(ms) && expect(err.message).toMatch(/fetch failed/) });
    expect(calls).toHaveLength(7);
    expect(delays).toEqual([1, 2, 4, 8, 16, 32]);
    expect(JSON.parse(calls[0].init.body as string)).toEqual({ lease_id: 'lse_1' });
  });

  it('an aborted signal ends the retrying with the last failure', async () => {
    const stop = new AbortController();
    const { calls, client } = scripted(Array.from({ length: 10 }, down));
    const err = await client
      .complete('job_1', 'lse_1', { artifact: { key: 'k', bytes: 1, sha256: '0'.repeat(64) }, base_model: 'm', classes: ['a'], metrics: {} }, {
        budgetMs: 60_000,
        signal: stop.signal,
        onRetry: () => stop.abort(),
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EdgeUnreachableError);
    expect(calls).toHaveLength(1);
  });

  it('409 is a LeaseLostError, 422 an EdgeApiError, without retries', async () => {
    const a = scripted([jsonRes(409, { error: { code: 'conflict', message: 'not the current lease' } })]);
    await expect(a.client.complete('job_1', 'lse_1', { artifact: { key: 'k', bytes: 1, sha256: '0'.repeat(64) }, base_model: 'm', classes: ['a'], metrics: {} })).rejects.toBeInstanceOf(LeaseLostError);
    expect(a.calls).toHaveLength(1);
    const b = scripted([jsonRes(422, { error: { code: 'validation_failed', message: 'bad' } })]);
    const err = await b.client.fail('job_1', 'lse_1', 'x', 'y').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EdgeApiError);
    expect(err).not.toBeInstanceOf(EdgeUnreachableError);
    expect((err as EdgeApiError).status).toBe(422);
    expect((err as EdgeApiError).code).toBe('validation_failed');
    expect(JSON.parse(b.calls[0].init.body as string)).toEqual({ lease_id: 'lse_1', code: 'x', message: 'y' });
  });

  it('lease: 204 is null, 200 the lease parsed with the contract', async () => {
    const lease = testLease();
    const { client, calls } = scripted([new Response(null, { status: 204 }), jsonRes(200, { ...lease, unknown_field: 1 })]);
    expect(await client.lease('w1', 30)).toBeNull();
    const first = JSON.parse(calls[0].init.body as string);
    expect(first).toEqual({ worker_id: 'w1', lease_seconds: 30, request_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(await client.lease('w1')).toEqual(lease);
    const second = JSON.parse(calls[1].init.body as string);
    expect(second).toEqual({ worker_id: 'w1', request_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    // Every lease call is a new request (its retries reuse its id: lease-retry.test.ts).
    expect(second.request_id).not.toBe(first.request_id);
  });

  it('an answer that breaks the contract is an EdgeApiError naming it, not retried', async () => {
    const { hyperparameters } = testLease().job;
    const { crop_scale: _, ...withoutCropScale } = hyperparameters;
    const noCropScale = testLease({ hyperparameters: withoutCropScale as typeof hyperparameters });
    const cases: [(c: EdgeClient) => Promise<unknown>, Response, RegExp][] = [
      [(c) => c.lease('w1'), jsonRes(200, noCropScale), /Lease contract.*job\.hyperparameters\.crop_scale/],
      [(c) => c.lease('w1'), new Response('<html>', { status: 200 }), /Lease contract.*not JSON/],
      [(c) => c.heartbeat('job_1', { lease_id: 'l' }), jsonRes(200, { cancel_requested: 'no' }), /HeartbeatResponse contract.*cancel_requested/],
    ];
    for (const [call, answer, message] of cases) {
      const s = scripted([answer]);
      const err = await call(s.client).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EdgeApiError);
      expect(err).not.toBeInstanceOf(EdgeUnreachableError);
      expect((err as EdgeApiError).code).toBe('contract_violation');
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).toContain('shared/contracts/worker-api.ts');
      expect(s.calls).toHaveLength(1);
    }
  });
});
