import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { TfTextTower } from '../../../../gpu-worker/clip/tf/text-tower.ts';
import { plainTextFeatures, plainTextFeaturesFromEmbeds } from '../../../reference/clip-plain.ts';
import { relErr, relErrRows } from '../../../helpers/numeric.ts';
import { randomTensor, SeededRandom } from '../../../helpers/random.ts';
import { batchRows, embedWithJunk, randomPrompts, tinyClip, TINY_EOT as EOT, TINY_P as P, TINY_SOT as SOT, type TinyClipOptions } from '../../../helpers/tiny-clip.ts';
import { useTfWasm } from '../../../helpers/tf-wasm.ts';

function tinyTower(seed: number, opts: TinyClipOptions = {}) {
  const m = tinyClip(seed, opts);
  return { ...m, tower: new TfTextTower(m.weights.text, m.config.text) };
}

useTfWasm();

describe('TfTextTower', () => {
  it('matches the Float64 reference (quick_gelu and gelu)', () => {
    for (const act of ['quick_gelu', 'gelu'] as const) {
      const { plain, tower } = tinyTower(act === 'gelu' ? 7 : 1, { act });
      const ids = randomPrompts(new SeededRandom(act === 'gelu' ? 7 : 1), [3, 8, 0, 5]);
      const { embeds, eot } = tower.tokenEmbeddings(ids, EOT);
      expect(eot).toEqual([4, 9, 1, 6]);
      expect(embeds.shape).toEqual([4, 10, 32]);
      const out = tower.forward(embeds, eot);
      expect(out.shape).toEqual([4, P]);
      expect(relErrRows(out.dataSync(), ids.map((row) => plainTextFeatures(plain, row)))).toBeLessThan(1e-4);
      tf.dispose([embeds, out]);
      tower.dispose();
    }
  });

  it('tokenEmbeddings copies table rows and pads with EOT to max(eot)+1', () => {
    const { weights, tower } = tinyTower(2);
    const ids = [[SOT, 5, EOT, 7, 7, 7], [SOT, EOT]];
    const { embeds, eot } = tower.tokenEmbeddings(ids, EOT);
    expect(eot).toEqual([2, 1]);
    expect(embeds.shape).toEqual([2, 3, 32]);
    const e = embeds.arraySync();
    const row = (id: number) => Array.from(weights.text.tokenEmbedding.data.subarray(id * 32, id * 32 + 32));
    expect(e[0].map((v) => Array.from(v))).toEqual([row(SOT), row(5), row(EOT)]);
    expect(e[1].map((v) => Array.from(v))).toEqual([row(SOT), row(EOT), row(EOT)]);
    expect(() => tower.tokenEmbeddings([[SOT, 5]], EOT)).toThrow(/no end-of-text/);
    expect(() => tower.tokenEmbeddings([[SOT, 100, EOT]], EOT)).toThrow(/out of range/);
    embeds.dispose();
    tower.dispose();
  });

  it('truncated length max(eot)+1 gives the same EOT features as 77-padded inputs', () => {
    const { weights, tower } = tinyTower(3);
    const rng = new SeededRandom(3);
    const ids = randomPrompts(rng, [2, 9, 5]);
    const { embeds, eot } = tower.tokenEmbeddings(ids, EOT);
    // Same rows padded to 77 with random junk after the EOT.
    const embeds77 = tf.tensor3d(embedWithJunk(weights.text.tokenEmbedding, ids, 77, rng), [3, 77, 32]);
    const a = tower.forward(embeds, eot);
    const b = tower.forward(embeds77, eot);
    expect(embeds.shape[1]).toBe(11);
    expect(relErr(a.dataSync(), b.dataSync())).toBeLessThan(1e-5);
    tf.dispose([embeds, embeds77, a, b]);
    tower.dispose();
  });

  it('gradient w.r.t. inputsEmbeds matches finite differences and the built-in gradient path', () => {
    const { weights, config, plain, tower } = tinyTower(4);
    const reference = new TfTextTower(weights.text, config.text, { builtinGradients: true });
    const rng = new SeededRandom(4);
    const n = 3;
    const l = 7;
    const d = config.text.hiddenSize;
    const eot = [6, 3, 4];
    const x = randomTensor(rng, [n, l, d], 0.5);
    const r = randomTensor(rng, [n, P], 1);
    const xT = tf.tensor3d(x.data, [n, l, d]);
    const rT = tf.tensor2d(r.data, [n, P]);
    const lossOf = (t: TfTextTower) => (e: tf.Tensor) => tf.sum(tf.mul(t.forward(e as tf.Tensor3D, eot), rT));
    const g = tf.grad(lossOf(tower))(xT);
    const gBuiltin = tf.grad(lossOf(reference))(xT);
    const gv = g.dataSync();
    expect(g.shape).toEqual([n, l, d]);
    expect(relErr(gv, gBuiltin.dataSync())).toBeLessThan(1e-4);

    // Float64 central differences of the reference on a few coordinates.
    const lossRef = (data: Float64Array): number => {
      let s = 0;
      batchRows(data, n, l, d).forEach((rows, b) => {
        plainTextFeaturesFromEmbeds(plain, rows, eot[b]).forEach((v, k) => (s += v * r.data[b * P + k]));
      });
      return s;
    };
    const base = Float64Array.from(x.data);
    let scale = 0;
    for (const v of gv) scale = Math.max(scale, Math.abs(v));
    const coords = [
      [0, 0, 0], [0, 6, 5], [1, 2, 31], [1, 3, 7], [2, 0, 12], [2, 4, 20],
      [1, 5, 3], // after row 1's EOT: gradient exactly 0
    ];
    const eps = 1e-4;
    for (const [b, t, c] of coords) {
      const i = (b * l + t) * d + c;
      const plus = Float64Array.from(base);
      plus[i] += eps;
      const minus = Float64Array.from(base);
      minus[i] -= eps;
      const fd = (lossRef(plus) - lossRef(minus)) / (2 * eps);
      expect(Math.abs(gv[i] - fd) / scale, `coordinate [${b},${t},${c}]: tf ${gv[i]} vs fd ${fd}`).toBeLessThan(1e-3);
    }
    expect(gv[(1 * l + 5) * d + 3]).toBe(0);
    tf.dispose([xT, rT, g, gBuiltin]);
    tower.dispose();
    reference.dispose();
  });

  it('does not leak tensors and frees its weights on dispose', () => {
    const before = tf.memory().numTensors;
    const { tower } = tinyTower(5);
    const { embeds, eot } = tower.tokenEmbeddings(randomPrompts(new SeededRandom(5), [4, 1]), EOT);
    tower.forward(embeds, eot).dispose(); // builds and caches the mask for this L
    const mid = tf.memory().numTensors;
    tower.forward(embeds, eot).dispose();
    tf.grad((e: tf.Tensor) => tf.sum(tower.forward(e as tf.Tensor3D, eot)))(embeds).dispose();
    expect(tf.memory().numTensors).toBe(mid);
    embeds.dispose();
    tower.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects bad EOT indices', () => {
    const { tower } = tinyTower(6);
    const e = tf.zeros([2, 5, 32]) as tf.Tensor3D;
    expect(() => tower.forward(e, [4, 5])).toThrow(/EOT index 5/);
    expect(() => tower.forward(e, [1])).toThrow(/EOT indices/);
    e.dispose();
    tower.dispose();
  });
});
