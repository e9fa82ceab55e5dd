// Multi-head self-attention (CLIP: q, k, v and out projections, all with bias).
//
// Activations are sequence-major: x [L·N, D] with row = position·N + sequence, i.e. [L, N, D]. In that
// layout the heads of all sequences form G = N·H groups, [L, N, D] = [L, G, hd], which is exactly
// what groupedMatMul (a depthwise conv on wasm) wants, and the attention output comes back as
// [L, G, hd] = [L·N, D] with no merge transpose. The head_dim^-0.5 scale is folded into q's weight
// and bias. No matMul anywhere uses a transpose flag.
import * as tf from '@tensorflow/tfjs';
import type { EncoderLayer as EncoderLayerWeights } from '../weights.ts';
import { FrozenLinear } from './frozen-linear.ts';
import type { GradOptions } from './grad-mode.ts';
import { groupedMatMul } from './grouped-matmul.ts';

export class SelfAttention {
  readonly dim: number; // D
  readonly heads: number; // H
  readonly headDim: number; // hd = D / H
  private readonly q: FrozenLinear; // [L·N, D] → [L·N, D], pre-scaled by hd^-0.5
  private readonly k: FrozenLinear; // [L·N, D] → [L·N, D]
  private readonly v: FrozenLinear; // [L·N, D] → [L·N, D]
  private readonly out: FrozenLinear; // [L·N, D] → [L·N, D]
  private readonly builtin: boolean;

  constructor(w: EncoderLayerWeights, heads: number, opts: GradOptions = {}) {
    const d = w.q.weight.shape[1];
    if (d % heads !== 0) throw new Error(`attention: width ${d} is not divisible by ${heads} heads`);
    this.dim = d;
    this.heads = heads;
    this.headDim = d / heads;
    this.builtin = !!opts.builtinGradients;
    this.q = new FrozenLinear(w.q.weight, w.q.bias, { ...opts, scale: this.headDim ** -0.5 });
    this.k = new FrozenLinear(w.k.weight, w.k.bias, opts);
    this.v = new FrozenLinear(w.v.weight, w.v.bias, opts);
    this.out = new FrozenLinear(w.out.weight, w.out.bias, opts);
  }

  /**
   * x [L·N, D] (sequence-major) → [L·N, D]. `mask` is additive [L, 1, L] (query, ·, key), or null.
   */
  apply(x: tf.Tensor2D, l: number, n: number, mask: tf.Tensor3D | null): tf.Tensor2D {
    const { dim: d, headDim: hd } = this;
    const g = n * this.heads; // groups: (sequence, head)
    return tf.tidy(() => {
      const q = tf.reshape(this.q.apply(x), [l, g, hd]); // [Lq, G, hd], scaled
      const k = tf.reshape(this.k.apply(x), [l, g, hd]); // [Lk, G, hd]
      const v = tf.reshape(this.v.apply(x), [l, g, hd]) as tf.Tensor3D; // [Lk, G, hd]
      // scores[i, g, j] = Σ_c q[i, g, c] · k[j, g, c]
      let scores = groupedMatMul(
        tf.transpose(q, [0, 2, 1]) as tf.Tensor3D, // [Lq, hd, G]
        tf.transpose(k, [2, 1, 0]) as tf.Tensor3D, // [hd, G, Lk]
        this.builtin,
      ); // [Lq, G, Lk]
      if (mask) scores = tf.add(scores, mask); // broadcast [Lq, 1, Lk]
      const probs = tf.softmax(scores, -1); // [Lq, G, Lk], fp32
      // ctx[i, g, c] = Σ_j probs[i, g, j] · v[j, g, c]
      const ctx = groupedMatMul(tf.transpose(probs, [0, 2, 1]) as tf.Tensor3D /* [Lq, Lk, G] */, v, this.builtin); // [Lq, G, hd]
      return this.out.apply(tf.reshape(ctx, [l * n, d])); // [L·N, D]
    });
  }

  dispose(): void {
    this.q.dispose();
    this.k.dispose();
    this.v.dispose();
    this.out.dispose();
  }
}
