// `cocoop bench`: CoCoOp inference images/s and training seconds per step (batch 1, C classes), on
// the optimized path and on a naive path that computes like the official code (per-image loop,
// 77-token prompts, plain autodiff), in one run on the same model and inputs.
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

export interface BenchOptions {
  classes: number;
  images: number;
  naive: boolean;
  /** Time the naive training step too (slow: 77 tokens, built-in gradients; minutes at 100 classes). */
  naiveTrain?: boolean;
  trainSteps?: number; // timed steps per path (default 3 optimized, 1 naive)
  log?: (line: string) => void;
}

export interface PathResult {
  infer_images_per_s: number;
  train_s_per_step: number | null; // null when not measured
  peak_rss_mb: number;
}

export interface BenchResult {
  optimized: PathResult;
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

async function timeTrainSteps(
  model: ClipModel,
  encoders: OrtClipEncoders,
  prompts: ClassPrompts,
  adapter: AdapterParams,
  onePixels: Float32Array, // [1, C, S, S]
  steps: number,
  naive: boolean,
): Promise<number> {
  // Naive = the official computation: 77-token prompts and the framework's own gradients.
  const tower = new TfTextTower(model.weights.text, model.config.text, { builtinGradients: naive });
  const learner = new TfPromptLearner(tower, naive ? { ...prompts, length: 77 } : prompts, adapter, model.weights.logitScale);
  const sgd = new Sgd(learner.trainable, { momentum: 0.9, weightDecay: 5e-4 });
  try {
    let total = 0;
    for (let s = 0; s <= steps; s++) {
      const t0 = performance.now();
      // One new training view per step: its image feature (ORT, no autodiff), then loss + backward + update.
      const feats = await encoders.encodePixels(onePixels, 1);
      const x = tf.tensor2d(feats, [1, feats.length]);
      const { grads } = tf.variableGrads(() => learner.loss(x, [s % prompts.classNames.length]), learner.trainable);
      sgd.step(learner.trainable.map((v) => grads[v.name]), 0.002);
      tf.dispose([x, ...Object.values(grads)]);
      if (s > 0) total += performance.now() - t0; // step 0 is warm-up
    }
    return total / 1000 / steps;
  } finally {
    sgd.dispose();
    learner.dispose();
    tower.dispose();
  }
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
  log(`bench: optimized training, batch 1, ${opts.classes} classes…`);
  const optTrain = await timeTrainSteps(model, encoders, prompts, adapter, pixels.subarray(0, size), opts.trainSteps ?? 3, false);
  const optimized: PathResult = { infer_images_per_s: optInfer, train_s_per_step: optTrain, peak_rss_mb: peakRssMb() };
  if (!opts.naive) return { optimized };

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
    naiveTrain = await timeTrainSteps(model, encoders, prompts, adapter, pixels.subarray(0, size), 1, true);
  }
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < optLogits.length; i++) {
    diff = Math.max(diff, Math.abs(optLogits[i] - naiveLogits[i]));
    scale = Math.max(scale, Math.abs(naiveLogits[i]));
  }
  return {
    optimized,
    naive: { infer_images_per_s: naiveInfer, train_s_per_step: naiveTrain, peak_rss_mb: peakRssMb() },
    logits_max_rel_diff: diff / scale,
  };
}
