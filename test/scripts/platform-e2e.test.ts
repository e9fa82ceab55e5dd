// The platform end to end with real processes over real HTTP: the local stack (`npm start`: s3rver on disk, edge on
// Node with SQLite, one supervised worker process), `npm run demo` against it, `npm run worker` as a second worker,
// a worker SIGKILLed mid-training (the job resumes from its checkpoint, succeeds once, one succeeded webhook, a valid
// artifact), a cancel (cancelling → cancelled, one cancelled webhook, the worker free again), and a restart of the
// stack that keeps datasets, jobs, models, artifacts and the webhook log.
// All of it twice: with the edge on Node (SQLite) and with the edge's Workers build inside workerd (`npm start -- --edge
// workerd`: local D1, KV and Queues). On workerd the mid-evaluation kill and the two-worker test are not run again:
// they exercise the worker side (evaluation retries, a second worker taking a job), which is the same code on both
// runtimes, while the edge routes they use (leases, lease expiry, evaluations, webhooks) are run on workerd by the
// demo and the mid-training kill; the mid-evaluation kill alone would add minutes (256 images uploaded and scored).
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { loadClipModel } from '../../gpu-worker/clip/model.ts';
import { readAdapter } from '../../gpu-worker/cocoop/artifact.ts';
import { toyImageSet } from '../../lab/toyworld/image-sets.ts';
import { encodePng } from '../../lab/toyworld/png.ts';
import { type Launched, ROOT, cleanEnv, freePort, isAlive, launch } from '../helpers/processes.ts';
import { type WaitOptions, waitUntil } from '../helpers/wait-until.ts';
import { type WebhookReceiver, startReceiver } from '../helpers/webhook-receiver.ts';
import { apiCall } from '../../scripts/lib/api-call.ts';

const CLASSES = ['blue star', 'green circle', 'red square', 'yellow triangle'];
let dataDir: string;
let port: number;
let env: NodeJS.ProcessEnv;
let stack: Launched;
let url: string;
let admin: string;
let receiver: WebhookReceiver;
const launched: Launched[] = [];
/** API keys of the tenants the tests created (their data must survive a restart). */
const tenantKeys: string[] = [];

interface Job {
  id: string;
  status: string;
  model_id: string | null;
  error: { code: string; message: string } | null;
}
interface JobEvent {
  id: string;
  type: string;
  message: string;
  data?: Record<string, unknown>;
}
interface Delivery {
  id: string;
  event_type: string;
  status: string;
  payload: { data: { id: string } };
}

function start(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Launched {
  const l = launch(args, { ...env, ...extraEnv });
  launched.push(l);
  return l;
}

const api = <T>(key: string, method: string, path: string, body?: unknown, expectStatus?: number) => apiCall<T>(url, key, method, path, body, expectStatus);

/** How the waits here poll: every 200 ms, with the stack's last log lines if the deadline passes. */
const polling = (timeoutMs: number): WaitOptions => ({ timeoutMs, intervalMs: 200, context: () => stack.lines.slice(-30).join('\n') });

/** A tenant with a webhook endpoint to `receiver` at `hookPath` and a ready 4-class dataset of night images. */
async function tenantWithDataset(hookPath: string): Promise<{ key: string; datasetId: string; endpointId: string; secret: string }> {
  const t = await api<{ api_key: string }>(admin, 'POST', '/v1/tenants', { name: `e2e ${hookPath}` }, 201);
  const ep = await api<{ id: string; secret: string }>(t.api_key, 'POST', '/v1/webhook-endpoints', { url: receiver.url + hookPath }, 201);
  const ds = await api<{ id: string }>(t.api_key, 'POST', '/v1/datasets', { name: 'night shapes' }, 201);
  const set = await toyImageSet('night', 'train', 5, CLASSES, 4, 48);
  for (const [c, label] of CLASSES.entries()) {
    const form = new FormData();
    form.append('label', label);
    for (let i = 0; i < set.images.length; i++) {
      if (set.labels[i] === c) form.append('file', new Blob([new Uint8Array(await encodePng(set.images[i]!))], { type: 'image/png' }), `${i}.png`);
    }
    await api(t.api_key, 'POST', `/v1/datasets/${ds.id}/images`, form, 201);
  }
  await api(t.api_key, 'POST', `/v1/datasets/${ds.id}/finalize`, undefined, 200);
  tenantKeys.push(t.api_key);
  return { key: t.api_key, datasetId: ds.id, endpointId: ep.id, secret: ep.secret };
}

const createJob = (key: string, datasetId: string, epochs: number) =>
  api<Job>(key, 'POST', '/v1/training-jobs', { dataset_id: datasetId, method: 'cocoop', hyperparameters: { epochs, shots: 4, seed: 2, crop_scale: [0.5, 1] } }, 201);

const getJob = (key: string, id: string) => api<Job>(key, 'GET', `/v1/training-jobs/${id}`);

async function events(key: string, id: string): Promise<JobEvent[]> {
  return (await api<{ data: JobEvent[] }>(key, 'GET', `/v1/training-jobs/${id}/events?limit=100`)).data;
}

const waitForStatus = (key: string, id: string, statuses: string[], timeoutMs: number) =>
  waitUntil(`job ${id} to be ${statuses.join('/')}`, async () => {
    const j = await getJob(key, id);
    return statuses.includes(j.status) ? j : null;
  }, polling(timeoutMs));

/** The worker holding the job: from its latest "Started by worker <id>." / "Resumed by worker <id> (...)" event; ids end in -<pid>. */
async function holderOf(key: string, jobId: string): Promise<{ workerId: string; pid: number }> {
  const workerId = await waitUntil('a lease event', async () => {
    const ids = (await events(key, jobId)).map((e) => e.message.match(/^(?:Started|Resumed) by worker (\S+?)(?:\.| \()/)?.[1]).filter(Boolean);
    return ids.at(-1);
  }, polling(30_000));
  return { workerId, pid: Number(workerId.split('-').at(-1)) };
}

/**
 * The endpoint's deliveries once none is pending: every attempt has run and its outcome is recorded, so the receiver
 * has got all it will ever get for them (a delivery row is written with the event that causes it).
 */
const settledDeliveries = (key: string, endpointId: string) =>
  waitUntil('every delivery settled', async () => {
    const { data } = await api<{ data: Delivery[] }>(key, 'GET', `/v1/webhook-endpoints/${endpointId}/deliveries`);
    return data.length > 0 && data.every((d) => d.status !== 'pending') && data;
  }, polling(30_000));

/** Verified deliveries at `hookPath` (every one must verify with the endpoint's secret). */
function verifiedAt(hookPath: string, secret: string): { type: string; data: { id: string }; webhookId: string }[] {
  const wh = new Webhook(secret);
  return receiver.at(hookPath).map((r) => {
    const h = (n: string) => String(r.headers[n] ?? '');
    const payload = wh.verify(r.body, { 'webhook-id': h('webhook-id'), 'webhook-timestamp': h('webhook-timestamp'), 'webhook-signature': h('webhook-signature') }) as {
      type: string;
      data: { id: string };
    };
    return { ...payload, webhookId: h('webhook-id') };
  });
}

let runtime: 'node' | 'workerd';

async function launchStack(): Promise<Launched> {
  const s = start(['bin/start.mjs', '--edge', runtime]);
  url = (await s.waitFor(/ready at (http:\/\/\S+)/, 60_000))[1]!;
  await s.waitFor(/^\[worker\] worker \S+: polling for jobs/, 60_000);
  return s;
}

async function setUp(edge: 'node' | 'workerd'): Promise<void> {
  runtime = edge;
  dataDir = mkdtempSync(join(tmpdir(), `cocoop-e2e-${edge}-`));
  launched.length = 0;
  tenantKeys.length = 0;
  port = await freePort();
  env = cleanEnv({
    DATA_DIR: dataDir,
    PORT: String(port),
    POLL_MS: '200',
    MAX_POLL_MS: '500',
    HEARTBEAT_MS: '300',
    LEASE_SECONDS: '4',
    WEBHOOK_RETRY_SCHEDULE: '1,1,1',
  });
  receiver = await startReceiver();
  stack = await launchStack();
  admin = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  expect(JSON.parse(readFileSync(join(dataDir, 'stack.json'), 'utf8'))).toMatchObject({ edge_url: url, edge_runtime: edge });
}

async function tearDown(): Promise<void> {
  for (const l of launched) if (l.child.exitCode === null && l.child.signalCode === null) l.child.kill('SIGKILL');
  // The supervised worker is the launcher's child, wrangler (with workerd) leads its own process group: make sure
  // none of them outlives the test.
  for (const line of launched.flatMap((l) => l.lines)) {
    const m = line.match(/^\[(worker|edge)\] pid (\d+)$/);
    if (m && isAlive(Number(m[2]))) process.kill(m[1] === 'edge' ? -Number(m[2]) : Number(m[2]), 'SIGKILL');
  }
  await receiver?.close();
  rmSync(dataDir, { recursive: true, force: true });
}

describe.each(['node', 'workerd'] as const)('the platform end to end (real processes, real HTTP), edge on %s', (edge) => {
  beforeAll(() => setUp(edge), 120_000);
  afterAll(tearDown, 30_000);
  /** Tests run on the Node edge only (see the header). */
  const itNode = edge === 'node' ? it : () => undefined;

  it('npm run demo completes the whole flow and prints its results', async () => {
    const demo = start(['bin/run-ts.mjs', 'scripts/demo.ts', '--classes', '8', '--shots', '4', '--epochs', '2', '--test-per-class', '4', '--timeout-s', '240']);
    const code = await demo.exited;
    const out = demo.lines.join('\n');
    expect(code, out).toBe(0);
    const key = out.match(/API key \(shown once\): (\S+)/)![1]!;
    tenantKeys.push(key);
    const modelId = out.match(/model (mdl_\w+)/)![1]!;
    expect(out).toMatch(/5\/8 webhook training_job\.succeeded received and verified/);
    // 4 shots + 1 held out per class (validation_split 0.2): the job validated on 4 images, 1 per class.
    expect(out).toMatch(/4 classes × 5: 4 shots \+ 1 held out for validation/);
    expect(out).toMatch(/validation \(4 held-out images of the 4 training labels\): CoCoOp [\d.]+%, zero-shot CLIP [\d.]+%/);
    expect(out).toMatch(/7\/8 evaluations eval_\w+, eval_\w+ succeeded .* \(webhooks evaluation\.succeeded verified\)/);
    // The results table: base and new rows with a zero-shot and an adapted accuracy each.
    const rows = [...out.matchAll(/^\[demo\]\s+(base|new): \d+ labels[^\n]*?\s(\d+)\s+([\d.]+)%\s+([\d.]+)%$/gm)];
    expect(rows.map((r) => r[1])).toEqual(['base', 'new']);
    const verdicts = [...out.matchAll(/CoCoOp (beats|ties with|does not beat) zero-shot CLIP on (the labels it was trained on|labels it never saw): (\d+)\/16 vs (\d+)\/16 right/g)];
    expect(verdicts).toHaveLength(2);
    for (const [k, r] of rows.entries()) {
      expect(Number(r[2])).toBe(16); // 4 classes × 4 test images
      // The plain sentence follows the table's numbers (counted from /v1/classify answers).
      const [zeroShot, adapted] = [Math.round((Number(r[3]) / 100) * 16), Math.round((Number(r[4]) / 100) * 16)];
      const v = verdicts[k]!;
      expect([Number(v[3]), Number(v[4])]).toEqual([adapted, zeroShot]);
      expect(v[1]).toBe(adapted > zeroShot ? 'beats' : adapted === zeroShot ? 'ties with' : 'does not beat');
      // Floors (chance: 4 of 16). This demo (seed 1) run with --seed 1–5 on a local stack gave zero-shot and adapted
      // 11–16 of 16 right on both rows, adapted at most 2 below zero-shot; seed 1 gave 16/16 each time it ran.
      // Floors: 8 of 16 each, adapted at most 4 below zero-shot.
      expect(zeroShot, `${r[1]} zero-shot`).toBeGreaterThanOrEqual(8);
      expect(adapted, `${r[1]} adapted`).toBeGreaterThanOrEqual(8);
      expect(adapted, `${r[1]} adapted vs zero-shot`).toBeGreaterThanOrEqual(zeroShot - 4);
    }

    // What the demo did is visible through the API with its tenant's key.
    const model = await api<{ id: string; method: string; classes: string[]; metrics: { validation: { n: number } } }>(key, 'GET', `/v1/models/${modelId}`);
    expect(model.method).toBe('cocoop');
    expect(model.classes).toHaveLength(4);
    expect(model.metrics.validation.n).toBe(4);
    const evaluations = (await api<{ data: { status: string; model: string; result: { n: number } }[] }>(key, 'GET', '/v1/evaluations')).data;
    expect(evaluations.map((e) => [e.status, e.model, e.result.n])).toEqual([
      ['succeeded', modelId, 16],
      ['succeeded', modelId, 16],
    ]);
    const [endpoint] = (await api<{ data: { id: string }[] }>(key, 'GET', '/v1/webhook-endpoints')).data;
    const deliveries = (await api<{ data: Delivery[] }>(key, 'GET', `/v1/webhook-endpoints/${endpoint!.id}/deliveries`)).data;
    expect(deliveries.map((d) => `${d.event_type} ${d.status}`).sort()).toEqual([
      'evaluation.succeeded succeeded',
      'evaluation.succeeded succeeded',
      'training_job.succeeded succeeded',
    ]);
  }, 240_000);

  it('a worker SIGKILLed mid-training: the job resumes from its checkpoint, succeeds once, one webhook, a valid artifact', async () => {
    const extra = start(['bin/run-ts.mjs', 'scripts/add-worker-process.ts']);
    await extra.waitFor(/polling for jobs/, 60_000);
    const t = await tenantWithDataset('/crash');
    const job = await createJob(t.key, t.datasetId, 25);
    const holder = await holderOf(t.key, job.id);
    // Kill once a checkpoint is in S3 (the holder's log says so; it is either the stack's worker or the extra one).
    const holderLines = () => (holder.pid === extra.child.pid ? extra : stack);
    await holderLines().waitFor(new RegExp(`job ${job.id}: uploaded the checkpoint of epoch \\d+`), 60_000);
    process.kill(holder.pid, 'SIGKILL');

    const done = await waitForStatus(t.key, job.id, ['succeeded', 'failed', 'cancelled'], 150_000);
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    const evs = await events(t.key, job.id);
    const resumed = evs.find((e) => /^Resumed from checkpoint epoch \d+\.$/.test(e.message));
    expect(resumed, evs.map((e) => e.message).join('\n')).toBeDefined();
    const from = Number(resumed!.data!.epoch);
    expect(from).toBeGreaterThanOrEqual(1);
    // The second attempt trained only the epochs after the checkpoint.
    const after = evs.slice(evs.indexOf(resumed!)).filter((e) => e.type === 'metrics').map((e) => e.data!.epoch);
    expect(after).toEqual(Array.from({ length: 25 - from }, (_, i) => from + 1 + i));
    expect((await holderOf(t.key, job.id)).workerId).not.toBe(holder.workerId);
    expect(evs.filter((e) => /^Training succeeded/.test(e.message))).toHaveLength(1);

    // Exactly one succeeded delivery, and the receiver got exactly that one once every delivery has settled.
    const deliveries = await settledDeliveries(t.key, t.endpointId);
    const hooks = verifiedAt('/crash', t.secret).filter((d) => d.data.id === job.id);
    expect(hooks.map((d) => d.type)).toEqual(['training_job.succeeded']);
    expect(deliveries.map((d) => [d.event_type, d.status])).toEqual([['training_job.succeeded', 'succeeded']]);

    // The artifact: the bytes the model record describes, and an adapter that loads against the base model.
    const model = await api<{ artifact: { bytes: number; sha256: string }; classes: string[] }>(t.key, 'GET', `/v1/models/${done.model_id}`);
    const res = await fetch(`${url}/v1/models/${done.model_id}/artifact`, { headers: { authorization: `Bearer ${t.key}` } });
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.byteLength).toBe(model.artifact.bytes);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(model.artifact.sha256);
    const path = join(dataDir, 'crash-artifact.safetensors');
    writeFileSync(path, bytes);
    const base = loadClipModel(join(ROOT, 'models/toy-clip'));
    const adapter = readAdapter(path, { config: base.config, sha256: base.weightsSha256() });
    expect(adapter.params.method).toBe('cocoop');
    expect(adapter.classNames).toEqual(model.classes);

    // The supervisor replaced its worker if that was the one killed; the job-holding workers are healthy again.
    if (holder.pid !== extra.child.pid) await stack.waitFor(new RegExp(`^\\[worker\\] pid ${holder.pid} exited \\(signal SIGKILL\\)`), 30_000);
    else expect(await extra.exited).toBeNull();
  }, 240_000);

  itNode('a worker SIGKILLed mid-evaluation: another attempt runs it, one result, one evaluation.succeeded webhook', async () => {
    const t = await tenantWithDataset('/eval-crash');
    const job = await createJob(t.key, t.datasetId, 1);
    const trained = await waitForStatus(t.key, job.id, ['succeeded', 'failed', 'cancelled'], 120_000);
    expect(trained.status, JSON.stringify(trained.error)).toBe('succeeded');
    // A test set large enough that scoring it with CoCoOp takes seconds: 64 classes × 4 night images, 64 labels.
    const { CLASS_NAMES } = await import('../../lab/toyworld/world.ts');
    const test = await toyImageSet('night', 'test', 7, CLASS_NAMES, 4, 48);
    const ds = await api<{ id: string }>(t.key, 'POST', '/v1/datasets', { name: 'night test, all classes' }, 201);
    for (const [c, label] of test.classNames.entries()) {
      const form = new FormData();
      form.append('label', label);
      for (let i = 0; i < test.images.length; i++) {
        if (test.labels[i] === c) form.append('file', new Blob([new Uint8Array(await encodePng(test.images[i]!))], { type: 'image/png' }), `${i}.png`);
      }
      await api(t.key, 'POST', `/v1/datasets/${ds.id}/images`, form, 201);
    }
    await api(t.key, 'POST', `/v1/datasets/${ds.id}/finalize`, undefined, 200);

    const marks = launched.map((l) => l.lines.length);
    const ev = await api<{ id: string }>(t.key, 'POST', '/v1/evaluations', { model: trained.model_id, dataset_id: ds.id }, 202);
    // Kill the worker process the moment it logs the lease (the stack's worker or another one still running).
    const leased = new RegExp(`worker (\\S+): leased evaluation ${ev.id} \\(attempt 1\\)`);
    const holder = await waitUntil('the evaluation leased', async () => {
      for (const [k, l] of launched.entries()) {
        const hit = l.lines.slice(marks[k]).map((line) => line.match(leased)).find(Boolean);
        if (hit) return hit[1]!;
      }
      return null;
    }, polling(60_000));
    process.kill(Number(holder.split('-').at(-1)), 'SIGKILL');

    const done = await waitUntil('the evaluation final', async () => {
      const e = await api<{ status: string; result: { n: number; confusion: { matrix: number[][] } } | null; error: unknown }>(t.key, 'GET', `/v1/evaluations/${ev.id}`);
      return ['succeeded', 'failed'].includes(e.status) ? e : null;
    }, polling(150_000));
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    expect(done.result!.n).toBe(256);
    expect(done.result!.confusion.matrix.flat().reduce((a, b) => a + b, 0)).toBe(256);
    // The second attempt was another lease (attempt 2), by a live worker.
    const retried = launched.some((l, k) => l.lines.slice(marks[k]).some((line) => line.includes(`leased evaluation ${ev.id} (attempt 2)`)));
    expect(retried).toBe(true);
    // Exactly one verified evaluation.succeeded delivery for it (and nothing else for it), also after more rounds.
    await waitUntil('the evaluation webhook', async () => verifiedAt('/eval-crash', t.secret).some((d) => d.data.id === ev.id), polling(30_000));
    const deliveries = (await api<{ data: Delivery[] }>(t.key, 'GET', `/v1/webhook-endpoints/${t.endpointId}/deliveries`)).data;
    expect(deliveries.filter((d) => d.payload.data.id === ev.id).map((d) => [d.event_type, d.status])).toEqual([['evaluation.succeeded', 'succeeded']]);
    expect(verifiedAt('/eval-crash', t.secret).filter((d) => d.data.id === ev.id).map((d) => d.type)).toEqual(['evaluation.succeeded']);
  }, 300_000);

  itNode('npm run worker trains alongside the stack worker', async () => {
    let extra = launched.find((l) => l.lines.some((x) => /joining the local stack/.test(x)) && l.child.exitCode === null && l.child.signalCode === null);
    if (!extra) {
      extra = start(['bin/run-ts.mjs', 'scripts/add-worker-process.ts']);
      await extra.waitFor(/polling for jobs/, 60_000);
    }
    const extraId = (await extra.waitFor(/joining the local stack at \S+ as (\S+) /))[1]!;
    const t = await tenantWithDataset('/scale');
    const jobs = [await createJob(t.key, t.datasetId, 6), await createJob(t.key, t.datasetId, 6)];
    const holders = await Promise.all(jobs.map((j) => holderOf(t.key, j.id)));
    expect(new Set(holders.map((h) => h.workerId)).size).toBe(2); // one job each, at the same time
    expect(holders.map((h) => h.workerId)).toContain(extraId);
    for (const j of jobs) expect((await waitForStatus(t.key, j.id, ['succeeded', 'failed'], 120_000)).status).toBe('succeeded');
  }, 240_000);

  it('cancel: cancelling → cancelled, one cancelled webhook, and the worker takes the next job', async () => {
    const t = await tenantWithDataset('/cancel');
    const job = await createJob(t.key, t.datasetId, 100);
    await waitUntil('the first epoch', async () => (await events(t.key, job.id)).some((e) => e.type === 'metrics'), polling(60_000));
    const holder = await holderOf(t.key, job.id);
    const cancelling = await api<Job>(t.key, 'POST', `/v1/training-jobs/${job.id}/cancel`, undefined, 200);
    expect(cancelling.status).toBe('cancelling');
    const done = await waitForStatus(t.key, job.id, ['cancelled', 'succeeded', 'failed'], 30_000);
    expect(done.status).toBe('cancelled');
    expect(done.model_id).toBeNull();

    const settled = await settledDeliveries(t.key, t.endpointId);
    expect(settled.map((d) => [d.event_type, d.status])).toEqual([['training_job.cancelled', 'succeeded']]);
    expect(verifiedAt('/cancel', t.secret).map((d) => [d.type, d.data.id])).toEqual([['training_job.cancelled', job.id]]);

    // The worker that stopped is free: the next job runs (to success) on some worker, the stopped one included.
    const next = await createJob(t.key, t.datasetId, 1);
    expect((await waitForStatus(t.key, next.id, ['succeeded', 'failed'], 60_000)).status).toBe('succeeded');
    expect(isAlive(holder.pid)).toBe(true);
  }, 180_000);

  it('a restart of npm start keeps datasets, jobs, models, artifacts and the webhook log', async () => {
    const snapshot = async () => {
      const out: unknown[] = [];
      for (const key of tenantKeys) {
        const datasets = await api<{ data: unknown[] }>(key, 'GET', '/v1/datasets?limit=100');
        const jobs = await api<{ data: unknown[] }>(key, 'GET', '/v1/training-jobs?limit=100');
        const models = await api<{ data: { id: string; artifact: { sha256: string } }[] }>(key, 'GET', '/v1/models?limit=100');
        const endpoints = await api<{ data: { id: string }[] }>(key, 'GET', '/v1/webhook-endpoints');
        const deliveries = [];
        for (const ep of endpoints.data) deliveries.push(await api(key, 'GET', `/v1/webhook-endpoints/${ep.id}/deliveries`));
        const artifacts = [];
        for (const m of models.data) {
          const res = await fetch(`${url}/v1/models/${m.id}/artifact`, { headers: { authorization: `Bearer ${key}` } });
          artifacts.push(createHash('sha256').update(Buffer.from(await res.arrayBuffer())).digest('hex'));
        }
        out.push({ datasets, jobs, models, endpoints, deliveries, artifacts });
      }
      return out;
    };
    // Its own tenant, trained model and delivered webhook (earlier tests' tenants, when they ran, are kept too).
    const own = await tenantWithDataset('/restart');
    const job = await createJob(own.key, own.datasetId, 1);
    expect((await waitForStatus(own.key, job.id, ['succeeded', 'failed'], 120_000)).status).toBe('succeeded');
    await settledDeliveries(own.key, own.endpointId);
    // Let every delivery reach its final state first (a pending one would be sent after the restart: not a loss, but a change).
    await waitUntil('no pending deliveries', async () => !JSON.stringify(await snapshot()).includes('"status":"pending"'), polling(30_000));
    const before = await snapshot();
    expect(before.at(-1)).toMatchObject({
      datasets: { data: [expect.anything()] },
      jobs: { data: [expect.anything()] },
      models: { data: [expect.anything()] },
      deliveries: [{ data: [expect.objectContaining({ event_type: 'training_job.succeeded', status: 'succeeded' })] }],
      artifacts: [expect.stringMatching(/^[0-9a-f]{64}$/)],
    });
    const extras = launched.filter((l) => l !== stack && l.lines.some((x) => /joining the local stack/.test(x)) && l.child.exitCode === null && l.child.signalCode === null);

    stack.child.kill('SIGTERM');
    expect(await stack.exited).toBe(0);
    // On workerd: wrangler's process group (wrangler and workerd) is gone with the stack.
    for (const m of stack.lines.map((l) => l.match(/^\[edge\] pid (\d+)$/)).filter((x) => x !== null)) expect(isAlive(-Number(m[1]))).toBe(false);
    for (const x of extras) expect(await x.exited, x.lines.slice(-15).join('\n') + ` signal ${x.child.signalCode}`).toBe(0); // a second worker leaves with the stack it joined

    stack = await launchStack();
    expect(await snapshot()).toEqual(before);
  }, 180_000);
});
