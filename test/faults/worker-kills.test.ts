// Fault: the training worker is killed again and again. Real worker processes (gpu-worker/trainer/main.ts on the
// bundled toy CLIP) against the real edge (Node + SQLite, in this process, MAX_JOB_ATTEMPTS = 2 via
// configFromEnv) and s3rver; each worker is SIGKILLed the moment it leases the job. Proves the attempt limit:
// after 2 killed attempts the job is not leased a third time — the next worker's lease request fails it with
// `too_many_attempts` and a clear message, one error event, exactly one training_job.failed delivery (verified
// signature) and no model; the worker that asked stays healthy and idle, and stops cleanly on SIGTERM.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromEnv } from '../../edge/config.ts';
import { type Launched, cleanEnv, launch } from '../helpers/processes.ts';
import {
  ADMIN_TOKEN,
  type FaultStack,
  WORKER_TOKEN,
  api,
  createJob,
  finalJob,
  readyDataset,
  settledDeliveries,
  startFaultStack,
  tenantWithHook,
  toyPngs,
  verifiedDeliveries,
} from './stack.ts';

const MAX_ATTEMPTS = 2;
let stack: FaultStack;
let workDir: string;
const launched: Launched[] = [];

beforeAll(async () => {
  // The limit as an operator sets it: MAX_JOB_ATTEMPTS in the edge's environment.
  const { maxJobAttempts } = configFromEnv({ ADMIN_TOKEN, WORKER_TOKEN, MAX_JOB_ATTEMPTS: String(MAX_ATTEMPTS) });
  expect(maxJobAttempts).toBe(MAX_ATTEMPTS);
  stack = await startFaultStack({ config: { maxJobAttempts } });
  workDir = mkdtempSync(join(tmpdir(), 'faults-kill-'));
}, 60_000);

afterAll(async () => {
  for (const l of launched) if (l.child.exitCode === null && l.child.signalCode === null) l.child.kill('SIGKILL');
  await stack?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

function startWorker(n: number): Launched {
  const l = launch(
    ['bin/run-ts.mjs', 'gpu-worker/trainer/main.ts'],
    cleanEnv({
      EDGE_URL: stack.url,
      WORKER_TOKEN,
      WORKER_ID: `killed-${n}`,
      S3_ENDPOINT: stack.s3.endpoint,
      S3_BUCKET: stack.s3.bucket,
      S3_ACCESS_KEY_ID: 'S3RVER',
      S3_SECRET_ACCESS_KEY: 'S3RVER',
      S3_FORCE_PATH_STYLE: 'true',
      WORK_DIR: join(workDir, String(n)),
      COCOOP_TF_BACKEND: 'wasm',
      POLL_MS: '200',
      MAX_POLL_MS: '400',
      LEASE_SECONDS: '1',
      HEARTBEAT_MS: '300',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    }),
  );
  launched.push(l);
  return l;
}

describe('a worker killed every time it leases the job', () => {
  it(`fails the job with too_many_attempts after ${MAX_ATTEMPTS} attempts, with one failed webhook`, async () => {
    const t = await tenantWithHook(stack, '/killed');
    const datasetId = await readyDataset(stack, t.key, await toyPngs(['red circle', 'blue square'], 2));
    const job = await createJob(stack, t.key, datasetId, 50);

    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const w = startWorker(attempt);
      const m = await w.waitFor(/leased job (\S+) \(attempt (\d+)\)/, 40_000);
      expect([m[1], Number(m[2])]).toEqual([job.id, attempt]);
      w.child.kill('SIGKILL');
      expect(await w.exited).toBeNull();
    }

    // The next worker's lease request finds the job's last lease expired: the job fails instead of a third attempt.
    const last = startWorker(MAX_ATTEMPTS + 1);
    await last.waitFor(/polling for jobs/, 40_000);
    const done = await finalJob(stack, t.key, job.id, 20_000, () => last.lines.slice(-20).join('\n'));
    expect(done.status).toBe('failed');
    expect(done.model_id).toBeNull();
    expect(done.error?.code).toBe('too_many_attempts');
    expect(done.error?.message).toMatch(new RegExp(`^The job's worker stopped ${MAX_ATTEMPTS} times without finishing`));

    const evs = (await api<{ data: { level: string; message: string }[] }>(stack.url, t.key, 'GET', `/v1/training-jobs/${job.id}/events?limit=100`)).data;
    expect(evs.map((e) => e.message).filter((m) => /^(Started|Resumed) by worker/.test(m))).toEqual([
      'Started by worker killed-1.',
      'Resumed by worker killed-2 (attempt 2) after the previous lease expired.',
    ]);
    expect(evs.filter((e) => e.level === 'error').map((e) => e.message)).toEqual([`Training failed: ${done.error!.message}`]);
    const row = stack.edge.db.raw.prepare('SELECT attempts FROM training_jobs WHERE id = ?').get(job.id) as { attempts: number };
    expect(row.attempts).toBe(MAX_ATTEMPTS);
    expect((stack.edge.db.raw.prepare('SELECT COUNT(*) AS n FROM models').get() as { n: number }).n).toBe(0);

    const deliveries = await settledDeliveries(stack, t);
    expect(deliveries.map((d) => [d.event_type, d.status])).toEqual([['training_job.failed', 'succeeded']]);
    expect(verifiedDeliveries(stack, t).map((d) => [d.type, d.data.id, d.data.status])).toEqual([['training_job.failed', job.id, 'failed']]);

    // The last worker never got the job, is still polling, and stops cleanly.
    expect(last.lines.some((l) => /leased job/.test(l))).toBe(false);
    expect(last.child.exitCode).toBeNull();
    last.child.kill('SIGTERM');
    expect(await last.exited).toBe(0);
  }, 120_000);
});
