// `npm run demo`: the whole product flow against a running local stack (`npm start` in another terminal), as a new
// tenant: register a webhook receiver, upload a few-shot dataset from the toy world's shifted "night" domain, train
// CoCoOp (a share of each class held out for validation), wait for the signed webhook (verified with the Standard
// Webhooks verifier), print the job's validation block, then evaluate the model on held-out night images of the base
// labels (seen in training) and of new labels (never seen) with POST /v1/evaluations, cross-check the figures with
// /v1/classify, and say whether the adapter beats zero-shot CLIP on each.
//
// Stack: ${DATA_DIR}/stack.json and ${DATA_DIR}/admin-token (DATA_DIR default .data); EDGE_URL / ADMIN_TOKEN override.
// Options: --classes N (toy classes in play, half base / half new; default 64), --shots N (per base class; 8),
// --epochs N (5), --test-per-class N (10), --method cocoop|coop (cocoop), --seed N (1), --timeout-s N (900),
// --crop-scale MIN,MAX (0.5,1: the training views' crop area; the official 0.08–1 cuts the toy world's 48-px objects
// away, see docs/base2new.md), --validation-split X (0.2; enough images are uploaded that `shots` remain per class).
// Exit 0 when the flow completes, 1 with one line on stderr otherwise.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SeededRandom } from '../gpu-worker/clip/random.ts';
import { holdOutCount } from '../gpu-worker/cocoop/sampling.ts';
import type { Evaluation, Scores } from '../shared/contracts/evaluation.ts';
import { toyImageSet, type LabelledImages } from '../lab/toyworld/image-sets.ts';
import { encodePng } from '../lab/toyworld/png.ts';
import { baseNewSplit, CLASS_NAMES } from '../lab/toyworld/world.ts';
import { ApiClient } from './demo/api-client.ts';
import { startDemoReceiver, type DemoReceiver } from './demo/webhook-receiver.ts';
import { readStackInfo, readTokenFile } from './local-stack-file.ts';

const IMAGE_SIZE = 48;
const CLASSIFY_BATCH = 32;

export interface DemoOptions {
  classes: number;
  shots: number;
  epochs: number;
  testPerClass: number;
  method: 'cocoop' | 'coop';
  seed: number;
  timeoutS: number;
  cropScale: [number, number];
  validationSplit: number;
}

interface Job {
  id: string;
  status: string;
  progress: { epoch?: number; epochs?: number; step?: number; steps?: number };
  metrics: { train_loss?: number; train_accuracy?: number; val_accuracy?: number };
  model_id: string | null;
  result: { train: { loss: number; accuracy: number }; validation: Scores | null } | null;
  error: { code: string; message: string } | null;
}

const say = (line: string) => process.stdout.write(`[demo] ${line}\n`);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

function intOption(name: string, raw: string | undefined, dflt: number, min: number, max: number): number {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  return n;
}

export function parseDemoArgs(argv: string[]): DemoOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      classes: { type: 'string' },
      shots: { type: 'string' },
      epochs: { type: 'string' },
      'test-per-class': { type: 'string' },
      method: { type: 'string' },
      seed: { type: 'string' },
      'timeout-s': { type: 'string' },
      'crop-scale': { type: 'string' },
      'validation-split': { type: 'string' },
    },
    strict: true,
  });
  const method = values.method ?? 'cocoop';
  const crop = (values['crop-scale'] ?? '0.5,1').split(',').map(Number);
  if (crop.length !== 2 || !crop.every((x) => x > 0 && x <= 1) || crop[0]! > crop[1]!) {
    throw new Error(`--crop-scale must be MIN,MAX with 0 < MIN <= MAX <= 1, got ${JSON.stringify(values['crop-scale'])}`);
  }
  if (method !== 'cocoop' && method !== 'coop') throw new Error(`--method must be cocoop or coop, got ${JSON.stringify(method)}`);
  const split = Number(values['validation-split'] ?? '0.2');
  if (!(split >= 0 && split <= 0.5)) throw new Error(`--validation-split must be a number from 0 to 0.5, got ${JSON.stringify(values['validation-split'])}`);
  return {
    classes: intOption('classes', values.classes, CLASS_NAMES.length, 4, CLASS_NAMES.length),
    shots: intOption('shots', values.shots, 16, 1, 64),
    epochs: intOption('epochs', values.epochs, 10, 1, 50),
    testPerClass: intOption('test-per-class', values['test-per-class'], 10, 1, 100),
    method,
    seed: intOption('seed', values.seed, 1, 0, 2 ** 31 - 1),
    timeoutS: intOption('timeout-s', values['timeout-s'], 900, 10, 86_400),
    cropScale: [crop[0]!, crop[1]!],
    validationSplit: split,
  };
}

/** Images to upload per class so that `shots` remain for training after the hold-out of `split`. */
export function imagesPerClass(shots: number, split: number): number {
  let n = shots;
  while (n - holdOutCount(n, split) < shots) n++;
  return n;
}

/** `n` toy classes (all 64, or a seeded sample), split half base / half new by name as in the paper. */
function pickClasses(n: number, seed: number): { base: string[]; novel: string[] } {
  if (n === CLASS_NAMES.length) return baseNewSplit(CLASS_NAMES);
  const rng = new SeededRandom(seed);
  const names = [...CLASS_NAMES];
  for (let i = names.length - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    [names[i], names[j]] = [names[j]!, names[i]!];
  }
  return baseNewSplit(names.slice(0, n));
}

async function pngsByLabel(set: LabelledImages): Promise<Map<string, Buffer[]>> {
  const out = new Map<string, Buffer[]>();
  for (let i = 0; i < set.images.length; i++) {
    const label = set.classNames[set.labels[i]!]!;
    const list = out.get(label) ?? [];
    list.push(await encodePng(set.images[i]!));
    out.set(label, list);
  }
  return out;
}

interface AccuracyResult {
  accuracy: number;
  images: number;
  requestMs: number[];
}

/** Top-1 accuracy of `model` on `set` among `labels`, in batches of CLASSIFY_BATCH; latency per request. */
async function classifyAccuracy(api: ApiClient, model: string, set: LabelledImages, labels: string[]): Promise<AccuracyResult> {
  const encoded = await Promise.all(set.images.map(async (img) => (await encodePng(img)).toString('base64')));
  let correct = 0;
  const requestMs: number[] = [];
  for (let i = 0; i < encoded.length; i += CLASSIFY_BATCH) {
    const t0 = performance.now();
    const out = await api.post<{ results: { predictions: { label: string; score: number }[] }[] }>('/v1/classify', {
      model,
      images: encoded.slice(i, i + CLASSIFY_BATCH),
      labels,
      top_k: 1,
    });
    requestMs.push(performance.now() - t0);
    out.results.forEach((r, k) => {
      if (r.predictions[0]?.label === set.classNames[set.labels[i + k]!]) correct++;
    });
  }
  return { accuracy: correct / encoded.length, images: encoded.length, requestMs };
}

/** Uploads a labelled image set as a new dataset (one multipart request per class) and finalizes it; its id. */
async function uploadDataset(api: ApiClient, name: string, set: LabelledImages): Promise<string> {
  const byLabel = await pngsByLabel(set);
  const dataset = await api.post<{ id: string }>('/v1/datasets', { name, classes: [...byLabel.keys()] });
  for (const [label, files] of byLabel) {
    const form = new FormData();
    form.append('label', label);
    files.forEach((bytes, i) => form.append('file', new Blob([new Uint8Array(bytes)], { type: 'image/png' }), `${label.replace(/\s+/g, '-')}-${i}.png`));
    await api.post(`/v1/datasets/${dataset.id}/images`, form);
  }
  await api.post(`/v1/datasets/${dataset.id}/finalize`);
  return dataset.id;
}

/** Polls an evaluation until it is final; its object when it succeeded. */
async function followEvaluation(api: ApiClient, id: string, deadline: number): Promise<Evaluation> {
  for (;;) {
    const e = await api.get<Evaluation>(`/v1/evaluations/${id}`);
    if (e.status === 'succeeded') return e;
    if (e.status === 'failed') throw new Error(`evaluation ${id} failed: ${e.error?.code}: ${e.error?.message}`);
    if (Date.now() > deadline) throw new Error(`evaluation ${id} still ${e.status} after the demo's timeout`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The classes the adapter gained most and lost most on, against zero-shot. */
function describeClasses(v: Scores): string {
  const diffs = v.per_class.map((c) => ({ label: c.label, d: c.accuracy - c.zero_shot_accuracy })).sort((a, b) => b.d - a.d);
  const show = (xs: typeof diffs) => xs.map((x) => `${x.label} ${x.d >= 0 ? '+' : ''}${(100 * x.d).toFixed(0)}`).join(', ');
  return `per class vs zero-shot (points): best ${show(diffs.slice(0, 3))}; worst ${show(diffs.slice(-3).reverse())}`;
}

/** One plain sentence: did the adapter beat zero-shot CLIP on this split (more right answers on the same images)? */
export function verdict(split: string, e: Scores, methodName: string): string {
  const right = Math.round(e.accuracy * e.n);
  const zsRight = Math.round(e.zero_shot_accuracy * e.n);
  const what = split === 'new' ? 'on labels it never saw' : 'on the labels it was trained on';
  const word = right > zsRight ? 'beats' : right === zsRight ? 'ties with' : 'does not beat';
  return `${methodName} ${word} zero-shot CLIP ${what}: ${right}/${e.n} vs ${zsRight}/${e.n} right (one seed, one test set)`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

interface JobEvent {
  id: string;
  level: string;
  message: string;
}

/**
 * Polls the job and its events until the job is final: prints each new event (started, resumed from a checkpoint,
 * one line per epoch with its loss and accuracy, ...) and a status line whenever the status changes.
 */
async function followJob(api: ApiClient, jobId: string, deadline: number): Promise<Job> {
  const started = Date.now();
  let lastStatus = '';
  let after: string | null = null;
  const stamp = () => seconds(Date.now() - started).padStart(7);
  for (;;) {
    const job = await api.get<Job>(`/v1/training-jobs/${jobId}`);
    for (;;) {
      const page: { data: JobEvent[]; has_more: boolean } = await api.get(
        `/v1/training-jobs/${jobId}/events?limit=100${after ? `&after=${encodeURIComponent(after)}` : ''}`,
      );
      for (const e of page.data) say(`    ${stamp()}  ${e.level === 'info' ? '' : `${e.level}: `}${e.message}`);
      if (page.data.length) after = page.data[page.data.length - 1]!.id;
      if (!page.has_more) break;
    }
    if (job.status !== lastStatus) {
      say(`    ${stamp()}  status ${job.status}`);
      lastStatus = job.status;
    }
    if (['succeeded', 'failed', 'cancelled'].includes(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${job.status} after the demo's timeout; see GET /v1/training-jobs/${jobId}/events`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export async function runDemo(opts: DemoOptions, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const tStart = Date.now();
  const deadline = tStart + opts.timeoutS * 1000;
  const dataDir = resolve(env.DATA_DIR || '.data');
  const edgeUrl = env.EDGE_URL || readStackInfo(dataDir).edge_url;
  const admin = new ApiClient(edgeUrl, env.ADMIN_TOKEN || readTokenFile(dataDir, 'admin-token'));
  const { base, novel } = pickClasses(opts.classes, opts.seed);
  const methodName = opts.method === 'cocoop' ? 'CoCoOp' : 'CoOp';
  say(`stack at ${edgeUrl}; ${base.length} base classes (trained on) and ${novel.length} new classes (never seen), night domain`);

  // 1. A new tenant.
  const tenant = await admin.post<{ id: string; name: string; api_key: string }>('/v1/tenants', { name: `demo ${new Date().toISOString()}` });
  const api = admin.withToken(tenant.api_key);
  say(`1/8 tenant ${tenant.id} created; its API key (shown once): ${tenant.api_key}`);

  // 2. A webhook receiver, registered for the final job events.
  const receiver: DemoReceiver = await startDemoReceiver();
  try {
    const endpoint = await api.post<{ id: string; secret: string }>('/v1/webhook-endpoints', { url: receiver.url });
    receiver.setSecret(endpoint.secret);
    say(`2/8 webhook receiver listening on ${receiver.url}, endpoint ${endpoint.id} registered`);

    // 3. The few-shot dataset, one multipart request per class.
    const tUpload = Date.now();
    const perClass = imagesPerClass(opts.shots, opts.validationSplit);
    const train = await toyImageSet('night', 'train', opts.seed, base, perClass, IMAGE_SIZE);
    const dataset = await uploadDataset(api, `night shapes, ${opts.shots}-shot`, train);
    const uploadMs = Date.now() - tUpload;
    const held = holdOutCount(perClass, opts.validationSplit);
    say(
      `3/8 dataset ${dataset}: ${train.images.length} images (${base.length} classes × ${perClass}: ${opts.shots} shots + ${held} held out for validation) ` +
        `uploaded and finalized in ${seconds(uploadMs)}`,
    );

    // 4. Train.
    const tTrain = Date.now();
    const created = await api.post<Job>('/v1/training-jobs', {
      dataset_id: dataset,
      method: opts.method,
      hyperparameters: { epochs: opts.epochs, shots: opts.shots, seed: opts.seed, crop_scale: opts.cropScale, validation_split: opts.validationSplit },
      metadata: { source: 'npm run demo' },
    });
    say(`4/8 ${methodName} job ${created.id} queued (${opts.epochs} epochs); progress:`);
    const webhook = receiver.waitFor(created.id, ['training_job.succeeded', 'training_job.failed', 'training_job.cancelled'], Math.max(1, deadline - Date.now()));
    webhook.catch(() => {}); // awaited below; a timeout before then must not be an unhandled rejection
    const job = await followJob(api, created.id, deadline);
    const trainMs = Date.now() - tTrain;
    if (job.status !== 'succeeded') {
      throw new Error(`job ${job.id} ${job.status}${job.error ? `: ${job.error.code}: ${job.error.message}` : ''}`);
    }

    // 5. The signed webhook.
    const jobDoneAt = Date.now();
    const delivery = await webhook;
    if (delivery.type !== 'training_job.succeeded') throw new Error(`webhook said ${delivery.type} for a job the API reports succeeded`);
    if (delivery.data.model_id !== job.model_id) throw new Error(`webhook model_id ${delivery.data.model_id} differs from the job's ${job.model_id}`);
    say(`5/8 webhook ${delivery.type} received and verified (webhook-id ${delivery.webhookId}, signature v1 HMAC-SHA256), model ${job.model_id}, ${Math.max(0, delivery.receivedAt - jobDoneAt)} ms after the job was seen final`);

    const validation = job.result?.validation ?? null;
    if (validation) {
      say(`    validation (${validation.n} held-out images of the ${base.length} training labels): ${methodName} ${pct(validation.accuracy)}, zero-shot CLIP ${pct(validation.zero_shot_accuracy)}`);
      say(`    ${describeClasses(validation)}`);
    }

    // 6. Held-out test sets as datasets: base images among the base labels, new images among the new labels.
    say(`6/8 uploading ${opts.testPerClass} held-out night images per class (${base.length} base + ${novel.length} new classes) as two datasets…`);
    const testBase = await toyImageSet('night', 'test', opts.seed, base, opts.testPerClass, IMAGE_SIZE);
    const testNew = await toyImageSet('night', 'test', opts.seed, novel, opts.testPerClass, IMAGE_SIZE);
    const splits = [
      { split: 'base', set: testBase, labels: base, dataset: await uploadDataset(api, 'night test, base classes', testBase) },
      { split: 'new', set: testNew, labels: novel, dataset: await uploadDataset(api, 'night test, new classes', testNew) },
    ];

    // 7. Evaluations, run by the worker pool, each announced by a signed evaluation.succeeded webhook.
    const tEval = Date.now();
    const evaluations: Evaluation[] = [];
    for (const s of splits) {
      const created = await api.post<Evaluation>('/v1/evaluations', { model: job.model_id, dataset_id: s.dataset, labels: s.labels });
      const hook = receiver.waitFor(created.id, ['evaluation.succeeded', 'evaluation.failed'], Math.max(1, deadline - Date.now()));
      hook.catch(() => {});
      const done = await followEvaluation(api, created.id, deadline);
      const hit = await hook;
      if (hit.type !== 'evaluation.succeeded') throw new Error(`webhook said ${hit.type} for evaluation ${created.id}`);
      evaluations.push(done);
    }
    say(`7/8 evaluations ${evaluations.map((e) => e.id).join(', ')} succeeded in ${seconds(Date.now() - tEval)} (webhooks evaluation.succeeded verified)`);

    // 8. The same images through /v1/classify: the evaluation's figures, counted by hand, and the latency.
    say('8/8 cross-checking with /v1/classify…');
    const rows: { split: string; labels: number; images: number; zeroShot: AccuracyResult; adapted: AccuracyResult; evaluation: Scores }[] = [];
    for (const [k, s] of splits.entries()) {
      const zeroShot = await classifyAccuracy(api, 'zero-shot', s.set, s.labels);
      const adapted = await classifyAccuracy(api, job.model_id!, s.set, s.labels);
      const evaluation = evaluations[k]!.result!;
      const agree = Math.round(evaluation.accuracy * evaluation.n) === Math.round(adapted.accuracy * adapted.images) &&
        Math.round(evaluation.zero_shot_accuracy * evaluation.n) === Math.round(zeroShot.accuracy * zeroShot.images);
      if (!agree) throw new Error(`evaluation ${evaluations[k]!.id} disagrees with /v1/classify on the ${s.split} test images`);
      rows.push({ split: s.split, labels: s.labels.length, images: s.set.images.length, zeroShot, adapted, evaluation });
    }

    const h = (a: number, b: number) => (a + b > 0 ? (2 * a * b) / (a + b) : 0);
    const zsH = h(rows[0]!.zeroShot.accuracy, rows[1]!.zeroShot.accuracy);
    const adH = h(rows[0]!.adapted.accuracy, rows[1]!.adapted.accuracy);
    say('results (top-1 accuracy on held-out night images; evaluations and /v1/classify agree):');
    say(`    ${'labels'.padEnd(34)} ${'images'.padStart(6)}  ${'zero-shot'.padStart(9)}  ${methodName.padStart(9)}`);
    for (const r of rows) {
      const what = r.split === 'base' ? `base: ${r.labels} labels seen in training` : `new: ${r.labels} labels never seen`;
      say(`    ${what.padEnd(34)} ${String(r.images).padStart(6)}  ${pct(r.zeroShot.accuracy).padStart(9)}  ${pct(r.adapted.accuracy).padStart(9)}`);
    }
    say(`    ${'harmonic mean H'.padEnd(34)} ${''.padStart(6)}  ${pct(zsH).padStart(9)}  ${pct(adH).padStart(9)}`);
    for (const r of rows) say(`    ${verdict(r.split, r.evaluation, methodName)}`);
    const zsMs = rows.flatMap((r) => r.zeroShot.requestMs);
    const adMs = rows.flatMap((r) => r.adapted.requestMs);
    say('timings:');
    say(`    upload ${seconds(uploadMs)}; training (queued → succeeded, validation included) ${seconds(trainMs)}`);
    say(`    classify, median per request of ${CLASSIFY_BATCH} images: zero-shot ${median(zsMs).toFixed(0)} ms, ${methodName} ${median(adMs).toFixed(0)} ms`);
    say(`done in ${seconds(Date.now() - tStart)}; the tenant, dataset, job and model stay in the stack (GET /v1/models/${job.model_id} with the key above)`);
  } finally {
    await receiver.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  (async () => runDemo(parseDemoArgs(process.argv.slice(2))))().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
