// Contrastive pretraining of the toy CLIP (TF.js): Adam with decoupled weight decay on the weight
// matrices, linear warm-up then cosine decay, learned temperature clamped at 100 (as CLIP does), a
// held-out zero-shot check every `evalEvery` steps, and the result saved in Hugging Face layout.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { toHfConfigJson } from '../../clip/config.ts';
import type { ClipConfig } from '../../clip/config.ts';
import { randomClipTensors } from '../../clip/random-weights.ts';
import { SeededRandom } from '../../clip/random.ts';
import { writeSafetensors } from '../../clip/safetensors.ts';
import { ClipTokenizer } from '../../clip/tokenizer.ts';
import { buildBpeVocab, writeVocabFiles } from '../../clip/tiny-vocab.ts';
import { captionCorpus } from '../captions.ts';
import { renderScene } from '../raster-renderer.ts';
import { sampleScene } from '../scene-sampler.ts';
import { CLASS_NAMES } from '../world.ts';
import { patchBatch, PretrainBatches, tokenBatch } from './batches.ts';
import { toyClipConfig } from './toy-clip-config.ts';
import { contrastiveLoss, l2Normalize, MAX_LOGIT_SCALE, TrainableClip } from './trainable-clip.ts';

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
}

export const PRETRAIN_DEFAULTS: Omit<PretrainOptions, 'out' | 'log'> = {
  seed: 1,
  steps: 3000,
  batchSize: 64,
  lr: 1e-3,
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

/** Zero-shot accuracy of the model in training over all 64 labels on fixed held-out renders. */
class HeldOutCheck {
  private readonly images: ReturnType<typeof patchBatch>[] = [];
  private readonly labels: number[] = [];
  constructor(cfg: ClipConfig, private readonly tokenizer: ClipTokenizer, seed: number, perClass: number) {
    const rng = new SeededRandom(seed);
    let chunk = [];
    for (let k = 0; k < perClass; k++) {
      for (let c = 0; c < CLASS_NAMES.length; c++) {
        chunk.push(renderScene(sampleScene(rng, CLASS_NAMES[c]), cfg.vision.imageSize));
        this.labels.push(c);
        if (chunk.length === 64) {
          this.images.push(patchBatch(chunk, cfg.vision.imageSize, cfg.vision.patchSize));
          chunk = [];
        }
      }
    }
    if (chunk.length) this.images.push(patchBatch(chunk, cfg.vision.imageSize, cfg.vision.patchSize));
  }

  async accuracy(model: TrainableClip): Promise<number> {
    const texts = tokenBatch(this.tokenizer, CLASS_NAMES.map((c) => `a photo of a ${c}.`));
    const txt = tf.tidy(() => l2Normalize(model.encodeText(texts)));
    let correct = 0;
    let i = 0;
    for (const batch of this.images) {
      const pred = tf.tidy(() => tf.argMax(tf.matMul(l2Normalize(model.encodeImages(batch)), tf.transpose(txt)), -1));
      const p = await pred.data();
      pred.dispose();
      for (const v of p) correct += v === this.labels[i++] ? 1 : 0;
    }
    txt.dispose();
    return correct / this.labels.length;
  }
}

/** Trains from scratch and writes config.json, model.safetensors, vocab.json, merges.txt, preprocessor_config.json. */
export async function pretrainToyClip(o: PretrainOptions): Promise<PretrainReport> {
  mkdirSync(o.out, { recursive: true });
  const vocab = toyVocab();
  writeVocabFiles(o.out, vocab);
  const tokenizer = ClipTokenizer.fromDir(o.out);
  const cfg = toyClipConfig(Math.max(...Object.values(vocab.vocab)) + 1);
  const model = new TrainableClip(cfg, randomClipTensors(cfg, o.seed));
  const parameters = model.trainableVariables().reduce((a, v) => a + v.size, 0);
  o.log(`toy CLIP: ${(parameters / 1e6).toFixed(2)}M parameters, vocab ${cfg.text.vocabSize}, ${cfg.vision.imageSize}px / ${cfg.vision.patchSize}px patches`);
  const batches = new PretrainBatches(o.seed, tokenizer, cfg.vision.imageSize, cfg.vision.patchSize, o.batchSize);
  // Held-out images: a stream no training batch draws from.
  const check = new HeldOutCheck(cfg, tokenizer, o.seed + 7919, o.evalPerClass);
  const optimizer = tf.train.adam(o.lr, 0.9, 0.98, 1e-6);
  const decayed = model.trainableVariables().filter((v) => v.rank === 2 && !v.name.includes('embedding'));
  const lossCurve: PretrainReport['lossCurve'] = [];
  const evalCurve: PretrainReport['evalCurve'] = [];
  const t0 = performance.now();
  let blockLoss = 0;
  let blockSteps = 0;
  for (let step = 0; step < o.steps; step++) {
    const lr = pretrainLearningRate(step, o);
    (optimizer as unknown as { learningRate: number }).learningRate = lr;
    const batch = batches.next();
    const cost = optimizer.minimize(
      () => contrastiveLoss(model.encodeImages(batch.images), model.encodeText(batch.texts), model.logitScale()),
      true,
      model.trainableVariables(),
    );
    tf.tidy(() => {
      for (const v of decayed) v.assign(tf.mul(v, 1 - lr * o.weightDecay));
      const s = model.logitScale();
      (s as unknown as tf.Variable).assign(tf.minimum(s, MAX_LOGIT_SCALE));
    });
    const loss = (await cost!.data())[0];
    cost!.dispose();
    if (!Number.isFinite(loss)) throw new Error(`pretraining diverged at step ${step + 1} (loss ${loss})`);
    blockLoss += loss;
    blockSteps++;
    const last = step === o.steps - 1;
    if ((o.evalEvery > 0 && (step + 1) % o.evalEvery === 0) || last) {
      const meanLoss = blockLoss / blockSteps;
      lossCurve.push({ step: step + 1, loss: meanLoss });
      blockLoss = 0;
      blockSteps = 0;
      const acc = await check.accuracy(model);
      evalCurve.push({ step: step + 1, accuracy: acc });
      const s = (performance.now() - t0) / 1000;
      const eta = (s / (step + 1)) * (o.steps - step - 1);
      o.log(`step ${step + 1}/${o.steps}  loss ${meanLoss.toFixed(4)}  held-out zero-shot ${(acc * 100).toFixed(1)}%  lr ${lr.toExponential(2)}  ${s.toFixed(0)} s (eta ${eta.toFixed(0)} s)`);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const finalLogitScale = (await model.logitScale().data())[0];
  const tensors = await model.toHfTensors();
  model.dispose();
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
