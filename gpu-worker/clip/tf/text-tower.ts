// CLIP text tower (Hugging Face CLIPTextModel + text_projection) on TF.js, frozen, differentiable
// w.r.t. its input embeddings (for learned prompt context vectors).
//
// Runs on whatever length L it is given: callers pass L = max(eot) + 1 (the causal mask makes later
// positions irrelevant to the EOT outputs), not 77. Inside, activations are sequence-major
// [L, N, D] (see attention.ts); the public API is batch-major [N, L, D].
import * as tf from '@tensorflow/tfjs';
import { causalMask, MASKED_LARGE } from '../causal-mask.ts';
import type { TextConfig } from '../config.ts';
import type { TextWeights } from '../weights.ts';
import { TfEncoderLayer } from './encoder-layer.ts';
import { FrozenLinear } from './frozen-linear.ts';
import type { GradOptions } from './grad-mode.ts';
import { FrozenLayerNorm } from './layer-norm.ts';

export class TfTextTower {
  readonly cfg: TextConfig;
  readonly projectionDim: number; // P
  private readonly tokenEmbedding: { shape: number[]; data: Float32Array }; // host [V, D]
  private readonly positionEmbedding: tf.Tensor2D; // [maxPositions, D]
  private readonly layers: TfEncoderLayer[];
  private readonly finalLayerNorm: FrozenLayerNorm;
  private readonly projection: FrozenLinear; // [N, D] → [N, P], no bias
  private readonly masks = new Map<number, tf.Tensor3D>(); // L → [L, 1, L]
  private disposed = false;

  constructor(weights: TextWeights, cfg: TextConfig, opts: GradOptions = {}) {
    const d = cfg.hiddenSize;
    if (weights.tokenEmbedding.shape[1] !== d || weights.positionEmbedding.shape[1] !== d) {
      throw new Error(`TfTextTower: embedding width does not match hidden_size ${d}`);
    }
    if (weights.layers.length !== cfg.numHiddenLayers) {
      throw new Error(`TfTextTower: ${weights.layers.length} layers in weights, config says ${cfg.numHiddenLayers}`);
    }
    this.cfg = cfg;
    this.projectionDim = weights.projection.shape[0];
    // Token embeddings stay on the host: lookups are row copies, and [V, D] is large (≈ 100 MB).
    this.tokenEmbedding = weights.tokenEmbedding;
    this.positionEmbedding = tf.keep(tf.tensor2d(weights.positionEmbedding.data, weights.positionEmbedding.shape as [number, number]));
    this.layers = weights.layers.map((w) => new TfEncoderLayer(w, cfg, opts));
    this.finalLayerNorm = new FrozenLayerNorm(weights.finalLayerNorm, cfg.layerNormEps, opts);
    this.projection = new FrozenLinear(weights.projection, null, opts);
  }

  /** Additive causal mask [L, 1, L] (query, ·, key): 0 where key j ≤ query i, masked elsewhere. Built once per L. */
  private causalMask(l: number): tf.Tensor3D {
    let m = this.masks.get(l);
    if (!m) {
      m = tf.keep(tf.tensor3d(causalMask(l, MASKED_LARGE), [l, 1, l]));
      this.masks.set(l, m);
    }
    return m;
  }

  /**
   * Token embeddings for id rows (each [SOT] … [EOT] …). Every row is cut or padded (with eotId)
   * to L = max(eot) + 1, where eot[n] is the first position of `eotId` in row n.
   * Returns embeds [N, L, D] and eot [N].
   */
  tokenEmbeddings(ids: number[][], eotId: number): { embeds: tf.Tensor3D; eot: number[] } {
    const d = this.cfg.hiddenSize;
    const vocab = this.tokenEmbedding.shape[0];
    const eot = ids.map((row, n) => {
      const i = row.indexOf(eotId);
      if (i < 0) throw new Error(`tokenEmbeddings: row ${n} has no end-of-text token (${eotId})`);
      return i;
    });
    if (ids.length === 0) throw new Error('tokenEmbeddings: no rows');
    const l = Math.max(...eot) + 1;
    if (l > this.cfg.maxPositionEmbeddings) {
      throw new Error(`tokenEmbeddings: sequence length ${l} exceeds ${this.cfg.maxPositionEmbeddings} positions`);
    }
    const data = new Float32Array(ids.length * l * d);
    const table = this.tokenEmbedding.data;
    ids.forEach((row, n) => {
      for (let t = 0; t < l; t++) {
        const id = t < row.length ? row[t] : eotId;
        if (!Number.isInteger(id) || id < 0 || id >= vocab) {
          throw new Error(`tokenEmbeddings: token id ${id} (row ${n}, position ${t}) out of range [0, ${vocab})`);
        }
        data.set(table.subarray(id * d, (id + 1) * d), (n * l + t) * d);
      }
    });
    return { embeds: tf.tensor3d(data, [ids.length, l, d]), eot };
  }

  /**
   * inputsEmbeds [N, L, D] (token embeddings, positions not yet added), eotIndex [N] (< L)
   * → text features [N, P] (projected, not normalised). Differentiable w.r.t. inputsEmbeds.
   */
  forward(inputsEmbeds: tf.Tensor3D, eotIndex: number[] | Int32Array): tf.Tensor2D {
    if (this.disposed) throw new Error('TfTextTower: used after dispose()');
    const [n, l, d] = inputsEmbeds.shape;
    if (d !== this.cfg.hiddenSize) throw new Error(`TfTextTower: input width ${d}, expected ${this.cfg.hiddenSize}`);
    if (l > this.cfg.maxPositionEmbeddings) {
      throw new Error(`TfTextTower: length ${l} exceeds ${this.cfg.maxPositionEmbeddings} positions`);
    }
    if (eotIndex.length !== n) throw new Error(`TfTextTower: ${eotIndex.length} EOT indices for ${n} sequences`);
    // One-hot EOT selector [L, N, 1] (tf.gather's gradient has no kernel on wasm).
    const sel = new Float32Array(l * n);
    for (let i = 0; i < n; i++) {
      const e = eotIndex[i];
      if (!Number.isInteger(e) || e < 0 || e >= l) throw new Error(`TfTextTower: EOT index ${e} outside [0, ${l})`);
      sel[e * n + i] = 1;
    }
    const mask = this.causalMask(l); // [L, 1, L]
    return tf.tidy(() => {
      const pos = tf.reshape(tf.slice(this.positionEmbedding, [0, 0], [l, d]), [l, 1, d]); // [L, 1, D]
      const h = tf.add(tf.transpose(inputsEmbeds, [1, 0, 2]), pos); // [L, N, D]
      let x = tf.reshape(h, [l * n, d]) as tf.Tensor2D; // [L·N, D]
      for (const layer of this.layers) x = layer.apply(x, l, n, mask); // [L·N, D]
      x = this.finalLayerNorm.apply(x); // [L·N, D]
      const onehot = tf.tensor3d(sel, [l, n, 1]);
      const pooled = tf.sum(tf.mul(tf.reshape(x, [l, n, d]), onehot), 0) as tf.Tensor2D; // [N, D]
      return this.projection.apply(pooled); // [N, P]
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.positionEmbedding.dispose();
    for (const layer of this.layers) layer.dispose();
    this.finalLayerNorm.dispose();
    this.projection.dispose();
    for (const m of this.masks.values()) m.dispose();
    this.masks.clear();
  }
}
