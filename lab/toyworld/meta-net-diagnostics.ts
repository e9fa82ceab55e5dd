// How much CoCoOp's meta-net actually does. The prompt of image x is ctx + π(x) (π added to every
// context row: ort-inference.ts contextRows). Two measurements:
//   - the size of π(x) against the context: ‖π(x)‖ / ‖ctx row‖ (mean over images / mean over rows);
//   - accuracy when π(x) is replaced by a constant m (its mean over the training images): that prompt
//     is ctx + m for every image, i.e. a CoOp adapter with context ctx + m, evaluated through the same
//     inference path. If accuracy hardly changes, the image-conditional part carries little.
import type { AdapterParams } from '../../gpu-worker/cocoop/adapter.ts';
import { l2NormalizeRows, metaNetForward } from '../../gpu-worker/cocoop/ort-inference.ts';

function metaNetOf(adapter: AdapterParams) {
  if (adapter.method !== 'cocoop' || !adapter.metaNet) throw new Error('meta-net diagnostics need a CoCoOp adapter');
  return adapter.metaNet;
}

/** π(x) [n, D] of every row of the projected image features [n, P] (L2-normalised first, as inference does). */
export function metaNetOutputs(adapter: AdapterParams, features: Float32Array, n: number): Float32Array[] {
  const net = metaNetOf(adapter);
  const p = net.linear1.weight.shape[1];
  const normed = l2NormalizeRows(features, n, p);
  return Array.from({ length: n }, (_, i) => metaNetForward(net, normed.subarray(i * p, (i + 1) * p)));
}

function norm(v: ArrayLike<number>, from = 0, to = v.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

/** mean_i ‖π(x_i)‖ / mean_r ‖ctx_r‖ over the given images and the context rows. */
export function piToContextRatio(adapter: AdapterParams, features: Float32Array, n: number): number {
  const pis = metaNetOutputs(adapter, features, n);
  const meanPi = pis.reduce((a, v) => a + norm(v), 0) / n;
  const [m, d] = adapter.ctx.shape;
  let ctxNorm = 0;
  for (let r = 0; r < m; r++) ctxNorm += norm(adapter.ctx.data, r * d, (r + 1) * d);
  return meanPi / (ctxNorm / m);
}

/** The mean of π(x) over the given images [D]. */
export function meanMetaNetOutput(adapter: AdapterParams, features: Float32Array, n: number): Float32Array {
  const pis = metaNetOutputs(adapter, features, n);
  const out = new Float32Array(pis[0].length);
  for (const v of pis) for (let j = 0; j < v.length; j++) out[j] += v[j] / n;
  return out;
}

/** A CoOp adapter whose context is ctx + m on every row: CoCoOp with π(x) replaced by the constant m. */
export function constantPiAdapter(adapter: AdapterParams, m: Float32Array): AdapterParams {
  const [rows, d] = adapter.ctx.shape;
  if (m.length !== d) throw new Error(`constant π has ${m.length} values, the context rows ${d}`);
  const ctx = new Float32Array(rows * d);
  for (let r = 0; r < rows; r++) for (let j = 0; j < d; j++) ctx[r * d + j] = adapter.ctx.data[r * d + j] + m[j];
  return { method: 'coop', ctx: { shape: [rows, d], data: ctx }, ctxInit: adapter.ctxInit };
}
