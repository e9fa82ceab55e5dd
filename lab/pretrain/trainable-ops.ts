// Differentiable building blocks for pretraining a CLIP from scratch on TF.js (wasm), with gradients
// w.r.t. the inputs AND the parameters. Like the frozen towers (clip/tf/), no matMul uses a transpose
// flag (12–20× slower on wasm): every transpose is an explicit op.
import * as tf from '@tensorflow/tfjs';

type Grad3 = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, save: tf.GradSaveFunc) => {
  value: tf.Tensor;
  gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];
};
type Grad2 = (a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  value: tf.Tensor;
  gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];
};

/** y = x·W + b; x [M, in], W [in, out] (note: NOT PyTorch's [out, in]), b [out] → [M, out]. */
const linearWithBias = tf.customGrad(((x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, save: tf.GradSaveFunc) => {
  save([x, w]);
  return {
    value: tf.fused.matMul({ a: x, b: w, bias: b }),
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const [sx, sw] = saved as tf.Tensor2D[];
      return [
        tf.matMul(dy, tf.transpose(sw)), // dx [M, in] = dy [M, out] · Wᵀ [out, in]
        tf.matMul(tf.transpose(sx), dy), // dW [in, out] = xᵀ [in, M] · dy [M, out]
        tf.sum(dy, 0), // db [out]
      ];
    },
  };
}) as Grad3 as never) as unknown as (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D;

/** y = x·W; x [M, in], W [in, out] → [M, out]. */
const linearNoBias = tf.customGrad(((x: tf.Tensor2D, w: tf.Tensor2D, save: tf.GradSaveFunc) => {
  save([x, w]);
  return {
    value: tf.matMul(x, w),
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const [sx, sw] = saved as tf.Tensor2D[];
      return [tf.matMul(dy, tf.transpose(sw)), tf.matMul(tf.transpose(sx), dy)];
    },
  };
}) as Grad2 as never) as unknown as (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D;

export function linear(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D | null): tf.Tensor2D {
  return b ? linearWithBias(x, w, b) : linearNoBias(x, w);
}

/**
 * LayerNorm over the last axis, trainable γ, β: x [M, D] → [M, D]. Closed-form gradients:
 *   x̂ = (x − μ)·rstd,  dβ = Σ_m dy,  dγ = Σ_m dy·x̂,  ĝ = dy·γ,  dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))
 */
export function makeLayerNorm(eps: number): (x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D) => tf.Tensor2D {
  return tf.customGrad(((x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D, save: tf.GradSaveFunc) => {
    const { mean, variance } = tf.moments(x, -1, true); // [M, 1] each
    const rstd = tf.rsqrt(tf.add(variance, eps)); // [M, 1]
    const xhat = tf.mul(tf.sub(x, mean), rstd); // [M, D]
    save([xhat, rstd, gamma]);
    return {
      value: tf.add(tf.mul(xhat, gamma), beta),
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [sxhat, srstd, sgamma] = saved;
        const g = tf.mul(dy, sgamma); // [M, D]
        const meanG = tf.mean(g, -1, true); // [M, 1]
        const meanGX = tf.mean(tf.mul(g, sxhat), -1, true); // [M, 1]
        const dx = tf.mul(tf.sub(tf.sub(g, meanG), tf.mul(sxhat, meanGX)), srstd);
        return [dx, tf.sum(tf.mul(dy, sxhat), 0), tf.sum(dy, 0)];
      },
    };
  }) as Grad3 as never) as unknown as (x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D) => tf.Tensor2D;
}

/** quick_gelu(x) = x · sigmoid(1.702 x) */
export function quickGelu(x: tf.Tensor2D): tf.Tensor2D {
  return tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)));
}
