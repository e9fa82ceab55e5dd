// A frozen linear layer y = x·Wᵀ + b for x [M, in], with the gradient taken w.r.t. x only.
// Weights arrive in PyTorch layout W [out, in]. Two device copies are kept so that neither the
// forward nor the backward pass needs a matMul transpose flag (slow on wasm):
//   wT [in, out] for the forward  y  = x · wT + b
//   w  [out, in] for the backward dx = dy · w
import * as tf from '@tensorflow/tfjs';
import { transpose2d } from '../host-math.ts';
import type { HostTensor } from '../safetensors.ts';
import { customGrad1, type GradOptions } from './grad-mode.ts';

export class FrozenLinear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  private readonly wT: tf.Tensor2D; // [in, out]
  private readonly w: tf.Tensor2D | null; // [out, in]; null with built-in gradients
  private readonly b: tf.Tensor1D | null; // [out]
  private readonly fn: (x: tf.Tensor2D) => tf.Tensor2D;

  /**
   * `weight` is [out, in] (PyTorch layout) as a host tensor or a plain Float32Array with `shape`.
   * `scale` multiplies weight and bias (used to fold attention's head_dim^-0.5 into q).
   */
  constructor(
    weight: HostTensor,
    bias: HostTensor | null,
    opts: GradOptions & { scale?: number } = {},
  ) {
    if (weight.shape.length !== 2) throw new Error(`FrozenLinear: weight must be 2-D, got [${weight.shape}]`);
    const [out, inF] = weight.shape;
    if (bias && (bias.shape.length !== 1 || bias.shape[0] !== out)) {
      throw new Error(`FrozenLinear: bias shape [${bias.shape}] does not match weight [${weight.shape}]`);
    }
    this.inFeatures = inF;
    this.outFeatures = out;
    const scale = opts.scale ?? 1;
    let wData = weight.data;
    let bData = bias?.data ?? null;
    if (scale !== 1) {
      wData = wData.map((v) => v * scale);
      bData = bData ? bData.map((v) => v * scale) : null;
    }
    // Created outside any caller's tidy scope's reach: tf.keep makes them survive it.
    this.wT = tf.keep(tf.tensor2d(transpose2d(wData, out, inF), [inF, out]));
    this.b = bData ? tf.keep(tf.tensor1d(bData)) : null;
    if (opts.builtinGradients) {
      this.w = null;
      const wT = this.wT;
      const b = this.b;
      this.fn = (x) => (b ? tf.add(tf.matMul(x, wT), b) : tf.matMul(x, wT));
    } else {
      this.w = tf.keep(tf.tensor2d(wData, [out, inF]));
      const wT = this.wT;
      const w = this.w;
      const b = this.b;
      this.fn = customGrad1((x: tf.Tensor2D) => ({
        // [M, in] · [in, out] (+ [out]) → [M, out]
        value: tf.fused.matMul({ a: x, b: wT, bias: b ?? undefined }) as tf.Tensor2D,
        // dx [M, in] = dy [M, out] · w [out, in]
        gradFunc: (dy: tf.Tensor2D) => tf.matMul(dy, w),
      }));
    }
  }

  /** x [M, in] → [M, out] */
  apply(x: tf.Tensor2D): tf.Tensor2D {
    return this.fn(x);
  }

  /** x [N, L, in] → [N, L, out], via [N·L, in]. */
  apply3d(x: tf.Tensor3D): tf.Tensor3D {
    const [n, l] = x.shape;
    return tf.tidy(() => this.fn(tf.reshape(x, [n * l, this.inFeatures])).reshape([n, l, this.outFeatures]));
  }

  dispose(): void {
    this.wT.dispose();
    this.w?.dispose();
    this.b?.dispose();
  }
}
