import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { FrozenLinear } from '../../../../gpu-worker/clip/tf/frozen-linear.ts';
import { groupedMatMul } from '../../../../gpu-worker/clip/tf/grouped-matmul.ts';
import { FrozenLayerNorm } from '../../../../gpu-worker/clip/tf/layer-norm.ts';
import { relErr } from '../../../helpers/numeric.ts';
import { randomTensor, SeededRandom } from '../../../helpers/random.ts';
import { useTfWasm } from '../../../helpers/tf-wasm.ts';

useTfWasm();

describe('custom-gradient building blocks (wasm)', () => {
  it('groupedMatMul: value and both gradients match loops and the built-in path', () => {
    const rng = new SeededRandom(21);
    const [I, K, G, J] = [5, 7, 6, 4];
    const a = randomTensor(rng, [I, K, G], 1);
    const w = randomTensor(rng, [K, G, J], 1);
    const r = randomTensor(rng, [I, G, J], 1);
    const aT = tf.tensor3d(a.data, [I, K, G]);
    const wT = tf.tensor3d(w.data, [K, G, J]);
    const rT = tf.tensor3d(r.data, [I, G, J]);
    const out = groupedMatMul(aT, wT);
    expect(out.shape).toEqual([I, G, J]);
    const ref = new Float64Array(I * G * J);
    for (let i = 0; i < I; i++)
      for (let g = 0; g < G; g++)
        for (let j = 0; j < J; j++) {
          let s = 0;
          for (let k = 0; k < K; k++) s += a.data[(i * K + k) * G + g] * w.data[(k * G + g) * J + j];
          ref[(i * G + g) * J + j] = s;
        }
    expect(relErr(out.dataSync(), ref)).toBeLessThan(1e-5);
    const loss = (builtin: boolean) => (x: tf.Tensor, y: tf.Tensor) =>
      tf.sum(tf.mul(groupedMatMul(x as tf.Tensor3D, y as tf.Tensor3D, builtin), rT));
    const [da, dw] = tf.grads(loss(false))([aT, wT]);
    const [da0, dw0] = tf.grads(loss(true))([aT, wT]);
    expect(da.shape).toEqual([I, K, G]);
    expect(dw.shape).toEqual([K, G, J]);
    expect(relErr(da.dataSync(), da0.dataSync())).toBeLessThan(1e-5);
    expect(relErr(dw.dataSync(), dw0.dataSync())).toBeLessThan(1e-5);
    tf.dispose([aT, wT, rT, out, da, dw, da0, dw0]);
  });

  it('FrozenLinear and FrozenLayerNorm gradients match the built-in path', () => {
    const rng = new SeededRandom(22);
    const x = tf.tensor2d(randomTensor(rng, [6, 8], 1).data, [6, 8]);
    const r = tf.tensor2d(randomTensor(rng, [6, 5], 1).data, [6, 5]);
    const r8 = tf.tensor2d(randomTensor(rng, [6, 8], 1).data, [6, 8]);
    const wt = randomTensor(rng, [5, 8], 0.5);
    const b = randomTensor(rng, [5], 0.5);
    const ln = { weight: randomTensor(rng, [8], 0.2, 1), bias: randomTensor(rng, [8], 0.2) };
    for (const [make, rr] of [
      [(builtin: boolean) => new FrozenLinear(wt, b, { builtinGradients: builtin }), r],
      [(builtin: boolean) => new FrozenLayerNorm(ln, 1e-5, { builtinGradients: builtin }), r8],
    ] as const) {
      const custom = make(false);
      const builtin = make(true);
      const yc = custom.apply(x);
      const yb = builtin.apply(x);
      expect(relErr(yc.dataSync(), yb.dataSync())).toBeLessThan(1e-6);
      const gc = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(custom.apply(t as tf.Tensor2D), rr)))(x);
      const gb = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(builtin.apply(t as tf.Tensor2D), rr)))(x);
      expect(relErr(gc.dataSync(), gb.dataSync())).toBeLessThan(1e-5);
      tf.dispose([yc, yb, gc, gb]);
      custom.dispose();
      builtin.dispose();
    }
    tf.dispose([x, r, r8]);
  });
});
