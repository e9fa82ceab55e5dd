// LayerNorm over the last axis of x [M, D]: y = (x − μ) / sqrt(σ² + eps) · γ + β (biased σ²).
// The custom gradient (w.r.t. x only; γ, β are frozen) is the closed form
//   ĝ = dy · γ,  dx = rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ · x̂))
// which is a handful of element-wise ops instead of autodiff through tf.moments.
import * as tf from '@tensorflow/tfjs';
import type { LayerNorm as LayerNormWeights } from '../weights.ts';
import { customGrad1, type GradOptions } from './grad-mode.ts';

export class FrozenLayerNorm {
  readonly dim: number;
  private readonly gamma: tf.Tensor1D; // [D]
  private readonly beta: tf.Tensor1D; // [D]
  private readonly fn: (x: tf.Tensor2D) => tf.Tensor2D;

  constructor(w: LayerNormWeights, eps: number, opts: GradOptions = {}) {
    this.dim = w.weight.shape[0];
    if (w.weight.shape.length !== 1 || w.bias.shape.length !== 1 || w.bias.shape[0] !== this.dim) {
      throw new Error(`LayerNorm: bad shapes weight [${w.weight.shape}], bias [${w.bias.shape}]`);
    }
    this.gamma = tf.keep(tf.tensor1d(w.weight.data));
    this.beta = tf.keep(tf.tensor1d(w.bias.data));
    const gamma = this.gamma;
    const beta = this.beta;
    if (opts.builtinGradients) {
      this.fn = (x) => {
        const { mean, variance } = tf.moments(x, -1, true); // [M, 1] each
        return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), gamma), beta);
      };
    } else {
      this.fn = customGrad1((x: tf.Tensor2D, save) => {
        const { mean, variance } = tf.moments(x, -1, true); // [M, 1] each
        const rstd = tf.rsqrt(tf.add(variance, eps)); // [M, 1]
        const xhat = tf.mul(tf.sub(x, mean), rstd); // [M, D]
        save([xhat, rstd]);
        return {
          value: tf.add(tf.mul(xhat, gamma), beta), // [M, D]
          gradFunc: (dy: tf.Tensor2D, saved) => {
            const [sxhat, srstd] = saved;
            const g = tf.mul(dy, gamma); // [M, D]
            const meanG = tf.mean(g, -1, true); // [M, 1]
            const meanGX = tf.mean(tf.mul(g, sxhat), -1, true); // [M, 1]
            // [M, D]
            return tf.mul(tf.sub(tf.sub(g, meanG), tf.mul(sxhat, meanGX)), srstd);
          },
        };
      });
    }
  }

  /** x [M, D] → [M, D] */
  apply(x: tf.Tensor2D): tf.Tensor2D {
    return this.fn(x);
  }

  dispose(): void {
    this.gamma.dispose();
    this.beta.dispose();
  }
}
