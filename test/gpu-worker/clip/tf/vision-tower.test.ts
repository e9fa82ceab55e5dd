import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { TfVisionTower } from '../../../../gpu-worker/clip/tf/vision-tower.ts';
import { plainImageFeatures } from '../../../reference/clip-plain.ts';
import { relErr, relErrRows } from '../../../helpers/numeric.ts';
import { randomTensor, SeededRandom } from '../../../helpers/random.ts';
import { tinyClip, TINY_P as P, type TinyClipOptions } from '../../../helpers/tiny-clip.ts';
import { useTfWasm } from '../../../helpers/tf-wasm.ts';

function tinyTower(seed: number, opts: TinyClipOptions = {}) {
  const m = tinyClip(seed, opts);
  return { ...m, tower: new TfVisionTower(m.weights.vision, m.config.vision) };
}

useTfWasm();

describe('TfVisionTower', () => {
  it('matches the Float64 reference (quick_gelu and gelu, 2×2 and 4×4 patch grids)', () => {
    const cases: [TinyClipOptions, number][] = [
      [{}, 11],
      [{ act: 'gelu' }, 12],
      [{ vision: { patch_size: 4, num_channels: 2 } }, 13],
    ];
    for (const [opts, seed] of cases) {
      const { config, plain, tower } = tinyTower(seed, opts);
      const { numChannels: c, imageSize: s } = config.vision;
      const n = 3;
      const px = randomTensor(new SeededRandom(seed), [n, c, s, s], 1);
      const pixels = tf.tensor4d(px.data, [n, c, s, s]);
      const out = tower.forward(pixels);
      expect(out.shape).toEqual([n, P]);
      const per = c * s * s;
      const ref = Array.from({ length: n }, (_, b) => plainImageFeatures(plain, Float64Array.from(px.data.subarray(b * per, (b + 1) * per))));
      expect(relErrRows(out.dataSync(), ref)).toBeLessThan(1e-4);
      tf.dispose([pixels, out]);
      tower.dispose();
    }
  });

  it('treats images independently within a batch', () => {
    const { tower } = tinyTower(14);
    const px = randomTensor(new SeededRandom(14), [4, 3, 16, 16], 1);
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
    const { tower } = tinyTower(15);
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
