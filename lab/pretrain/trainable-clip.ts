// A CLIP (Hugging Face CLIPModel semantics, docs/model.md) whose every weight is a trainable tf.Variable, for
// contrastive pretraining from scratch on TF.js. Parameter names are the HF checkpoint names; the
// only layout difference is that linear weights live as W [in, out] (PyTorch stores [out, in]) and
// the patch embedding as [3·p·p, width] (PyTorch: [width, 3, p, p]), converted in from/toHfTensors.
//
// Activations are sequence-major [L·N, D] (row = position·N + sequence) like the frozen towers, so
// attention runs as grouped matMuls (clip/tf/grouped-matmul.ts) without transpose flags.
import * as tf from '@tensorflow/tfjs';
import { causalMask, MASKED_LARGE } from '../../gpu-worker/clip/causal-mask.ts';
import type { ClipConfig } from '../../gpu-worker/clip/config.ts';
import type { HostTensor } from '../../gpu-worker/clip/safetensors.ts';
import { groupedMatMul } from '../../gpu-worker/clip/tf/grouped-matmul.ts';
import { clipTensorSpecs } from '../../gpu-worker/clip/weights.ts';
import { linear, makeLayerNorm, quickGelu } from './trainable-ops.ts';

/** CLIP clamps the learned temperature so that exp(logit_scale) ≤ 100. */
export const MAX_LOGIT_SCALE = Math.log(100);

/** A tokenized text batch: ids [N, L] batch-major (positions after EOT are ignored), eot [N]. */
export interface TextBatch {
  ids: Int32Array;
  n: number;
  l: number;
  eot: number[];
}

/** Image batch as patches, sequence-major: [P·N, 3·p·p], row = patch·N + image; features in (c, ky, kx) order. */
export interface PatchBatch {
  patches: Float32Array;
  n: number;
}

function isLinearWeight(name: string): boolean {
  return /(q_proj|k_proj|v_proj|out_proj|fc1|fc2)\.weight$/.test(name) || name === 'text_projection.weight' || name === 'visual_projection.weight';
}

/** [rows, cols] → [cols, rows] on the host. */
function hostTranspose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

/**
 * Pixels [N, 3, S, S] (CHW per image, normalised) → patches [P·N, 3·p·p] sequence-major, each patch
 * flattened as (channel, ky, kx): the same order as a PyTorch conv weight [width, 3, p, p] flattened.
 */
export function patchify(pixels: Float32Array, n: number, imageSize: number, patch: number): Float32Array {
  const g = imageSize / patch;
  const p = g * g;
  const k = 3 * patch * patch;
  const out = new Float32Array(p * n * k);
  const plane = imageSize * imageSize;
  for (let img = 0; img < n; img++) {
    const base = img * 3 * plane;
    for (let gy = 0; gy < g; gy++) {
      for (let gx = 0; gx < g; gx++) {
        let o = ((gy * g + gx) * n + img) * k;
        for (let c = 0; c < 3; c++) {
          for (let ky = 0; ky < patch; ky++) {
            const row = base + c * plane + (gy * patch + ky) * imageSize + gx * patch;
            for (let kx = 0; kx < patch; kx++) out[o++] = pixels[row + kx];
          }
        }
      }
    }
  }
  return out;
}

export class TrainableClip {
  readonly cfg: ClipConfig;
  readonly vars = new Map<string, tf.Variable>();
  private readonly textLn: ReturnType<typeof makeLayerNorm>;
  private readonly visionLn: ReturnType<typeof makeLayerNorm>;
  private readonly masks = new Map<number, tf.Tensor3D>();

  /** `tensors`: a complete HF CLIP checkpoint for `cfg` (e.g. randomClipTensors(cfg, seed)). */
  constructor(cfg: ClipConfig, tensors: Map<string, HostTensor>) {
    if (cfg.text.hiddenAct !== 'quick_gelu' || cfg.vision.hiddenAct !== 'quick_gelu') {
      throw new Error('TrainableClip: only quick_gelu is implemented');
    }
    this.cfg = cfg;
    this.textLn = makeLayerNorm(cfg.text.layerNormEps);
    this.visionLn = makeLayerNorm(cfg.vision.layerNormEps);
    for (const spec of clipTensorSpecs(cfg)) {
      const t = tensors.get(spec.name);
      if (!t) throw new Error(`TrainableClip: missing tensor ${spec.name}`);
      let data = t.data;
      let shape = spec.shape;
      if (isLinearWeight(spec.name)) {
        data = hostTranspose(t.data, spec.shape[0], spec.shape[1]);
        shape = [spec.shape[1], spec.shape[0]];
      } else if (spec.name === 'vision_model.embeddings.patch_embedding.weight') {
        const [width, c, p] = spec.shape;
        data = hostTranspose(t.data, width, c * p * p);
        shape = [c * p * p, width];
      } else if (spec.name === 'logit_scale') {
        shape = [1];
      }
      this.vars.set(spec.name, tf.variable(tf.tensor(data, shape), true, spec.name));
    }
  }

  /** The weights in HF layout and naming, ready for writeSafetensors. */
  async toHfTensors(): Promise<Map<string, HostTensor>> {
    const out = new Map<string, HostTensor>();
    for (const spec of clipTensorSpecs(this.cfg)) {
      const v = this.vars.get(spec.name)!;
      let data = (await v.data()) as Float32Array;
      if (isLinearWeight(spec.name) || spec.name === 'vision_model.embeddings.patch_embedding.weight') {
        data = hostTranspose(data, v.shape[0] as number, v.shape[1] as number);
      }
      out.set(spec.name, { shape: spec.shape, data: new Float32Array(data) });
    }
    return out;
  }

  trainableVariables(): tf.Variable[] {
    return [...this.vars.values()];
  }

  private v<T extends tf.Tensor>(name: string): T {
    const t = this.vars.get(name);
    if (!t) throw new Error(`TrainableClip: no parameter ${name}`);
    return t as unknown as T;
  }

  private causalMask(l: number): tf.Tensor3D {
    let m = this.masks.get(l);
    if (!m) {
      m = tf.keep(tf.tensor3d(causalMask(l, MASKED_LARGE), [l, 1, l]));
      this.masks.set(l, m);
    }
    return m;
  }

  /** One pre-LN encoder layer: x [L·N, D] → [L·N, D]. */
  private layer(prefix: string, x: tf.Tensor2D, l: number, n: number, heads: number, mask: tf.Tensor3D | null, ln: ReturnType<typeof makeLayerNorm>): tf.Tensor2D {
    const d = x.shape[1];
    const hd = d / heads;
    const g = n * heads;
    const lin = (name: string, input: tf.Tensor2D) =>
      linear(input, this.v(`${prefix}.${name}.weight`), this.v<tf.Tensor1D>(`${prefix}.${name}.bias`));
    const h1 = ln(x, this.v(`${prefix}.layer_norm1.weight`), this.v(`${prefix}.layer_norm1.bias`));
    const q = tf.reshape(tf.mul(lin('self_attn.q_proj', h1), hd ** -0.5), [l, g, hd]); // [Lq, G, hd]
    const k = tf.reshape(lin('self_attn.k_proj', h1), [l, g, hd]); // [Lk, G, hd]
    const v = tf.reshape(lin('self_attn.v_proj', h1), [l, g, hd]) as tf.Tensor3D; // [Lk, G, hd]
    let scores = groupedMatMul(tf.transpose(q, [0, 2, 1]) as tf.Tensor3D, tf.transpose(k, [2, 1, 0]) as tf.Tensor3D); // [Lq, G, Lk]
    if (mask) scores = tf.add(scores, mask);
    const probs = tf.softmax(scores, -1);
    const ctx = groupedMatMul(tf.transpose(probs, [0, 2, 1]) as tf.Tensor3D, v); // [Lq, G, hd]
    const attn = lin('self_attn.out_proj', tf.reshape(ctx, [l * n, d]));
    const h = tf.add(x, attn) as tf.Tensor2D;
    const h2 = ln(h, this.v(`${prefix}.layer_norm2.weight`), this.v(`${prefix}.layer_norm2.bias`));
    const mlp = lin('mlp.fc2', quickGelu(lin('mlp.fc1', h2)));
    return tf.add(h, mlp) as tf.Tensor2D;
  }

  /** Text features (projected, not normalised): [N, P]. Runs on L = max(eot)+1 positions. */
  encodeText(batch: TextBatch): tf.Tensor2D {
    const c = this.cfg.text;
    const l = Math.max(...batch.eot) + 1;
    const n = batch.n;
    if (l > batch.l || l > c.maxPositionEmbeddings) throw new Error(`encodeText: EOT index beyond the sequence`);
    const seqMajor = new Int32Array(l * n);
    const sel = new Float32Array(l * n);
    for (let i = 0; i < n; i++) {
      for (let p = 0; p < l; p++) seqMajor[p * n + i] = batch.ids[i * batch.l + p];
      sel[batch.eot[i] * n + i] = 1;
    }
    const oneHot = tf.oneHot(tf.tensor1d(seqMajor, 'int32'), c.vocabSize).toFloat() as tf.Tensor2D; // [L·N, V]
    let x = linear(oneHot, this.v('text_model.embeddings.token_embedding.weight'), null); // [L·N, D]
    const pos = tf.slice(this.v<tf.Tensor2D>('text_model.embeddings.position_embedding.weight'), [0, 0], [l, c.hiddenSize]);
    x = tf.reshape(tf.add(tf.reshape(x, [l, n, c.hiddenSize]), tf.reshape(pos, [l, 1, c.hiddenSize])), [l * n, c.hiddenSize]);
    const mask = this.causalMask(l);
    for (let i = 0; i < c.numHiddenLayers; i++) x = this.layer(`text_model.encoder.layers.${i}`, x, l, n, c.numAttentionHeads, mask, this.textLn);
    // EOT row of each sequence by a one-hot multiply-and-sum (gather has no gradient kernel on wasm).
    const pooled = tf.sum(tf.mul(tf.reshape(x, [l, n, c.hiddenSize]), tf.tensor3d(sel, [l, n, 1])), 0) as tf.Tensor2D; // [N, D]
    const normed = this.textLn(pooled, this.v('text_model.final_layer_norm.weight'), this.v('text_model.final_layer_norm.bias'));
    return linear(normed, this.v('text_projection.weight'), null); // [N, P]
  }

  /** Image features (projected, not normalised): [N, P]. */
  encodeImages(batch: PatchBatch): tf.Tensor2D {
    const c = this.cfg.vision;
    const n = batch.n;
    const p = (c.imageSize / c.patchSize) ** 2;
    const l = p + 1;
    const k = 3 * c.patchSize * c.patchSize;
    const d = c.hiddenSize;
    const patches = tf.tensor2d(batch.patches, [p * n, k]);
    const emb = linear(patches, this.v('vision_model.embeddings.patch_embedding.weight'), null); // [P·N, D]
    const cls = tf.mul(tf.ones([n, 1]), tf.reshape(this.v('vision_model.embeddings.class_embedding'), [1, d])) as tf.Tensor2D; // [N, D]
    let x = tf.concat([cls, emb], 0) as tf.Tensor2D; // [L·N, D]
    const pos = this.v<tf.Tensor2D>('vision_model.embeddings.position_embedding.weight'); // [L, D]
    x = tf.reshape(tf.add(tf.reshape(x, [l, n, d]), tf.reshape(pos, [l, 1, d])), [l * n, d]);
    x = this.visionLn(x, this.v('vision_model.pre_layrnorm.weight'), this.v('vision_model.pre_layrnorm.bias'));
    for (let i = 0; i < c.numHiddenLayers; i++) x = this.layer(`vision_model.encoder.layers.${i}`, x, l, n, c.numAttentionHeads, null, this.visionLn);
    const clsOut = tf.slice(x, [0, 0], [n, d]); // [N, D]
    const normed = this.visionLn(clsOut, this.v('vision_model.post_layernorm.weight'), this.v('vision_model.post_layernorm.bias'));
    return linear(normed, this.v('visual_projection.weight'), null); // [N, P]
  }

  /** The learned log-temperature (a [1] variable). */
  logitScale(): tf.Tensor1D {
    return this.v('logit_scale');
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    for (const m of this.masks.values()) m.dispose();
    this.vars.clear();
    this.masks.clear();
  }
}

/** Rows scaled to unit L2 norm: x [N, P] → [N, P]. */
export function l2Normalize(x: tf.Tensor2D): tf.Tensor2D {
  return tf.div(x, tf.sqrt(tf.add(tf.sum(tf.square(x), -1, true), 1e-12))) as tf.Tensor2D;
}

/**
 * CLIP's symmetric contrastive loss for N matched (image, text) pairs: the i-th image belongs with
 * the i-th text. logits = exp(s)·Î·T̂ᵀ; loss = (CE(rows) + CE(columns)) / 2.
 */
export function contrastiveLoss(imageFeats: tf.Tensor2D, textFeats: tf.Tensor2D, logitScale: tf.Tensor1D): tf.Scalar {
  const n = imageFeats.shape[0];
  const img = l2Normalize(imageFeats);
  const txt = l2Normalize(textFeats);
  const logits = tf.mul(tf.matMul(img, tf.transpose(txt)), tf.exp(logitScale)) as tf.Tensor2D; // [N, N]
  const eye = tf.eye(n);
  const rowLoss = tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits, -1), eye), -1)));
  const colLoss = tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(tf.transpose(logits), -1), eye), -1)));
  return tf.div(tf.add(rowLoss, colLoss), 2) as tf.Scalar;
}
