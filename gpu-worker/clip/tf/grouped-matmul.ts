// Grouped (batched) matMul between two activations, in a "group-inner" layout:
//   C[i, g, j] = Σ_k A[i, k, g] · W[k, g, j]      A [I, K, G], W [K, G, J] → C [I, G, J]
//
// Why not tf.matMul on [G, I, K] × [G, K, J]: on the wasm backend a batched matMul (batch > 1) runs
// a slow generic loop (≈ 2 GFLOP/s, measured 30 ms for the 8-head × 10-prompt attention scores at
// L=77), and its built-in gradient adds transpose flags (slower still). A depthwise convolution is
// exactly a grouped matMul and runs on XNNPACK (≈ 4× faster here):
//   input  A → [I, 1, K, G]  (batch I, height 1, width K, G channels)
//   filter W → [1, K, G, J]  (kernel 1×K, channel multiplier J), 'valid' padding
//   output   → [I, 1, 1, G·J] = C [I, G, J]
// All three reshapes are free (no data movement). The wasm backend has no depthwise-conv gradient
// kernels, so the gradient is written with the same op, explicit transposes and no flags:
//   dA[i, k, g] = Σ_j dC[i, g, j] · W[k, g, j]  = gmm(dCᵀ [I, J, G], Wᵀ [J, G, K]) [I, G, K] → [I, K, G]
//   dW[k, g, j] = Σ_i A[i, k, g] · dC[i, g, j]  = gmm(Aᵀ [K, I, G], dC [I, G, J])  [K, G, J]
import * as tf from '@tensorflow/tfjs';
import { customGrad2 } from './grad-mode.ts';

/** The raw op (no gradient of its own): A [I, K, G], W [K, G, J] → [I, G, J]. */
function gmm(a: tf.Tensor3D, w: tf.Tensor3D): tf.Tensor3D {
  const [i, k, g] = a.shape;
  const [k2, g2, j] = w.shape;
  if (k !== k2 || g !== g2) throw new Error(`groupedMatMul: shapes [${a.shape}] and [${w.shape}] do not match`);
  const input = tf.reshape(a, [i, 1, k, g]) as tf.Tensor4D;
  const filter = tf.reshape(w, [1, k, g, j]) as tf.Tensor4D;
  return tf.reshape(tf.depthwiseConv2d(input, filter, 1, 'valid'), [i, g, j]);
}

const customGroupedMatMul = customGrad2((a: tf.Tensor3D, w: tf.Tensor3D, save) => {
  save([a, w]);
  return {
    value: gmm(a, w), // [I, G, J]
    gradFunc: (dy: tf.Tensor3D, saved) => {
      const [sa, sw] = saved as tf.Tensor3D[];
      // [I, J, G] ⊗ [J, G, K] → [I, G, K] → [I, K, G]
      const da = tf.transpose(gmm(tf.transpose(dy, [0, 2, 1]), tf.transpose(sw, [2, 1, 0])), [0, 2, 1]);
      // [K, I, G] ⊗ [I, G, J] → [K, G, J]
      const dw = gmm(tf.transpose(sa, [1, 0, 2]), dy);
      return [da, dw];
    },
  };
});

/** Built-in reference: transposes + tf.matMul on [G, I, K] × [G, K, J], TF.js's own gradients. */
function builtinGroupedMatMul(a: tf.Tensor3D, w: tf.Tensor3D): tf.Tensor3D {
  const c = tf.matMul<tf.Tensor3D>(tf.transpose(a, [2, 0, 1]), tf.transpose(w, [1, 0, 2])); // [G, I, J]
  return tf.transpose(c, [1, 0, 2]); // [I, G, J]
}

/**
 * C[i, g, j] = Σ_k A[i, k, g] · W[k, g, j]; A [I, K, G], W [K, G, J] → [I, G, J].
 * Differentiable w.r.t. both. `builtin` selects TF.js's own matMul and gradients (reference only).
 */
export function groupedMatMul(a: tf.Tensor3D, w: tf.Tensor3D, builtin = false): tf.Tensor3D {
  return builtin ? builtinGroupedMatMul(a, w) : customGroupedMatMul(a, w);
}
