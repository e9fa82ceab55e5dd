import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { VisionConfig } from '../../../../gpu-worker/clip/config.ts';
import { TfVisionTower } from '../../../../gpu-worker/clip/tf/vision-tower.ts';
import { initTfBackend } from '../../../../gpu-worker/runtime/tf-backend.ts';
import { Rng, randomVisionWeights, refVision, relErr } from './reference.ts';

const CFG: VisionConfig = {
  hiddenSize: 32,
  intermediateSize: 64,
  numHiddenLayers: 2,
  numAttentionHeads: 4,
  numChannels: 3,
  imageSize: 16,
  patchSize: 8,
  hiddenAct: 'quick_gelu',
  layerNormEps: 1e-5,
};
const P = 16;

beforeAll(async () => {
  const info = await initTfBackend({ prefer: 'wasm', log: () => {} });
  expect(info.backend).toBe('wasm');
});

describe('TfVisionTower', () => {
  it('matches the Float64 reference (quick_gelu and gelu, 2×2 and 4×4 patch grids)', () => {
    const cases: [VisionConfig, number][] = [
      [CFG, 11],
      [{ ...CFG, hiddenAct: 'gelu' }, 12],
      [{ ...CFG, patchSize: 4, numChannels: 2 }, 13],
    ];
    for (const [cfg, seed] of cases) {
      const rng = new Rng(seed);
      const w = randomVisionWeights(rng, cfg, P);
      const tower = new TfVisionTower(w, cfg);
      const n = 3;
      const px = rng.tensor([n, cfg.numChannels, cfg.imageSize, cfg.imageSize], 1);
      const pixels = tf.tensor4d(px.data, [n, cfg.numChannels, cfg.imageSize, cfg.imageSize]);
      const out = tower.forward(pixels);
      expect(out.shape).toEqual([n, P]);
      expect(relErr(out.dataSync(), refVision(w, cfg, px.data, n))).toBeLessThan(1e-4);
      tf.dispose([pixels, out]);
      tower.dispose();
    }
  });

  it('treats images independently within a batch', () => {
    const rng = new Rng(14);
    const tower = new TfVisionTower(randomVisionWeights(rng, CFG, P), CFG);
    const px = rng.tensor([4, 3, 16, 16], 1);
    const all = tf.tensor4d(px.data, [4, 3, 16, 16]);
    const one = tf.tensor4d(px.data.subarray(2 * 768, 3 * 768), [1, 3, 16, 16]);
    const a = tower.forward(all);
    const b = tower.forward(one);
    expect(relErr(a.dataSync().subarray(2 * P, 3 * P), b.dataSync())).toBeLessThan(1e-5);
    tf.dispose([all, one, a, b]);
    tower.dispose();
  });

  it('does not leak tensors, frees its weights on dispose and rejects bad shapes', () => {
    const before = tf.memory().numTensors;
    const rng = new Rng(15);
    const tower = new TfVisionTower(randomVisionWeights(rng, CFG, P), CFG);
    const created = tf.memory().numTensors;
    const pixels = tf.zeros([2, 3, 16, 16]) as tf.Tensor4D;
    tower.forward(pixels).dispose();
    expect(tf.memory().numTensors).toBe(created + 1);
    const bad = tf.zeros([2, 3, 8, 8]) as tf.Tensor4D;
    expect(() => tower.forward(bad)).toThrow(/expected \[N, 3, 16, 16\]/);
    tf.dispose([pixels, bad]);
    tower.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
