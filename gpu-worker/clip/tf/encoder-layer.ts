// One pre-LN CLIP encoder layer on sequence-major activations x [L·N, D] (see attention.ts):
//   x = x + attn(LN1(x)),  x = x + mlp(LN2(x))
import * as tf from '@tensorflow/tfjs';
import type { HiddenAct } from '../config.ts';
import type { EncoderLayer as EncoderLayerWeights } from '../weights.ts';
import { SelfAttention } from './attention.ts';
import type { GradOptions } from './grad-mode.ts';
import { FrozenLayerNorm } from './layer-norm.ts';
import { Mlp } from './mlp.ts';

export interface EncoderLayerConfig {
  numAttentionHeads: number;
  hiddenAct: HiddenAct;
  layerNormEps: number;
}

export class TfEncoderLayer {
  private readonly ln1: FrozenLayerNorm;
  private readonly attn: SelfAttention;
  private readonly ln2: FrozenLayerNorm;
  private readonly mlp: Mlp;

  constructor(w: EncoderLayerWeights, cfg: EncoderLayerConfig, opts: GradOptions = {}) {
    this.ln1 = new FrozenLayerNorm(w.layerNorm1, cfg.layerNormEps, opts);
    this.attn = new SelfAttention(w, cfg.numAttentionHeads, opts);
    this.ln2 = new FrozenLayerNorm(w.layerNorm2, cfg.layerNormEps, opts);
    this.mlp = new Mlp(w, cfg.hiddenAct, opts);
  }

  /** x [L·N, D] → [L·N, D]; `mask` additive [L, 1, L] or null. */
  apply(x: tf.Tensor2D, l: number, n: number, mask: tf.Tensor3D | null): tf.Tensor2D {
    return tf.tidy(() => {
      const h = tf.add(x, this.attn.apply(this.ln1.apply(x), l, n, mask)) as tf.Tensor2D; // [L·N, D]
      return tf.add(h, this.mlp.apply(this.ln2.apply(h))) as tf.Tensor2D; // [L·N, D]
    });
  }

  dispose(): void {
    this.ln1.dispose();
    this.attn.dispose();
    this.ln2.dispose();
    this.mlp.dispose();
  }
}
