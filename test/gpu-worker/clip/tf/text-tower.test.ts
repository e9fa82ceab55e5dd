import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TextConfig } from '../../../../gpu-worker/clip/config.ts';
import { TfTextTower } from '../../../../gpu-worker/clip/tf/text-tower.ts';
import { initTfBackend } from '../../../../gpu-worker/runtime/tf-backend.ts';
import { Rng, randomTextWeights, refText, relErr } from './reference.ts';

const CFG: TextConfig = {
  vocabSize: 100,
  hiddenSize: 32,
  intermediateSize: 64,
  numHiddenLayers: 2,
  numAttentionHeads: 4,
  maxPositionEmbeddings: 77,
  hiddenAct: 'quick_gelu',
  layerNormEps: 1e-5,
};
const P = 16;
const SOT = 98;
const EOT = 99;

/** Token rows [SOT, body…, EOT] with body lengths `lens` (ids < 98). */
function rows(rng: Rng, lens: number[]): number[][] {
  return lens.map((k) => [SOT, ...Array.from({ length: k }, () => rng.int(SOT)), EOT]);
}

beforeAll(async () => {
  const info = await initTfBackend({ prefer: 'wasm', log: () => {} });
  expect(info.backend).toBe('wasm');
});

describe('TfTextTower', () => {
  it('matches the Float64 reference (quick_gelu and gelu)', () => {
    for (const act of ['quick_gelu', 'gelu'] as const) {
      const cfg = { ...CFG, hiddenAct: act };
      const rng = new Rng(act === 'gelu' ? 7 : 1);
      const w = randomTextWeights(rng, cfg, P);
      const tower = new TfTextTower(w, cfg);
      const ids = rows(rng, [3, 8, 0, 5]);
      const { embeds, eot } = tower.tokenEmbeddings(ids, EOT);
      expect(eot).toEqual([4, 9, 1, 6]);
      expect(embeds.shape).toEqual([4, 10, 32]);
      const out = tower.forward(embeds, eot);
      expect(out.shape).toEqual([4, P]);
      const ref = refText(w, cfg, embeds.dataSync(), 4, 10, eot);
      expect(relErr(out.dataSync(), ref)).toBeLessThan(1e-4);
      tf.dispose([embeds, out]);
      tower.dispose();
    }
  });

  it('tokenEmbeddings copies table rows and pads with EOT to max(eot)+1', () => {
    const rng = new Rng(2);
    const w = randomTextWeights(rng, CFG, P);
    const tower = new TfTextTower(w, CFG);
    const ids = [[SOT, 5, EOT, 7, 7, 7], [SOT, EOT]];
    const { embeds, eot } = tower.tokenEmbeddings(ids, EOT);
    expect(eot).toEqual([2, 1]);
    expect(embeds.shape).toEqual([2, 3, 32]);
    const e = embeds.arraySync();
    const row = (id: number) => Array.from(w.tokenEmbedding.data.subarray(id * 32, id * 32 + 32));
    expect(e[0].map((v) => Array.from(v))).toEqual([row(SOT), row(5), row(EOT)]);
    expect(e[1].map((v) => Array.from(v))).toEqual([row(SOT), row(EOT), row(EOT)]);
    expect(() => tower.tokenEmbeddings([[SOT, 5]], EOT)).toThrow(/no end-of-text/);
    expect(() => tower.tokenEmbeddings([[SOT, 100, EOT]], EOT)).toThrow(/out of range/);
    embeds.dispose();
    tower.dispose();
  });

  it('truncated length max(eot)+1 gives the same EOT features as 77-padded inputs', () => {
    const rng = new Rng(3);
    const w = randomTextWeights(rng, CFG, P);
    const tower = new TfTextTower(w, CFG);
    const ids = rows(rng, [2, 9, 5]);
    const { embeds, eot } = tower.tokenEmbeddings(ids, EOT);
    // Same rows padded to 77 with random junk after the EOT.
    const padded = ids.map((r) => [...r, ...Array.from({ length: 77 - r.length }, () => rng.int(100))]);
    const d = CFG.hiddenSize;
    const table = w.tokenEmbedding.data;
    const full = new Float32Array(3 * 77 * d);
    padded.forEach((r, n) => r.forEach((id, t) => full.set(table.subarray(id * d, (id + 1) * d), (n * 77 + t) * d)));
    const embeds77 = tf.tensor3d(full, [3, 77, d]);
    const a = tower.forward(embeds, eot);
    const b = tower.forward(embeds77, eot);
    expect(embeds.shape[1]).toBe(11);
    expect(relErr(a.dataSync(), b.dataSync())).toBeLessThan(1e-5);
    tf.dispose([embeds, embeds77, a, b]);
    tower.dispose();
  });

  it('gradient w.r.t. inputsEmbeds matches finite differences and the built-in gradient path', () => {
    const rng = new Rng(4);
    const w = randomTextWeights(rng, CFG, P);
    const tower = new TfTextTower(w, CFG);
    const reference = new TfTextTower(w, CFG, { builtinGradients: true });
    const n = 3;
    const l = 7;
    const d = CFG.hiddenSize;
    const eot = [6, 3, 4];
    const x = rng.tensor([n, l, d], 0.5);
    const r = rng.tensor([n, P], 1);
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
      const out = refText(w, CFG, data, n, l, eot);
      let s = 0;
      for (let i = 0; i < out.length; i++) s += out[i] * r.data[i];
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
    const rng = new Rng(5);
    const tower = new TfTextTower(randomTextWeights(rng, CFG, P), CFG);
    const { embeds, eot } = tower.tokenEmbeddings(rows(rng, [4, 1]), EOT);
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
    const rng = new Rng(6);
    const tower = new TfTextTower(randomTextWeights(rng, CFG, P), CFG);
    const e = tf.zeros([2, 5, 32]) as tf.Tensor3D;
    expect(() => tower.forward(e, [4, 5])).toThrow(/EOT index 5/);
    expect(() => tower.forward(e, [1])).toThrow(/EOT indices/);
    e.dispose();
    tower.dispose();
  });
});
