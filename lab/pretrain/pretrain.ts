// Contrastive pretraining of the toy CLIP (TF.js): Adam with decoupled weight decay on the weight
// matrices, linear warm-up then cosine decay, learned temperature clamped at 100 (as CLIP does), a
// held-out zero-shot check every `evalEvery` steps, and the result saved in Hugging Face layout.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toHfConfigJson } from '../../gpu-worker/clip/config.ts';
import type { ClipConfig } from '../../gpu-worker/clip/config.ts';
import { randomClipTensors } from '../../gpu-worker/clip/random-weights.ts';
import { writeSafetensors } from '../../gpu-worker/clip/safetensors.ts';
import { ClipTokenizer } from '../../gpu-worker/clip/tokenizer.ts';
import { buildBpeVocab, writeVocabFiles } from '../../gpu-worker/clip/tiny-vocab.ts';
import { captionCorpus } from '../toyworld/captions.ts';
import { deriveSeed } from '../../gpu-worker/cocoop/view-features.ts';
import { clipTensorSpecs } from '../../gpu-worker/clip/weights.ts';
import { ReplicaPool } from './replica-pool.ts';
import { sincosPositionEmbedding } from './sincos-positions.ts';
import type { HostTensor } from '../../gpu-worker/clip/safetensors.ts';
import { toyClipConfig } from './toy-clip-config.ts';

export interface PretrainOptions {
  out: string;
  seed: number;
  steps: number;
  batchSize: number; // ≤ 64 (distinct classes per batch)
  lr: number; // peak Adam learning rate
  warmupSteps: number;
  weightDecay: number; // decoupled, on weight matrices only
  evalEvery: number; // steps between held-out zero-shot checks (0: only at the end)
  evalPerClass: number; // held-out images per class for those checks
  log: (line: string) => void;
  /** Data-parallel replicas, one per core (default 1: in-process). Each draws `batchSize` pairs per step. */
  replicas?: number;
  /** The architecture for a vocabulary size (default toyClipConfig: the bundled model's). */
  makeConfig?: (vocabSize: number) => ClipConfig;
}

export const PRETRAIN_DEFAULTS: Omit<PretrainOptions, 'out' | 'log' | 'makeConfig' | 'replicas'> = {
  seed: 1,
  steps: 5000,
  batchSize: 64,
  lr: 2e-3,
  warmupSteps: 150,
  weightDecay: 0.05,
  evalEvery: 250,
  evalPerClass: 8,
};

export interface PretrainReport {
  seed: number;
  steps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  weightDecay: number;
  seconds: number;
  parameters: number;
  /** Mean training loss over each block of `evalEvery` steps (or the last block). */
  lossCurve: { step: number; loss: number }[];
  /** Held-out zero-shot accuracy ("a photo of a {c}.", all 64 labels) measured during training (TF.js). */
  evalCurve: { step: number; accuracy: number }[];
  finalLogitScale: number;
}

/** Linear warm-up to `lr`, then cosine to 0 at `steps`. */
export function pretrainLearningRate(step: number, o: Pick<PretrainOptions, 'lr' | 'warmupSteps' | 'steps'>): number {
  if (step < o.warmupSteps) return (o.lr * (step + 1)) / o.warmupSteps;
  const t = (step - o.warmupSteps) / Math.max(1, o.steps - o.warmupSteps);
  return 0.5 * o.lr * (1 + Math.cos(Math.PI * Math.min(1, t)));
}

/** The toy vocabulary: every word any caption can use is one BPE token. */
export function toyVocab(): ReturnType<typeof buildBpeVocab> {
  return buildBpeVocab(captionCorpus(), { maxMerges: 4000, minPairCount: 1 });
}

/** Random CLIP init (HF scheme), with the vision position embeddings starting from a 2-D sin-cos grid. */
export function initialTensors(cfg: ClipConfig, seed: number): Map<string, HostTensor> {
  const tensors = randomClipTensors(cfg, seed);
  const grid = cfg.vision.imageSize / cfg.vision.patchSize;
  tensors.set('vision_model.embeddings.position_embedding.weight', {
    shape: [1 + grid * grid, cfg.vision.hiddenSize],
    data: sincosPositionEmbedding(grid, cfg.vision.hiddenSize),
  });
  return tensors;
}

/** Trains from scratch and writes config.json, model.safetensors, vocab.json, merges.txt, preprocessor_config.json. */
export async function pretrainToyClip(o: PretrainOptions): Promise<PretrainReport> {
  mkdirSync(o.out, { recursive: true });
  const vocab = toyVocab();
  writeVocabFiles(o.out, vocab);
  const tokenizer = ClipTokenizer.fromDir(o.out);
  const cfg = (o.makeConfig ?? toyClipConfig)(Math.max(...Object.values(vocab.vocab)) + 1);
  const replicas = o.replicas ?? 1;
  // Held-out images: a stream no training batch draws from. Replica r draws batches from its own stream.
  const pool = await ReplicaPool.start(
    cfg,
    initialTensors(cfg, o.seed),
    o.out,
    Array.from({ length: replicas }, (_, r) => ({
      batchSeed: replicas === 1 ? o.seed : deriveSeed(o.seed, r),
      batchSize: o.batchSize,
      weightDecay: o.weightDecay,
      evalSeed: o.seed + 7919,
      evalPerClass: o.evalPerClass,
    })),
  );
  const parameters = clipTensorSpecs(cfg).reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
  o.log(
    `toy CLIP: ${(parameters / 1e6).toFixed(2)}M parameters, vocab ${cfg.text.vocabSize}, ${cfg.vision.imageSize}px / ${cfg.vision.patchSize}px patches; ` +
      `${replicas} replica(s) × batch ${o.batchSize}`,
  );
  const lossCurve: PretrainReport['lossCurve'] = [];
  const evalCurve: PretrainReport['evalCurve'] = [];
  const t0 = performance.now();
  let blockLoss = 0;
  let blockSteps = 0;
  let tensors;
  let finalLogitScale;
  try {
    for (let step = 0; step < o.steps; step++) {
      const lr = pretrainLearningRate(step, o);
      const loss = await pool.step(lr);
      if (!Number.isFinite(loss)) throw new Error(`pretraining diverged at step ${step + 1} (loss ${loss})`);
      blockLoss += loss;
      blockSteps++;
      const last = step === o.steps - 1;
      if ((o.evalEvery > 0 && (step + 1) % o.evalEvery === 0) || last) {
        const meanLoss = blockLoss / blockSteps;
        lossCurve.push({ step: step + 1, loss: meanLoss });
        blockLoss = 0;
        blockSteps = 0;
        const acc = await pool.accuracy();
        evalCurve.push({ step: step + 1, accuracy: acc });
        const s = (performance.now() - t0) / 1000;
        const eta = (s / (step + 1)) * (o.steps - step - 1);
        o.log(`step ${step + 1}/${o.steps}  loss ${meanLoss.toFixed(4)}  held-out zero-shot ${(acc * 100).toFixed(1)}%  lr ${lr.toExponential(2)}  ${s.toFixed(0)} s (eta ${eta.toFixed(0)} s)`);
      }
    }
    finalLogitScale = await pool.logitScale();
    tensors = await pool.weights();
  } finally {
    await pool.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  writeFileSync(join(o.out, 'config.json'), JSON.stringify(toHfConfigJson(cfg), null, 2) + '\n');
  writeFileSync(
    join(o.out, 'preprocessor_config.json'),
    JSON.stringify(
      {
        crop_size: { height: cfg.vision.imageSize, width: cfg.vision.imageSize },
        do_center_crop: true,
        do_normalize: true,
        do_resize: true,
        image_mean: [0.48145466, 0.4578275, 0.40821073],
        image_std: [0.26862954, 0.26130258, 0.27577711],
        resample: 3,
        size: { shortest_edge: cfg.vision.imageSize },
      },
      null,
      2,
    ) + '\n',
  );
  writeSafetensors(join(o.out, 'model.safetensors'), tensors, { format: 'pt', generator: `cocoop toy CLIP pretraining, seed ${o.seed}, ${o.steps} steps` });
  return {
    seed: o.seed,
    steps: o.steps,
    batchSize: o.batchSize,
    lr: o.lr,
    warmupSteps: o.warmupSteps,
    weightDecay: o.weightDecay,
    seconds,
    parameters,
    lossCurve,
    evalCurve,
    finalLogitScale,
  };
}
