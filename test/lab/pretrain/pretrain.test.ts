import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadClipModel } from '../../../gpu-worker/clip/model.ts';
import { ClipTokenizer } from '../../../gpu-worker/clip/tokenizer.ts';
import { writeVocabFiles } from '../../../gpu-worker/clip/tiny-vocab.ts';
import { clipTensorSpecs } from '../../../gpu-worker/clip/weights.ts';
import { sha256File } from '../../../gpu-worker/clip/safetensors.ts';
import { captionCorpus } from '../../../lab/toyworld/captions.ts';
import { PRETRAIN_DEFAULTS, pretrainLearningRate, pretrainToyClip, toyVocab } from '../../../lab/pretrain/pretrain.ts';
import { useTfWasm } from '../../helpers/tf-wasm.ts';
import { useTmpDirs } from '../../helpers/tmp.ts';

useTfWasm();
const tmp = useTmpDirs('pretrain-');

describe('toy CLIP pretraining', () => {
  it('warms up linearly, then decays by a cosine to 0', () => {
    const o = { lr: 1e-3, warmupSteps: 10, steps: 110 };
    expect(pretrainLearningRate(0, o)).toBeCloseTo(1e-4, 12);
    expect(pretrainLearningRate(9, o)).toBeCloseTo(1e-3, 12);
    expect(pretrainLearningRate(10, o)).toBeCloseTo(1e-3, 12);
    expect(pretrainLearningRate(60, o)).toBeCloseTo(0.5e-3, 12);
    expect(pretrainLearningRate(110, o)).toBeCloseTo(0, 12);
  });

  it('has a vocabulary in which every caption word is one token', () => {
    const dir = tmp();
    writeVocabFiles(dir, toyVocab());
    const tok = ClipTokenizer.fromDir(dir);
    const words = new Set(captionCorpus().split(/[\s.]+/).filter(Boolean));
    expect(words.size).toBeGreaterThan(20);
    for (const w of words) expect(tok.encode(w), w).toHaveLength(3); // SOT, word, EOT
    // Any other text still tokenizes (byte fallback), as with any CLIP vocab.
    expect(tok.encode('a photo of a zebra.').length).toBeGreaterThan(6);
  });

  it('learns (the loss falls) and saves a model directory the product loads like any CLIP', async () => {
    const out = tmp();
    const lines: string[] = [];
    const r = await pretrainToyClip({ ...PRETRAIN_DEFAULTS, out, steps: 40, batchSize: 16, warmupSteps: 5, evalEvery: 20, evalPerClass: 1, log: (l) => lines.push(l) });
    expect(r.lossCurve.map((x) => x.step)).toEqual([20, 40]);
    expect(r.lossCurve[1].loss).toBeLessThan(r.lossCurve[0].loss);
    expect(r.lossCurve[0].loss).toBeLessThan(Math.log(16) + 0.5);
    expect(lines.some((l) => /step 40\/40 .*held-out zero-shot/.test(l))).toBe(true);
    for (const f of ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt', 'preprocessor_config.json']) expect(existsSync(join(out, f)), f).toBe(true);
    const model = loadClipModel(out);
    const expected = clipTensorSpecs(model.config).reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
    expect(r.parameters).toBe(expected);
    expect(model.config.vision.imageSize).toBe(48);
    expect(model.preprocess.size).toBe(48);
    expect(Math.exp(model.weights.logitScale)).toBeLessThanOrEqual(100 + 1e-3);
    expect(model.weights.logitScale).toBeCloseTo(r.finalLogitScale, 6);
  });

  it('is reproducible: two data-parallel runs with the same seed write identical weights; another seed does not', async () => {
    const run = async (seed: number) => {
      const out = tmp();
      await pretrainToyClip({ ...PRETRAIN_DEFAULTS, out, seed, steps: 4, batchSize: 8, warmupSteps: 2, evalEvery: 0, evalPerClass: 1, replicas: 2, log: () => {} });
      return sha256File(join(out, 'model.safetensors'));
    };
    const a = await run(5);
    expect(await run(5)).toBe(a);
    expect(await run(6)).not.toBe(a);
  }, 120_000);
});

