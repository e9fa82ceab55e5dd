// CLIP MLP: fc2(act(fc1(x))) on x [L·N, D], with act = quick_gelu (x·sigmoid(1.702x)) or erf GELU.
import * as tf from '@tensorflow/tfjs';
import type { HiddenAct } from '../config.ts';
import type { EncoderLayer as EncoderLayerWeights } from '../weights.ts';
import { FrozenLinear } from './frozen-linear.ts';
import type { GradOptions } from './grad-mode.ts';

export function activation(x: tf.Tensor2D, act: HiddenAct): tf.Tensor2D {
  if (act === 'quick_gelu') return tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)));
  // 0.5 · x · (1 + erf(x / √2))
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
}

export class Mlp {
  private readonly fc1: FrozenLinear; // [L·N, D] → [L·N, I]
  private readonly fc2: FrozenLinear; // [L·N, I] → [L·N, D]

  constructor(
    w: EncoderLayerWeights,
    private readonly act: HiddenAct,
    opts: GradOptions = {},
  ) {
    this.fc1 = new FrozenLinear(w.fc1.weight, w.fc1.bias, opts);
    this.fc2 = new FrozenLinear(w.fc2.weight, w.fc2.bias, opts);
  }

  /** x [L·N, D] → [L·N, D] */
  apply(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => this.fc2.apply(activation(this.fc1.apply(x), this.act)));
  }

  dispose(): void {
    this.fc1.dispose();
    this.fc2.dispose();
  }
}
