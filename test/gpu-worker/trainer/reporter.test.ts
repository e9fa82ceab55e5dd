// The reporter against a scripted edge: what a job sends (heartbeats with progress, event texts, the final report),
// and what the answers do (cancel_requested and 409 stop the job; an unreachable edge at /complete abandons it).
import { describe, expect, it } from 'vitest';
import type { TrainProgress } from '../../../gpu-worker/cocoop/train.ts';
import { EdgeClient } from '../../../gpu-worker/trainer/edge-client.ts';
import { DatasetError } from '../../../gpu-worker/trainer/errors.ts';
import { JobStop } from '../../../gpu-worker/trainer/job-stop.ts';
import { JobReporter } from '../../../gpu-worker/trainer/reporter.ts';
import { testLease } from './lease-fixture.ts';

type Answer = { status: number; body?: unknown } | 'down';

/** A reporter whose client gets `answer(path)` for every call; the calls are recorded. */
function setup(answer: (path: string) => Answer, attempts = 2) {
  const calls: { path: string; body: Record<string, unknown> }[] = [];
  const fetchImpl = (async (url: string, init: RequestInit) => {
    const path = new URL(url).pathname.replace('/internal/v1', '');
    calls.push({ path, body: JSON.parse(init.body as string) as Record<string, unknown> });
    const a = answer(path);
    if (a === 'down') throw new TypeError('fetch failed');
    return new Response(a.body === undefined ? null : JSON.stringify(a.body), { status: a.status });
  }) as unknown as typeof fetch;
  const client = new EdgeClient({ baseUrl: 'http://edge.test', token: 't', backoffMs: 1, retries: attempts - 1, fetchImpl });
  const stop = new JobStop('job_1');
  const logs: string[] = [];
  const reporter = new JobReporter({ client, lease: testLease({}, { attempts: 2 }), stop, log: (l) => logs.push(l), leaseSeconds: 30, heartbeatMs: 5000, reportRetryMs: 300 });
  return { calls, stop, logs, reporter };
}

const ok = { status: 200, body: {} };
const beat = (cancel = false) => ({ status: 200, body: { cancel_requested: cancel, lease_expires_at: 'soon' } });
const progress = (step: number): TrainProgress => ({ epoch: 1, epochs: 3, step, stepsPerEpoch: 2, loss: 0.5, accuracy: 0.75, lr: 0.002, elapsedS: 1, etaS: 2 });

describe('JobReporter', () => {
  it('heartbeats carry the lease, its length and the latest progress; cancel_requested stops the job', async () => {
    const { calls, stop, reporter } = setup((p) => (p.endsWith('/heartbeat') ? beat(calls.length > 1) : ok));
    reporter.heartbeat();
    await reporter.settle();
    expect(calls[0]).toEqual({ path: '/jobs/job_1/heartbeat', body: { lease_id: 'lse_1', lease_seconds: 30 } });
    expect(stop.reason).toBeNull();
    reporter.progress(progress(1)); // a heartbeat went out < 1 s ago: none now
    await reporter.settle();
    expect(calls).toHaveLength(1);
    reporter.heartbeat();
    await reporter.settle();
    expect(calls[1]!.body).toEqual({
      lease_id: 'lse_1',
      lease_seconds: 30,
      progress: { epoch: 1, epochs: 3, step: 1, steps: 2 },
      metrics: { train_loss: 0.5, train_accuracy: 0.75 },
    });
    expect(stop.reason).toBe('cancel');
    expect(stop.signal.aborted).toBe(true);
  });

  it('the job events, in order, with their texts', async () => {
    const { calls, reporter } = setup(() => ok);
    reporter.started(12, 3);
    reporter.resumed(2);
    reporter.progress({ ...progress(2), epoch: 3, loss: 0.123456, accuracy: 0.5 });
    await reporter.settle();
    expect(calls.filter((c) => c.path.endsWith('/events')).map((c) => c.body)).toEqual([
      { lease_id: 'lse_1', level: 'info', type: 'message', message: 'Training started: 12 images in the training pool, 3 classes (no checkpoint to resume from).' },
      { lease_id: 'lse_1', level: 'info', type: 'message', message: 'Resumed from checkpoint epoch 2.', data: { epoch: 2, attempt: 2 } },
      {
        lease_id: 'lse_1',
        level: 'info',
        type: 'metrics',
        message: 'Epoch 3/3: loss 0.1235, accuracy 0.500.',
        data: { epoch: 3, epochs: 3, loss: 0.123456, accuracy: 0.5, lr: 0.002 },
      },
    ]);
  });

  it('a 409 stops the job as lease_lost and nothing more is sent; other failures are logged', async () => {
    const { calls, stop, logs, reporter } = setup((p) => (p.endsWith('/heartbeat') ? 'down' : { status: 409, body: { error: { code: 'conflict', message: 'not the current lease' } } }));
    reporter.heartbeat();
    reporter.started(1, 2);
    reporter.resumed(1);
    reporter.heartbeat();
    await reporter.settle();
    expect(stop.reason).toBe('lease_lost');
    expect(calls.map((c) => c.path)).toEqual(['/jobs/job_1/heartbeat', '/jobs/job_1/heartbeat', '/jobs/job_1/events']);
    expect(logs).toEqual([
      'job job_1: heartbeat failed: POST /jobs/job_1/heartbeat: fetch failed (gave up after 2 attempts)',
      'job job_1: lease lost (POST /jobs/job_1/events: not the current lease); stopping',
    ]);
  });

  it('complete: succeeded; an edge unreachable for the whole budget abandons the job, every retry logged', async () => {
    const a = setup(() => ok);
    const report = { artifact: { key: 'k', bytes: 3, sha256: 'a'.repeat(64) }, base_model: 'toy-clip', classes: ['a', 'b'], metrics: { train_loss: 1 } };
    expect(await a.reporter.complete(report)).toBe('succeeded');
    expect(a.calls[0]).toEqual({ path: '/jobs/job_1/complete', body: { lease_id: 'lse_1', ...report } });

    const b = setup(() => 'down');
    expect(await b.reporter.complete(report)).toBe('abandoned');
    expect(b.calls.length).toBeGreaterThan(2); // beyond the client's default attempts: the report budget decides
    expect(b.logs.slice(0, 2)).toEqual([
      'job job_1: complete failed (POST /jobs/job_1/complete: fetch failed); retrying in 1 ms',
      'job job_1: complete failed (POST /jobs/job_1/complete: fetch failed); retrying in 2 ms',
    ]);
    expect(b.logs.at(-1)).toMatch(/^job job_1: could not reach the edge to complete \(POST .*: fetch failed \(gave up after \d+ attempts\)\); abandoning the job to its lease$/);

    const c = setup(() => ({ status: 409, body: { error: { code: 'conflict', message: 'gone' } } }));
    await expect(c.reporter.complete(report)).rejects.toThrow(/gone/);
  });

  it('fail reports the code of the error; cancelled; a lost lease is lease_lost', async () => {
    const a = setup(() => ok);
    expect(await a.reporter.fail(new DatasetError('invalid_image', 'Image img_1 cannot be decoded'))).toBe('failed');
    expect(a.calls[0]).toEqual({ path: '/jobs/job_1/fail', body: { lease_id: 'lse_1', code: 'invalid_image', message: 'Image img_1 cannot be decoded' } });
    expect(a.logs).toEqual(['job job_1: failed (invalid_image): Image img_1 cannot be decoded']);
    expect(await a.reporter.fail(new Error('boom'))).toBe('failed');
    expect(a.calls[1]!.body).toMatchObject({ code: 'internal_error', message: 'boom' });
    expect(await a.reporter.cancelled()).toBe('cancelled');
    expect(a.calls[2]).toEqual({ path: '/jobs/job_1/cancelled', body: { lease_id: 'lse_1' } });

    const lost = setup(() => ({ status: 409, body: { error: { code: 'conflict', message: 'gone' } } }));
    expect(await lost.reporter.fail(new Error('x'))).toBe('lease_lost');
    expect(await lost.reporter.cancelled()).toBe('lease_lost');
    const down = setup(() => 'down');
    expect(await down.reporter.cancelled()).toBe('abandoned');
    expect(await down.reporter.fail(new Error('x'))).toBe('failed');
  });
});
