// `cocoop bench`: CoCoOp inference images/s and training seconds per step (batch 1, C classes), on
// the optimized path (training on both engines: ort, the default, and tfjs) and on a naive path that
// computes like the official code (per-image loop, 77-token prompts, plain autodiff), in one run on the
// same model and inputs. A training step includes its view's image feature, as in real training.
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../clip/model.ts';
import type { OrtClipEncoders } from '../clip/ort-encoders.ts';
import { SeededRandom } from '../clip/random.ts';
import { TfTextTower } from '../clip/tf/text-tower.ts';
import { DEFAULT_CTX_INIT, initMetaNet, type AdapterParams } from './adapter.ts';
import { naiveOfficialLogits, CocoopInference } from './ort-inference.ts';
import { classPrompts, ctxFromPhrase, type ClassPrompts } from './prompts.ts';
import { Sgd } from './sgd.ts';
import { TfPromptLearner } from './tf-prompt-learner.ts';
import { createTrainEngine, type TrainEngineName } from './train-engines.ts';

export interface BenchOptions {
  classes: number;
  images: number;
  naive: boolean;
  /** Time the naive training step too (slow: 77 tokens, built-in gradients; minutes at 100 classes). */
  naiveTrain?: boolean;
  trainSteps?: number; // timed steps per path (default 3 optimized, 1 naive)
  /** Engines timed for the optimized training step (default both, ort first). */
  engines?: TrainEngineName[];
  log?: (line: string) => void;
}

export interface PathResult {
  infer_images_per_s: number;
  train_s_per_step: number | null; // null when not measured (optimized: the first engine timed)
  peak_rss_mb: number;
}

/** Useful floating-point work of one optimized training step (2 FLOPs per multiply-add). */
export interface StepWork {
  image_gflop: number; // the view's image feature (forward)
  text_gflop: number; // text tower forward + backward w.r.t. its inputs (= 3 × forward), prefix shared
}

export interface BenchResult {
  optimized: PathResult;
  /** Seconds per training step of each engine timed (same step: image feature + loss + gradients + update). */
  train_s_per_step_by_engine: Partial<Record<TrainEngineName, number>>;
  /** Peak RSS (MB) right after each engine's steps. */
  peak_rss_mb_by_engine: Partial<Record<TrainEngineName, number>>;
  step_work: StepWork;
  naive?: PathResult;
  /** max |optimized - naive| / max |naive| over the benchmarked logits (the two paths must agree). */
  logits_max_rel_diff?: number;
}

/** Synthetic label names: distinct, one or two words, like real class names. */
export function benchLabels(c: number): string[] {
  const words = ['red', 'green', 'blue', 'small', 'large', 'striped', 'spotted', 'wild', 'old', 'young'];
  const things = ['cat', 'dog', 'bird', 'car', 'tree', 'flower', 'boat', 'house', 'fish', 'horse'];
  return Array.from({ length: c }, (_, i) => (i < things.length ? things[i] : `${words[Math.floor(i / things.length) % words.length]} ${things[i % things.length]} ${Math.floor(i / 100) || ''}`.trim()));
}

function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

function randomAdapter(model: ClipModel, seed: number): AdapterParams {
  const rng = new SeededRandom(seed);
  return {
    method: 'cocoop',
    ctx: ctxFromPhrase(model.tokenizer, model.weights.text.tokenEmbedding, DEFAULT_CTX_INIT),
    metaNet: initMetaNet(rng, model.config.projectionDim, model.config.text.hiddenSize),
    ctxInit: DEFAULT_CTX_INIT,
  };
}

/** Seconds per optimized training step on `engine`: a new view's image feature, then loss + gradients + update. */
async function timeEngineSteps(
  engine: TrainEngineName,
  model: ClipModel,
  encoders: OrtClipEncoders,
  prompts: ClassPrompts,
  adapter: AdapterParams,
  onePixels: Float32Array, // [1, C, S, S]
  steps: number,
): Promise<number> {
  const e = createTrainEngine(engine, model, prompts, adapter, { momentum: 0.9, weightDecay: 5e-4 }, { ort: { log: () => {} } });
  try {
    let total = 0;
    for (let s = 0; s <= steps; s++) {
      const t0 = performance.now();
      const feats = await encoders.encodePixels(onePixels, 1);
      await e.compute(feats, [s % prompts.classNames.length]);
      e.apply(0.002);
      if (s > 0) total += performance.now() - t0; // step 0 is warm-up (sessions, first allocations)
    }
    return total / 1000 / steps;
  } finally {
    await e.dispose();
  }
}

/** The naive official-style step: 77-token prompts through TF.js with its built-in gradients. */
async function timeNaiveStep(model: ClipModel, encoders: OrtClipEncoders, prompts: ClassPrompts, adapter: AdapterParams, onePixels: Float32Array): Promise<number> {
  const tower = new TfTextTower(model.weights.text, model.config.text, { builtinGradients: true });
  const learner = new TfPromptLearner(tower, { ...prompts, length: 77 }, adapter, model.weights.logitScale);
  const sgd = new Sgd(learner.trainable, { momentum: 0.9, weightDecay: 5e-4 });
  try {
    let total = 0;
    for (let s = 0; s <= 1; s++) {
      const t0 = performance.now();
      const feats = await encoders.encodePixels(onePixels, 1);
      const x = tf.tensor2d(feats, [1, feats.length]);
      const { grads } = tf.variableGrads(() => learner.loss(x, [s % prompts.classNames.length]), learner.trainable);
      sgd.step(learner.trainable.map((v) => grads[v.name]), 0.002);
      tf.dispose([x, ...Object.values(grads)]);
      if (s > 0) total += performance.now() - t0;
    }
    return total / 1000;
  } finally {
    sgd.dispose();
    learner.dispose();
    tower.dispose();
  }
}

/** Multiply-adds of `tokens` positions through a transformer stack (attention products ignored: short prompts). */
function stackMacs(d: number, inter: number, layers: number, tokens: number): number {
  return layers * tokens * (4 * d * d + 2 * d * inter);
}

/** Useful work of one CoCoOp training step, batch 1: the prefix once, every class's suffix. */
export function stepWork(model: ClipModel, prompts: ClassPrompts): StepWork {
  const { text, vision } = model.config;
  const patches = (vision.imageSize / vision.patchSize) ** 2 + 1;
  const image = stackMacs(vision.hiddenSize, vision.intermediateSize, vision.numHiddenLayers, patches) + patches * 3 * vision.patchSize ** 2 * vision.hiddenSize;
  const d = text.hiddenSize;
  const tokens = 1 + prompts.nCtx + prompts.suffixes.reduce((a, s) => a + s.length / d, 0);
  const textFwd = stackMacs(d, text.intermediateSize, text.numHiddenLayers, tokens);
  return { image_gflop: (2 * image) / 1e9, text_gflop: (3 * 2 * textFwd) / 1e9 };
}

export async function runCocoopBench(model: ClipModel, encoders: OrtClipEncoders, opts: BenchOptions): Promise<BenchResult> {
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const labels = benchLabels(opts.classes);
  const adapter = randomAdapter(model, 1);
  const prompts = classPrompts(model.tokenizer, model.weights.text.tokenEmbedding, labels, adapter.ctx.shape[0]);
  const v = model.config.vision;
  const size = v.numChannels * v.imageSize ** 2;
  const pixels = new SeededRandom(2).fillNormal(new Float32Array(opts.images * size), 1);
  const inference = new CocoopInference(encoders);

  // Warm-up: graph builds, session creation, first-call allocations.
  await inference.logits(await encoders.encodePixels(pixels.subarray(0, size), 1), 1, labels, adapter);

  log(`bench: optimized inference, ${opts.images} images × ${opts.classes} classes…`);
  let t0 = performance.now();
  const feats = await encoders.encodePixels(pixels, opts.images);
  const optLogits = await inference.logits(feats, opts.images, labels, adapter);
  const optInfer = opts.images / ((performance.now() - t0) / 1000);
  const byEngine: Partial<Record<TrainEngineName, number>> = {};
  const rssByEngine: Partial<Record<TrainEngineName, number>> = {};
  for (const engine of opts.engines ?? (['ort', 'tfjs'] as TrainEngineName[])) {
    log(`bench: optimized training on the ${engine} engine, batch 1, ${opts.classes} classes…`);
    byEngine[engine] = await timeEngineSteps(engine, model, encoders, prompts, adapter, pixels.subarray(0, size), opts.trainSteps ?? 3);
    rssByEngine[engine] = peakRssMb();
  }
  const first = (opts.engines ?? ['ort'])[0];
  const optimized: PathResult = { infer_images_per_s: optInfer, train_s_per_step: byEngine[first] ?? null, peak_rss_mb: peakRssMb() };
  const common = { optimized, train_s_per_step_by_engine: byEngine, peak_rss_mb_by_engine: rssByEngine, step_work: stepWork(model, prompts) };
  if (!opts.naive) return common;

  log(`bench: naive (official-style) inference: per-image loop, 77-token prompts…`);
  await naiveOfficialLogits(encoders, feats.subarray(0, feats.length / opts.images), 1, labels, adapter); // warm-up (graph build)
  t0 = performance.now();
  const naiveLogits = new Float32Array(opts.images * opts.classes);
  for (let i = 0; i < opts.images; i++) {
    // The official code encodes each image, then runs its C prompts through the text tower.
    const f = await encoders.encodePixels(pixels.subarray(i * size, (i + 1) * size), 1);
    naiveLogits.set(await naiveOfficialLogits(encoders, f, 1, labels, adapter), i * opts.classes);
  }
  const naiveInfer = opts.images / ((performance.now() - t0) / 1000);
  let naiveTrain: number | null = null;
  if (opts.naiveTrain !== false) {
    log(`bench: naive training step (77 tokens, built-in gradients)…`);
    naiveTrain = await timeNaiveStep(model, encoders, prompts, adapter, pixels.subarray(0, size));
  }
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < optLogits.length; i++) {
    diff = Math.max(diff, Math.abs(optLogits[i] - naiveLogits[i]));
    scale = Math.max(scale, Math.abs(naiveLogits[i]));
  }
  return {
    ...common,
    naive: { infer_images_per_s: naiveInfer, train_s_per_step: naiveTrain, peak_rss_mb: peakRssMb() },
    logits_max_rel_diff: diff / scale,
  };
}
