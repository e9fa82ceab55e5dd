// Validation and evaluations on the real stack: s3rver, the edge on Node + SQLite with its webhook timer sending to a
// real loopback receiver, an inference server (the edge's INFERENCE_URL, serving /v1/classify) and in-process
// Trainers on the bundled toy CLIP, all sharing one CocoopInference as in a worker process. Toy-world PNGs of the
// "night" domain.
//
//   - a job with validation_split: per-epoch val_accuracy, the held-out count by the floor/at-least-1 rule, the
//     confusion matrix consistent with the figures, the model's metrics.validation = the job's result.validation
//   - a job with validation_dataset_id: its figures equal the test's own count of /v1/classify answers on those images
//   - an evaluation with a distractor label (and a zero-shot one): equal to the test's own count of /v1/classify
//     answers (accuracy, per class, confusion), one signed evaluation.succeeded webhook
//   - a worker that stops mid-evaluation (after encoding, before classifying; it never reports): the evaluation is
//     run again by another worker (attempt 2) and succeeds once, with the same figures and one webhook.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toyImageSet, type ToyDomain } from '../../lab/toyworld/image-sets.ts';
import { encodePng } from '../../lab/toyworld/png.ts';
import { startInferenceServer, type RunningInferenceServer } from '../../gpu-worker/serve/main.ts';
import { EdgeClient } from '../../gpu-worker/trainer/edge-client.ts';
import { Trainer } from '../../gpu-worker/trainer/trainer.ts';
import {
  type FaultStack,
  type Tenant,
  WORKER_TOKEN,
  api,
  finalJob,
  readyDataset,
  releaseModel,
  settledDeliveries,
  startFaultStack,
  tenantWithHook,
  toyModel,
  verifiedDeliveries,
  waitFor,
} from './stack.ts';

type Scores = {
  n: number;
  accuracy: number;
  zero_shot_accuracy: number;
  per_class: { label: string; n: number; accuracy: number; zero_shot_accuracy: number }[];
  confusion: { labels: string[]; matrix: number[][] };
};
type JobWithResult = {
  id: string;
  status: string;
  model_id: string | null;
  error: { code: string; message: string } | null;
  result: { train: { loss: number; accuracy: number }; validation: Scores | null } | null;
  metrics: Record<string, number>;
};
type Evaluation = { id: string; status: string; model: string; labels: string[]; result: Scores | null; error: { code: string } | null };
type Png = { label: string; bytes: Uint8Array };

// Confusable classes in the shifted "night" domain, so that neither zero-shot CLIP nor the adapters are always right
// (on raster images of distinct classes the toy CLIP scores 100% and a confusion matrix would test little).
const CLASSES = ['purple hexagon', 'purple circle', 'blue hexagon'];
const DOMAIN: ToyDomain = 'night';

/** Toy-world PNGs of DOMAIN, `perClass` per class. */
async function domainPngs(classes: string[], perClass: number, seed: number): Promise<Png[]> {
  const set = await toyImageSet(DOMAIN, 'train', seed, classes, perClass, 48);
  return Promise.all(set.images.map(async (img, i) => ({ label: set.classNames[set.labels[i]!]!, bytes: new Uint8Array(await encodePng(img)) })));
}
const SORTED = [...CLASSES].sort();

let stack: FaultStack;
let inference: RunningInferenceServer;
let workDir: string;
let tenant: Tenant;
const logs: string[] = [];
const trainers: Trainer[] = [];

function newTrainer(workerId: string, extra: { leaseSeconds?: number; afterEvaluationEncode?: () => Promise<void> } = {}): Trainer {
  const shared = sharedModel!;
  const t = new Trainer({
    client: new EdgeClient({ baseUrl: stack.url, token: WORKER_TOKEN, backoffMs: 50, timeoutMs: 10_000 }),
    blobs: stack.blobs(),
    model: shared.model,
    encoders: shared.encoders,
    inference: inference.inference,
    workDir: join(workDir, workerId),
    workerId,
    pollMs: 100,
    maxPollMs: 400,
    heartbeatMs: 250,
    leaseSeconds: extra.leaseSeconds ?? 60,
    log: (l) => logs.push(l),
    afterEvaluationEncode: extra.afterEvaluationEncode,
  });
  trainers.push(t);
  void t.start();
  return t;
}

let sharedModel: Awaited<ReturnType<typeof toyModel>> | null = null;

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'faults-eval-'));
  sharedModel = await toyModel();
  // The inference server first (the edge needs its URL); it reads adapters from the stack's S3 once that is up.
  let s: FaultStack | null = null;
  inference = await startInferenceServer({
    model: sharedModel,
    workerToken: WORKER_TOKEN,
    blobs: { get: (key) => s!.blobs().get(key) },
    port: 0,
  });
  stack = s = await startFaultStack({ config: { inferenceUrl: inference.url, rateLimit: { requestsPerWindow: 10_000 }, quotas: { concurrent_jobs: 10 } } });
  tenant = await tenantWithHook(stack, '/eval-hooks');
}, 120_000);

afterAll(async () => {
  await Promise.all(trainers.map((t) => t.stop()));
  await inference?.close();
  await releaseModel();
  await stack?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

const context = () => logs.slice(-30).join('\n');

async function getJob(id: string): Promise<JobWithResult> {
  return api<JobWithResult>(stack.url, tenant.key, 'GET', `/v1/training-jobs/${id}`);
}

async function succeededJob(id: string): Promise<JobWithResult> {
  const done = await finalJob(stack, tenant.key, id, 180_000, context);
  expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
  return getJob(id);
}

async function finalEvaluation(id: string): Promise<Evaluation> {
  return waitFor(
    `evaluation ${id} to finish`,
    async () => {
      const ev = await api<Evaluation>(stack.url, tenant.key, 'GET', `/v1/evaluations/${id}`);
      return (ev.status === 'succeeded' || ev.status === 'failed') && ev;
    },
    120_000,
    context,
  );
}

/** Top-1 labels of /v1/classify for every image (batches of at most 32). */
async function classifyTop1(model: string, images: Png[], labels: string[]): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < images.length; i += 32) {
    const batch = images.slice(i, i + 32);
    const res = await api<{ results: { predictions: { label: string; score: number }[] }[] }>(stack.url, tenant.key, 'POST', '/v1/classify', {
      model,
      images: batch.map((p) => Buffer.from(p.bytes).toString('base64')),
      labels,
    });
    expect(res.results).toHaveLength(batch.length);
    for (const r of res.results) {
      expect(r.predictions).toHaveLength(labels.length);
      // The highest score (the answer is sorted, but do not rely on it).
      const best = r.predictions.reduce((a, b) => (b.score > a.score ? b : a));
      out.push(best.label);
    }
  }
  return out;
}

/** The figures of a labelled set, counted here from classify answers. */
function countScores(images: Png[], labels: string[], adapted: string[], zeroShot: string[]) {
  const matrix = labels.map(() => labels.map(() => 0));
  const perClass = new Map<string, { n: number; right: number; zsRight: number }>();
  let right = 0;
  let zsRight = 0;
  images.forEach((img, i) => {
    matrix[labels.indexOf(img.label)]![labels.indexOf(adapted[i]!)]!++;
    const pc = perClass.get(img.label) ?? { n: 0, right: 0, zsRight: 0 };
    pc.n++;
    if (adapted[i] === img.label) {
      right++;
      pc.right++;
    }
    if (zeroShot[i] === img.label) {
      zsRight++;
      pc.zsRight++;
    }
    perClass.set(img.label, pc);
  });
  return { n: images.length, right, zsRight, matrix, perClass };
}

function expectScoresMatch(s: Scores, images: Png[], labels: string[], adapted: string[], zeroShot: string[]) {
  const c = countScores(images, labels, adapted, zeroShot);
  expect(s.n).toBe(c.n);
  expect(s.accuracy * s.n).toBeCloseTo(c.right, 6);
  expect(s.zero_shot_accuracy * s.n).toBeCloseTo(c.zsRight, 6);
  expect(s.confusion.labels).toEqual(labels);
  expect(s.confusion.matrix).toEqual(c.matrix);
  // per_class: the classes with images, in label order.
  expect(s.per_class.map((p) => p.label)).toEqual(labels.filter((l) => c.perClass.has(l)));
  for (const p of s.per_class) {
    const mine = c.perClass.get(p.label)!;
    expect(p.n).toBe(mine.n);
    expect(p.accuracy * p.n).toBeCloseTo(mine.right, 6);
    expect(p.zero_shot_accuracy * p.n).toBeCloseTo(mine.zsRight, 6);
  }
}

/** Internal consistency of a Scores block (the matrix agrees with the figures). */
function expectConsistent(s: Scores) {
  const total = s.confusion.matrix.flat().reduce((a, b) => a + b, 0);
  expect(total).toBe(s.n);
  expect(s.per_class.reduce((a, p) => a + p.n, 0)).toBe(s.n);
  const diag = s.confusion.matrix.reduce((a, row, i) => a + row[i]!, 0);
  expect(s.accuracy).toBeCloseTo(diag / s.n, 12);
  for (const p of s.per_class) {
    const row = s.confusion.matrix[s.confusion.labels.indexOf(p.label)]!;
    expect(row.reduce((a, b) => a + b, 0)).toBe(p.n);
    expect(p.accuracy).toBeCloseTo(row[s.confusion.labels.indexOf(p.label)]! / p.n, 12);
    expect(p.zero_shot_accuracy).toBeGreaterThanOrEqual(0);
    expect(p.zero_shot_accuracy).toBeLessThanOrEqual(1);
    // A per-class figure is a count over n.
    expect(Math.abs(p.zero_shot_accuracy * p.n - Math.round(p.zero_shot_accuracy * p.n))).toBeLessThan(1e-9);
  }
  const zsRight = s.per_class.reduce((a, p) => a + p.zero_shot_accuracy * p.n, 0);
  expect(s.zero_shot_accuracy * s.n).toBeCloseTo(zsRight, 6);
  // Rows of labels without images are all zero.
  s.confusion.labels.forEach((l, i) => {
    if (!s.per_class.some((p) => p.label === l)) expect(s.confusion.matrix[i]!.every((v) => v === 0)).toBe(true);
  });
}

function evaluationSucceededDeliveries(id: string) {
  return verifiedDeliveries(stack, tenant).filter((d) => d.type === 'evaluation.succeeded' && d.data.id === id);
}

// State carried from one test to the next (they run in order).
let heldOutModelId = '';
let trainDatasetId = '';
let evalPngs: Png[] = [];
let evalDatasetId = '';
const EVAL_CLASSES = ['purple hexagon', 'purple circle'];
const DISTRACTOR = 'blue hexagon'; // a training class, but no image of the evaluation dataset has it
const EVAL_LABELS = ['purple circle', DISTRACTOR, 'purple hexagon']; // the dataset's classes + a distractor, not sorted
let firstEvaluation: Scores | null = null;

describe('validation of training jobs on the real stack', () => {
  it('validation_split: val_accuracy every epoch, the hold-out count by the rule, consistent figures, the model carries them', async () => {
    newTrainer('t1');
    const perClass = 6;
    const split = 0.34;
    const pngs = await domainPngs(CLASSES, perClass, 7);
    trainDatasetId = await readyDataset(stack, tenant.key, pngs);
    const job = await api<{ id: string }>(stack.url, tenant.key, 'POST', '/v1/training-jobs', {
      dataset_id: trainDatasetId,
      method: 'cocoop',
      hyperparameters: { epochs: 2, shots: 16, validation_split: split, seed: 11 },
    }, 201);
    const done = await succeededJob(job.id);
    heldOutModelId = done.model_id!;
    expect(heldOutModelId).toBeTruthy();

    // Per class floor(6 × 0.34) = 2 held out (≥ 1 rule not needed here), 3 classes.
    const heldPerClass = Math.max(1, Math.floor(perClass * split));
    expect(heldPerClass).toBe(2);
    const v = done.result!.validation!;
    expect(v).not.toBeNull();
    expect(v.n).toBe(heldPerClass * CLASSES.length);
    expect(v.per_class.map((p) => [p.label, p.n])).toEqual(SORTED.map((l) => [l, heldPerClass]));
    expect(v.confusion.labels).toEqual(SORTED);
    expectConsistent(v);
    expect(done.result!.train.accuracy).toBeGreaterThanOrEqual(0);
    expect(done.result!.train.accuracy).toBeLessThanOrEqual(1);
    expect(Number.isFinite(done.result!.train.loss)).toBe(true);

    // One metrics event per epoch, each with val_accuracy in [0, 1] (a count over the 6 held-out images).
    const events = (await api<{ data: { type: string; data?: { epoch?: number; val_accuracy?: number } }[] }>(
      stack.url,
      tenant.key,
      'GET',
      `/v1/training-jobs/${job.id}/events?limit=100`,
    )).data.filter((e) => e.type === 'metrics');
    expect(events.map((e) => e.data?.epoch)).toEqual([1, 2]);
    for (const e of events) {
      const va = e.data!.val_accuracy!;
      expect(typeof va).toBe('number');
      expect(va).toBeGreaterThanOrEqual(0);
      expect(va).toBeLessThanOrEqual(1);
      expect(Math.abs(va * v.n - Math.round(va * v.n))).toBeLessThan(1e-6);
    }
    // The last epoch's validation accuracy is the one of the published adapter.
    expect(events.at(-1)!.data!.val_accuracy).toBeCloseTo(v.accuracy, 9);

    const model = await api<{ metrics: { validation: Scores | null } & Record<string, unknown> }>(stack.url, tenant.key, 'GET', `/v1/models/${heldOutModelId}`);
    expect(model.metrics.validation).toEqual(v);
  }, 240_000);

  it('validation_dataset_id: the figures equal the count of /v1/classify answers on that dataset', async () => {
    const valPngs = await domainPngs(CLASSES, 4, 21);
    const valDatasetId = await readyDataset(stack, tenant.key, valPngs);
    const job = await api<{ id: string }>(stack.url, tenant.key, 'POST', '/v1/training-jobs', {
      dataset_id: trainDatasetId,
      method: 'cocoop',
      hyperparameters: { epochs: 1, shots: 4, seed: 5, validation_dataset_id: valDatasetId },
    }, 201);
    const done = await succeededJob(job.id);
    const v = done.result!.validation!;
    expect(v.n).toBe(valPngs.length);
    expectConsistent(v);
    const zeroShot = await classifyTop1('zero-shot', valPngs, SORTED);
    const adapted = await classifyTop1(done.model_id!, valPngs, SORTED);
    // The data is hard enough that some answers are wrong (otherwise the matrix would be checked only on its diagonal).
    expect([...adapted, ...zeroShot].some((l, i) => l !== valPngs[i % valPngs.length]!.label)).toBe(true);
    expectScoresMatch(v, valPngs, SORTED, adapted, zeroShot);
    const model = await api<{ metrics: { validation: Scores | null } }>(stack.url, tenant.key, 'GET', `/v1/models/${done.model_id}`);
    expect(model.metrics.validation).toEqual(v);
  }, 240_000);
});

describe('evaluations on the real stack', () => {
  it('an evaluation with a distractor label equals the count of /v1/classify answers; one signed evaluation.succeeded webhook', async () => {
    evalPngs = await domainPngs(EVAL_CLASSES, 3, 33);
    evalDatasetId = await readyDataset(stack, tenant.key, evalPngs);
    const created = await api<Evaluation>(stack.url, tenant.key, 'POST', '/v1/evaluations', { model: heldOutModelId, dataset_id: evalDatasetId, labels: EVAL_LABELS }, 202);
    expect(created.status).toBe('queued');
    const ev = await finalEvaluation(created.id);
    expect(ev.status, JSON.stringify(ev.error)).toBe('succeeded');
    const s = ev.result!;
    expectConsistent(s);
    const adapted = await classifyTop1(heldOutModelId, evalPngs, EVAL_LABELS);
    const zeroShot = await classifyTop1('zero-shot', evalPngs, EVAL_LABELS);
    expect([...adapted, ...zeroShot].some((l, i) => l !== evalPngs[i % evalPngs.length]!.label)).toBe(true);
    expectScoresMatch(s, evalPngs, EVAL_LABELS, adapted, zeroShot);
    // The distractor has no images: no per-class entry and a zero row.
    expect(s.per_class.map((p) => p.label)).toEqual(['purple circle', 'purple hexagon']);
    expect(s.confusion.matrix[EVAL_LABELS.indexOf(DISTRACTOR)]).toEqual([0, 0, 0]);
    firstEvaluation = s;

    // A zero-shot evaluation of the same images: both figures are zero-shot CLIP's.
    const zs = await api<Evaluation>(stack.url, tenant.key, 'POST', '/v1/evaluations', { model: 'zero-shot', dataset_id: evalDatasetId, labels: EVAL_LABELS }, 202);
    const zsDone = await finalEvaluation(zs.id);
    expect(zsDone.status, JSON.stringify(zsDone.error)).toBe('succeeded');
    expectScoresMatch(zsDone.result!, evalPngs, EVAL_LABELS, zeroShot, zeroShot);

    // Webhooks: exactly one evaluation.succeeded per evaluation, signed with the endpoint's secret.
    await waitFor('the evaluation webhooks', async () => evaluationSucceededDeliveries(ev.id).length > 0 && evaluationSucceededDeliveries(zs.id).length > 0, 30_000);
    await settledDeliveries(stack, tenant);
    for (const [id, result] of [[ev.id, s], [zs.id, zsDone.result!]] as const) {
      const got = evaluationSucceededDeliveries(id);
      expect(got).toHaveLength(1);
      expect(got[0]!.data).toMatchObject({ id, status: 'succeeded', result });
    }
  }, 240_000);

  it('a worker that stops mid-evaluation: another worker runs it again (attempt 2); one result, one webhook', async () => {
    // Only the worker under test may lease: stop the others.
    await Promise.all(trainers.map((t) => t.stop()));
    let encoded!: () => void;
    const wasEncoded = new Promise<void>((r) => (encoded = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const a = newTrainer('dies', {
      leaseSeconds: 2,
      afterEvaluationEncode: async () => {
        encoded();
        await gate;
      },
    });
    const created = await api<Evaluation>(stack.url, tenant.key, 'POST', '/v1/evaluations', { model: heldOutModelId, dataset_id: evalDatasetId, labels: EVAL_LABELS }, 202);
    await wasEncoded;
    // The worker stops heartbeating (as if it died between encoding and classifying); it never reports.
    const aStopped = a.stop();
    const mid = await api<Evaluation>(stack.url, tenant.key, 'GET', `/v1/evaluations/${created.id}`);
    expect(mid.status).toBe('running');

    const b = newTrainer('rescuer', { leaseSeconds: 30 });
    const ev = await finalEvaluation(created.id);
    expect(ev.status, JSON.stringify(ev.error)).toBe('succeeded');
    release();
    await aStopped;
    expect(a.outcomes).toEqual([{ jobId: created.id, outcome: 'abandoned' }]);
    expect(b.outcomes.filter((o) => o.jobId === created.id)).toEqual([{ jobId: created.id, outcome: 'succeeded' }]);

    const db = stack.edge.db.raw;
    expect((db.prepare('SELECT attempts FROM training_jobs WHERE id = ?').get(created.id) as { attempts: number }).attempts).toBe(2);
    const messages = (db.prepare('SELECT message FROM job_events WHERE job_id = ? ORDER BY created_at, id').all(created.id) as { message: string }[]).map((m) => m.message);
    expect(messages.filter((m) => /^(Started|Resumed) by worker/.test(m))).toEqual([
      'Started by worker dies.',
      'Resumed by worker rescuer (attempt 2) after the previous lease expired.',
    ]);
    expect(messages.filter((m) => /^Evaluation succeeded/.test(m))).toHaveLength(1);
    expect(messages.filter((m) => /^Evaluation failed/.test(m))).toHaveLength(0);
    // The same figures as the first evaluation of this model, dataset and labels (and so as the classify count).
    expect(ev.result).toEqual(firstEvaluation);

    await waitFor('the evaluation webhook', async () => evaluationSucceededDeliveries(created.id).length > 0, 30_000);
    const settled = await settledDeliveries(stack, tenant);
    expect(settled.every((d) => d.status === 'succeeded')).toBe(true);
    expect(evaluationSucceededDeliveries(created.id)).toHaveLength(1);
    expect(verifiedDeliveries(stack, tenant).filter((d) => d.type === 'evaluation.failed')).toEqual([]);
  }, 240_000);
});

describe('edge cases on the real stack', () => {
  it('one-image classes, split 0, a validation dataset with fewer classes, and a model deleted under a queued evaluation', async () => {
    // No worker may lease before the model is deleted.
    await Promise.all(trainers.map((t) => t.stop()));
    const ev = await api<Evaluation>(stack.url, tenant.key, 'POST', '/v1/evaluations', { model: heldOutModelId, dataset_id: evalDatasetId, labels: EVAL_LABELS }, 202);
    await api(stack.url, tenant.key, 'DELETE', `/v1/models/${heldOutModelId}`, undefined, 204);

    // Classes of 1, 2 and 5 images at split 0.2: 0, max(1, floor(0.4)) = 1 and max(1, floor(1.0)) = 1 held out.
    const [one, two, five] = SORTED as [string, string, string];
    const uneven = [...(await domainPngs([one], 1, 51)), ...(await domainPngs([two], 2, 51)), ...(await domainPngs([five], 5, 51))];
    const unevenId = await readyDataset(stack, tenant.key, uneven);
    const create = (hyperparameters: Record<string, unknown>, datasetId = unevenId) =>
      api<{ id: string }>(stack.url, tenant.key, 'POST', '/v1/training-jobs', { dataset_id: datasetId, method: 'coop', hyperparameters: { epochs: 1, shots: 4, seed: 2, ...hyperparameters } }, 201);
    const splitJob = await create({ validation_split: 0.2 });
    const noneJob = await create({ validation_split: 0 });
    const subsetPngs = await domainPngs([two, five], 2, 61);
    const subsetId = await readyDataset(stack, tenant.key, subsetPngs);
    const subsetJob = await create({ validation_dataset_id: subsetId }, trainDatasetId);

    newTrainer('edge-cases');
    const failed = await finalEvaluation(ev.id);
    expect(failed.status).toBe('failed');
    expect(failed.result).toBeNull();
    expect(failed.error?.code).toBe('model_unavailable');

    const split = (await succeededJob(splitJob.id)).result!.validation!;
    expect(split.n).toBe(2);
    expect(split.per_class.map((p) => [p.label, p.n])).toEqual([[two, 1], [five, 1]]);
    expect(split.confusion.labels).toEqual(SORTED);
    expect(split.confusion.matrix[0]).toEqual([0, 0, 0]);
    expectConsistent(split);

    const none = await succeededJob(noneJob.id);
    expect(none.result!.validation).toBeNull();
    const noneModel = await api<{ metrics: { validation: unknown } }>(stack.url, tenant.key, 'GET', `/v1/models/${none.model_id}`);
    expect(noneModel.metrics.validation).toBeNull();
    const noneEvents = (await api<{ data: { type: string; data?: Record<string, unknown> }[] }>(stack.url, tenant.key, 'GET', `/v1/training-jobs/${noneJob.id}/events?limit=100`)).data;
    const metricEvents = noneEvents.filter((e) => e.type === 'metrics');
    expect(metricEvents).toHaveLength(1);
    expect(metricEvents[0]!.data).not.toHaveProperty('val_accuracy');

    // Validated on two of the three training classes: classified against all three, counted by name.
    const subset = await succeededJob(subsetJob.id);
    const v = subset.result!.validation!;
    expect(v.confusion.labels).toEqual(SORTED);
    expect(v.per_class.map((p) => p.label)).toEqual([two, five]);
    expect(v.confusion.matrix[0]).toEqual([0, 0, 0]);
    expectConsistent(v);
    const zeroShot = await classifyTop1('zero-shot', subsetPngs, SORTED);
    const adapted = await classifyTop1(subset.model_id!, subsetPngs, SORTED);
    expectScoresMatch(v, subsetPngs, SORTED, adapted, zeroShot);

    // One evaluation.failed webhook for the failed evaluation.
    await waitFor('the evaluation.failed webhook', async () => verifiedDeliveries(stack, tenant).some((d) => d.type === 'evaluation.failed'), 30_000);
    await settledDeliveries(stack, tenant);
    const failedHooks = verifiedDeliveries(stack, tenant).filter((d) => d.type === 'evaluation.failed');
    expect(failedHooks.map((d) => [d.data.id, d.data.status])).toEqual([[ev.id, 'failed']]);
  }, 240_000);
});
