// CLIP vision tower (Hugging Face CLIPVisionModel + visual_projection) on TF.js, frozen.
// The patch conv (kernel = stride = p, no bias) is patch extraction + one matMul. Activations are
// sequence-major [T, N, W] inside (see attention.ts).
import * as tf from '@tensorflow/tfjs';
import type { VisionConfig } from '../config.ts';
import type { VisionWeights } from '../weights.ts';
import { TfEncoderLayer } from './encoder-layer.ts';
import { FrozenLinear } from './frozen-linear.ts';
import type { GradOptions } from './grad-mode.ts';
import { FrozenLayerNorm } from './layer-norm.ts';

export class TfVisionTower {
  readonly cfg: VisionConfig;
  readonly projectionDim: number; // P
  readonly numPatches: number; // G² with G = S / p
  private readonly patchEmbedding: FrozenLinear; // [N·G², C·p·p] → [N·G², W], no bias
  private readonly classEmbedding: tf.Tensor3D; // [1, 1, W]
  private readonly positionEmbedding: tf.Tensor3D; // [1 + G², 1, W]
  private readonly preLayerNorm: FrozenLayerNorm;
  private readonly layers: TfEncoderLayer[];
  private readonly postLayerNorm: FrozenLayerNorm;
  private readonly projection: FrozenLinear; // [N, W] → [N, P], no bias
  private disposed = false;

  constructor(weights: VisionWeights, cfg: VisionConfig, opts: GradOptions = {}) {
    const { hiddenSize: w, numChannels: c, patchSize: p, imageSize: s } = cfg;
    const g = s / p;
    if (!Number.isInteger(g)) throw new Error(`TfVisionTower: image size ${s} is not a multiple of patch ${p}`);
    const pe = weights.patchEmbedding;
    if (pe.shape.join() !== [w, c, p, p].join()) {
      throw new Error(`TfVisionTower: patch embedding [${pe.shape}], expected [${[w, c, p, p]}]`);
    }
    if (weights.positionEmbedding.shape.join() !== [1 + g * g, w].join()) {
      throw new Error(`TfVisionTower: position embedding [${weights.positionEmbedding.shape}], expected [${[1 + g * g, w]}]`);
    }
    if (weights.layers.length !== cfg.numHiddenLayers) {
      throw new Error(`TfVisionTower: ${weights.layers.length} layers in weights, config says ${cfg.numHiddenLayers}`);
    }
    this.cfg = cfg;
    this.numPatches = g * g;
    this.projectionDim = weights.projection.shape[0];
    // Conv weight [W, C, p, p] is a linear weight [W, C·p·p] on patches flattened in (c, i, j) order.
    this.patchEmbedding = new FrozenLinear({ shape: [w, c * p * p], data: pe.data }, null, opts);
    this.classEmbedding = tf.keep(tf.tensor3d(weights.classEmbedding.data, [1, 1, w]));
    this.positionEmbedding = tf.keep(tf.tensor3d(weights.positionEmbedding.data, [1 + g * g, 1, w]));
    this.preLayerNorm = new FrozenLayerNorm(weights.preLayerNorm, cfg.layerNormEps, opts);
    this.layers = weights.layers.map((lw) => new TfEncoderLayer(lw, cfg, opts));
    this.postLayerNorm = new FrozenLayerNorm(weights.postLayerNorm, cfg.layerNormEps, opts);
    this.projection = new FrozenLinear(weights.projection, null, opts);
  }

  /** pixelValues [N, C, S, S] (normalised) → image features [N, P] (projected, not normalised). */
  forward(pixelValues: tf.Tensor4D): tf.Tensor2D {
    if (this.disposed) throw new Error('TfVisionTower: used after dispose()');
    const { hiddenSize: w, numChannels: c, patchSize: p, imageSize: s } = this.cfg;
    const [n, c2, h, wi] = pixelValues.shape;
    if (c2 !== c || h !== s || wi !== s) {
      throw new Error(`TfVisionTower: pixel values [${pixelValues.shape}], expected [N, ${c}, ${s}, ${s}]`);
    }
    const g = s / p;
    const t = 1 + g * g; // tokens
    return tf.tidy(() => {
      // Patches in (c, i, j) order, sequence-major, with 4-D transposes only (higher ranks are slow on wasm):
      // [N·C·G, p, G, p] → [N·C·G, G, p, p] = [N, C, G², p·p] → [G², N, C, p·p] → [G²·N, C·p·p]
      const rows = tf.transpose(tf.reshape(pixelValues, [n * c * g, p, g, p]), [0, 2, 1, 3]);
      const patches = tf.reshape(tf.transpose(tf.reshape(rows, [n, c, g * g, p * p]), [2, 0, 1, 3]), [g * g * n, c * p * p]);
      const emb = tf.reshape(this.patchEmbedding.apply(patches as tf.Tensor2D), [g * g, n, w]); // [G², N, W]
      const cls = tf.tile(this.classEmbedding, [1, n, 1]); // [1, N, W]
      const tokens = tf.add(tf.concat([cls, emb], 0), this.positionEmbedding); // [T, N, W]
      let x = this.preLayerNorm.apply(tf.reshape(tokens, [t * n, w]) as tf.Tensor2D); // [T·N, W]
      for (const layer of this.layers) x = layer.apply(x, t, n, null); // [T·N, W]
      const clsOut = tf.slice(x, [0, 0], [n, w]); // [N, W]: token 0 of every image
      return this.projection.apply(this.postLayerNorm.apply(clsOut)); // [N, P]
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.patchEmbedding.dispose();
    this.classEmbedding.dispose();
    this.positionEmbedding.dispose();
    this.preLayerNorm.dispose();
    for (const layer of this.layers) layer.dispose();
    this.postLayerNorm.dispose();
    this.projection.dispose();
  }
}
