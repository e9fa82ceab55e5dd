// EdgeClient on a scripted fetch: retries with backoff on network errors and 5xx, 409 is a
// LeaseLostError, other 4xx fail at once, 204 from /leases is null.
import { describe, expect, it } from 'vitest';
import { EdgeApiError, EdgeClient, LeaseLostError } from '../../../gpu-worker/trainer/edge-client.ts';

function scripted(answers: (Response | Error)[]) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fetchImpl = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    const a = answers.shift();
    if (!a) throw new Error('no more answers');
    if (a instanceof Error) throw a;
    return a;
  }) as unknown as typeof fetch;
  return { calls, client: new EdgeClient({ baseUrl: 'http://edge.test/', token: 'tok', backoffMs: 1, retries: 3, fetchImpl }) };
}

const jsonRes = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

describe('EdgeClient', () => {
  it('retries network errors and 5xx, then returns the answer; sends the bearer token', async () => {
    const { calls, client } = scripted([new TypeError('fetch failed'), jsonRes(503, { error: { code: 'x', message: 'busy' } }), jsonRes(200, { cancel_requested: true, lease_expires_at: 'z' })]);
    const reply = await client.heartbeat('job_1', { lease_id: 'lse_1' });
    expect(reply.cancel_requested).toBe(true);
    expect(calls).toHaveLength(3);
    expect(calls[0].url).toBe('http://edge.test/internal/v1/jobs/job_1/heartbeat');
    expect((calls[0].init.headers as Record<string, string>).authorization).toBe('Bearer tok');
  });

  it('gives up after the retries', async () => {
    const { calls, client } = scripted(Array.from({ length: 4 }, () => jsonRes(500, { error: { code: 'internal', message: 'boom' } })));
    await expect(client.event('job_1', 'lse_1', { level: 'info', type: 'message', message: 'hi' })).rejects.toThrow(/boom.*gave up after 4/);
    expect(calls).toHaveLength(4);
  });

  it('409 is a LeaseLostError, 422 an EdgeApiError, without retries', async () => {
    const a = scripted([jsonRes(409, { error: { code: 'conflict', message: 'not the current lease' } })]);
    await expect(a.client.complete('job_1', 'lse_1', { artifact: { key: 'k', bytes: 1, sha256: '0'.repeat(64) }, base_model: 'm', classes: ['a'], metrics: {} })).rejects.toBeInstanceOf(LeaseLostError);
    expect(a.calls).toHaveLength(1);
    const b = scripted([jsonRes(422, { error: { code: 'validation_failed', message: 'bad' } })]);
    const err = await b.client.fail('job_1', 'lse_1', 'x', 'y').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EdgeApiError);
    expect((err as EdgeApiError).status).toBe(422);
    expect((err as EdgeApiError).code).toBe('validation_failed');
  });

  it('lease: 204 is null, 200 the lease', async () => {
    const { client, calls } = scripted([new Response(null, { status: 204 }), jsonRes(200, { lease_id: 'lse_9', attempts: 1 })]);
    expect(await client.lease('w1', 30)).toBeNull();
    expect(JSON.parse(calls[0].init.body as string)).toEqual({ worker_id: 'w1', lease_seconds: 30 });
    expect((await client.lease('w1'))?.lease_id).toBe('lse_9');
  });
});
