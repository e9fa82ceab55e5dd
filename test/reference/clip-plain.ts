// An independent, plain, slow CLIP forward in Float64 (Hugging Face CLIPModel semantics:
// get_text_features / get_image_features). Straight loops over arrays, tensors looked up by their
// Hugging Face names. Test use only: it shares no code with the product (node built-ins only).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensorsPlain, type PlainTensor } from './safetensors-plain.ts';

export type PlainAct = 'quick_gelu' | 'gelu';

export interface PlainTowerConfig {
  hidden: number;
  inter: number;
  layers: number;
  heads: number;
  eps: number;
  act: PlainAct;
}

export interface PlainTextConfig extends PlainTowerConfig {
  vocab: number;
  maxPos: number;
}

export interface PlainVisionConfig extends PlainTowerConfig {
  channels: number;
  imageSize: number;
  patch: number;
}

export interface PlainConfig {
  text: PlainTextConfig;
  vision: PlainVisionConfig;
  projectionDim: number;
}

export interface PlainModel {
  config: PlainConfig;
  tensors: Map<string, PlainTensor>;
  /** id of `<|endoftext|>` (looked up by name in vocab.json), if known. */
  eotId?: number;
  /** id of `<|startoftext|>`, if known. */
  sotId?: number;
}

export const OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073];
export const OPENAI_STD = [0.26862954, 0.26130258, 0.27577711];

// ---------------------------------------------------------------------------------------------
// Config (CLIPTextConfig / CLIPVisionConfig / CLIPConfig defaults for missing keys)

type Json = Record<string, unknown>;

function obj(v: unknown): Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {};
}

function num(raw: Json, key: string, dflt: number): number {
  const v = raw[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`config: ${key} must be a number`);
  return v;
}

function act(raw: Json): PlainAct {
  const v = raw.hidden_act ?? 'quick_gelu';
  if (v !== 'quick_gelu' && v !== 'gelu') throw new Error(`config: unsupported hidden_act ${String(v)}`);
  return v;
}

/** config.json object → full config. `*_config_dict` (legacy) overrides `*_config`, as in transformers. */
export function plainConfig(raw: unknown): PlainConfig {
  const r = obj(raw);
  const t = { ...obj(r.text_config), ...obj(r.text_config_dict) };
  const v = { ...obj(r.vision_config), ...obj(r.vision_config_dict) };
  return {
    text: {
      vocab: num(t, 'vocab_size', 49408),
      hidden: num(t, 'hidden_size', 512),
      inter: num(t, 'intermediate_size', 2048),
      layers: num(t, 'num_hidden_layers', 12),
      heads: num(t, 'num_attention_heads', 8),
      maxPos: num(t, 'max_position_embeddings', 77),
      eps: num(t, 'layer_norm_eps', 1e-5),
      act: act(t),
    },
    vision: {
      hidden: num(v, 'hidden_size', 768),
      inter: num(v, 'intermediate_size', 3072),
      layers: num(v, 'num_hidden_layers', 12),
      heads: num(v, 'num_attention_heads', 12),
      channels: num(v, 'num_channels', 3),
      imageSize: num(v, 'image_size', 224),
      patch: num(v, 'patch_size', 32),
      eps: num(v, 'layer_norm_eps', 1e-5),
      act: act(v),
    },
    projectionDim: num(r, 'projection_dim', 512),
  };
}

function layerShapes(out: Map<string, number[]>, prefix: string, d: number, inter: number): void {
  for (const p of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
    out.set(`${prefix}.self_attn.${p}.weight`, [d, d]);
    out.set(`${prefix}.self_attn.${p}.bias`, [d]);
  }
  out.set(`${prefix}.layer_norm1.weight`, [d]);
  out.set(`${prefix}.layer_norm1.bias`, [d]);
  out.set(`${prefix}.mlp.fc1.weight`, [inter, d]);
  out.set(`${prefix}.mlp.fc1.bias`, [inter]);
  out.set(`${prefix}.mlp.fc2.weight`, [d, inter]);
  out.set(`${prefix}.mlp.fc2.bias`, [d]);
  out.set(`${prefix}.layer_norm2.weight`, [d]);
  out.set(`${prefix}.layer_norm2.bias`, [d]);
}

/** Number of vision positions: CLS + (S // p)^2 patches (floor, as the strided conv does). */
export function plainNumPositions(v: PlainVisionConfig): number {
  const g = Math.floor(v.imageSize / v.patch);
  return g * g + 1;
}

/** Every tensor the forward reads, with its expected shape (logit_scale: [] in HF, [1] accepted). */
export function plainExpectedShapes(cfg: PlainConfig): Map<string, number[]> {
  const t = cfg.text;
  const v = cfg.vision;
  const m = new Map<string, number[]>();
  m.set('text_model.embeddings.token_embedding.weight', [t.vocab, t.hidden]);
  m.set('text_model.embeddings.position_embedding.weight', [t.maxPos, t.hidden]);
  for (let i = 0; i < t.layers; i++) layerShapes(m, `text_model.encoder.layers.${i}`, t.hidden, t.inter);
  m.set('text_model.final_layer_norm.weight', [t.hidden]);
  m.set('text_model.final_layer_norm.bias', [t.hidden]);
  m.set('text_projection.weight', [cfg.projectionDim, t.hidden]);
  m.set('vision_model.embeddings.class_embedding', [v.hidden]);
  m.set('vision_model.embeddings.patch_embedding.weight', [v.hidden, v.channels, v.patch, v.patch]);
  m.set('vision_model.embeddings.position_embedding.weight', [plainNumPositions(v), v.hidden]);
  m.set('vision_model.pre_layrnorm.weight', [v.hidden]);
  m.set('vision_model.pre_layrnorm.bias', [v.hidden]);
  for (let i = 0; i < v.layers; i++) layerShapes(m, `vision_model.encoder.layers.${i}`, v.hidden, v.inter);
  m.set('vision_model.post_layernorm.weight', [v.hidden]);
  m.set('vision_model.post_layernorm.bias', [v.hidden]);
  m.set('visual_projection.weight', [cfg.projectionDim, v.hidden]);
  m.set('logit_scale', []);
  return m;
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Builds a model from a config.json object and decoded tensors; every shape is checked. */
export function makePlainModel(
  rawConfig: unknown,
  tensors: Map<string, PlainTensor>,
  ids: { eotId?: number; sotId?: number } = {},
): PlainModel {
  const config = plainConfig(rawConfig);
  for (const [name, shape] of plainExpectedShapes(config)) {
    const t = tensors.get(name);
    if (!t) throw new Error(`missing tensor ${name}`);
    const ok = sameShape(t.shape, shape) || (name === 'logit_scale' && sameShape(t.shape, [1]));
    if (!ok) throw new Error(`tensor ${name}: shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
  return { config, tensors, eotId: ids.eotId, sotId: ids.sotId };
}

/** Loads DIR/config.json, DIR/model.safetensors and (if present) the SOT/EOT ids from DIR/vocab.json. */
export function loadPlainModel(dir: string): PlainModel {
  const rawConfig = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const tensors = readSafetensorsPlain(join(dir, 'model.safetensors'));
  let eotId: number | undefined;
  let sotId: number | undefined;
  const vocabPath = join(dir, 'vocab.json');
  if (existsSync(vocabPath)) {
    const vocab = JSON.parse(readFileSync(vocabPath, 'utf8')) as Record<string, number>;
    eotId = vocab['<|endoftext|>'];
    sotId = vocab['<|startoftext|>'];
  }
  return makePlainModel(rawConfig, tensors, { eotId, sotId });
}

function tensor(model: PlainModel, name: string): Float64Array {
  const t = model.tensors.get(name);
  if (!t) throw new Error(`missing tensor ${name}`);
  return t.data;
}

export function plainLogitScale(model: PlainModel): number {
  return tensor(model, 'logit_scale')[0];
}

// ---------------------------------------------------------------------------------------------
// Elementary functions

/** erf by its Maclaurin series for |x| < 3 and the continued fraction of erfc beyond (≈1e-13). */
export function plainErf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    // erf(x) = 2/√π · Σ (-1)^n x^(2n+1) / (n! (2n+1))
    let term = ax; // x^(2n+1)/n! with sign
    let sum = ax;
    for (let n = 1; n < 200; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = e^(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …))))), evaluated bottom-up.
  let f = ax;
  for (let k = 60; k >= 1; k--) f = ax + k / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

/** quick_gelu(x) = x · sigmoid(1.702 x). */
export function plainQuickGelu(x: number): number {
  return x / (1 + Math.exp(-1.702 * x));
}

/** Exact (erf) GELU, HF "gelu". */
export function plainGelu(x: number): number {
  return 0.5 * x * (1 + plainErf(x / Math.SQRT2));
}

/** LayerNorm of one vector: (x - mean) / sqrt(var + eps) · γ + β, biased variance. */
export function plainLayerNorm(
  x: ArrayLike<number>,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  eps: number,
): Float64Array {
  const n = x.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i];
  mean /= n;
  let variance = 0;
  for (let i = 0; i < n; i++) variance += (x[i] - mean) * (x[i] - mean);
  variance /= n;
  const inv = 1 / Math.sqrt(variance + eps);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (x[i] - mean) * inv * gamma[i] + beta[i];
  return out;
}

// ---------------------------------------------------------------------------------------------
// Rows = Float64Array[] (one vector per sequence position)

function layerNormRows(rows: Float64Array[], model: PlainModel, prefix: string, eps: number): Float64Array[] {
  const g = tensor(model, `${prefix}.weight`);
  const b = tensor(model, `${prefix}.bias`);
  return rows.map((r) => plainLayerNorm(r, g, b, eps));
}

/** y = W x + b with W in PyTorch layout [out, in]. */
function linear(x: Float64Array, w: Float64Array, b: Float64Array | undefined, outDim: number): Float64Array {
  const inDim = x.length;
  const y = new Float64Array(outDim);
  for (let o = 0; o < outDim; o++) {
    let s = b ? b[o] : 0;
    const base = o * inDim;
    for (let i = 0; i < inDim; i++) s += w[base + i] * x[i];
    y[o] = s;
  }
  return y;
}

function linearRows(rows: Float64Array[], model: PlainModel, prefix: string, outDim: number): Float64Array[] {
  const w = tensor(model, `${prefix}.weight`);
  const b = tensor(model, `${prefix}.bias`);
  return rows.map((r) => linear(r, w, b, outDim));
}

/** One pre-LN CLIP encoder layer, in place on `h`. */
function encoderLayer(h: Float64Array[], model: PlainModel, prefix: string, cfg: PlainTowerConfig, causal: boolean): void {
  const D = cfg.hidden;
  const H = cfg.heads;
  const hd = D / H;
  const scale = 1 / Math.sqrt(hd);
  const L = h.length;

  const x = layerNormRows(h, model, `${prefix}.layer_norm1`, cfg.eps);
  const q = linearRows(x, model, `${prefix}.self_attn.q_proj`, D);
  const k = linearRows(x, model, `${prefix}.self_attn.k_proj`, D);
  const v = linearRows(x, model, `${prefix}.self_attn.v_proj`, D);
  const attn: Float64Array[] = [];
  for (let i = 0; i < L; i++) attn.push(new Float64Array(D));
  for (let head = 0; head < H; head++) {
    const off = head * hd;
    for (let i = 0; i < L; i++) {
      const last = causal ? i : L - 1; // causal: key j ≤ query i
      const scores = new Float64Array(last + 1);
      let max = -Infinity;
      for (let j = 0; j <= last; j++) {
        let s = 0;
        for (let e = 0; e < hd; e++) s += q[i][off + e] * k[j][off + e];
        scores[j] = s * scale;
        if (scores[j] > max) max = scores[j];
      }
      let sum = 0;
      for (let j = 0; j <= last; j++) {
        scores[j] = Math.exp(scores[j] - max);
        sum += scores[j];
      }
      for (let j = 0; j <= last; j++) {
        const p = scores[j] / sum;
        for (let e = 0; e < hd; e++) attn[i][off + e] += p * v[j][off + e];
      }
    }
  }
  const o = linearRows(attn, model, `${prefix}.self_attn.out_proj`, D);
  for (let i = 0; i < L; i++) for (let d = 0; d < D; d++) h[i][d] += o[i][d];

  const x2 = layerNormRows(h, model, `${prefix}.layer_norm2`, cfg.eps);
  const f = linearRows(x2, model, `${prefix}.mlp.fc1`, cfg.inter);
  const actFn = cfg.act === 'quick_gelu' ? plainQuickGelu : plainGelu;
  for (const r of f) for (let i = 0; i < r.length; i++) r[i] = actFn(r[i]);
  const g = linearRows(f, model, `${prefix}.mlp.fc2`, D);
  for (let i = 0; i < L; i++) for (let d = 0; d < D; d++) h[i][d] += g[i][d];
}

// ---------------------------------------------------------------------------------------------
// Text tower

/**
 * Text tower hidden states after final_layer_norm from input embeddings (HF `inputs_embeds`: token
 * embeddings, one row of width `hidden` per position, before the position embeddings are added).
 */
export function plainTextHiddenFromEmbeds(model: PlainModel, embeds: ArrayLike<number>[]): Float64Array[] {
  const cfg = model.config.text;
  const D = cfg.hidden;
  if (embeds.length === 0) throw new Error('empty token sequence');
  if (embeds.length > cfg.maxPos) throw new Error(`${embeds.length} tokens > max_position_embeddings ${cfg.maxPos}`);
  const pos = tensor(model, 'text_model.embeddings.position_embedding.weight');
  const h: Float64Array[] = embeds.map((e, l) => {
    if (e.length !== D) throw new Error(`input embedding ${l}: ${e.length} values, expected hidden_size ${D}`);
    const r = new Float64Array(D);
    for (let d = 0; d < D; d++) r[d] = e[d] + pos[l * D + d];
    return r;
  });
  for (let i = 0; i < cfg.layers; i++) encoderLayer(h, model, `text_model.encoder.layers.${i}`, cfg, true);
  return layerNormRows(h, model, 'text_model.final_layer_norm', cfg.eps);
}

/** Text tower hidden states after final_layer_norm, one row per position of `ids` (full length). */
export function plainTextHidden(model: PlainModel, ids: number[]): Float64Array[] {
  const cfg = model.config.text;
  const D = cfg.hidden;
  const tok = tensor(model, 'text_model.embeddings.token_embedding.weight');
  const embeds = ids.map((id) => {
    if (!Number.isInteger(id) || id < 0 || id >= cfg.vocab) throw new Error(`token id ${id} out of range`);
    return tok.subarray(id * D, (id + 1) * D);
  });
  return plainTextHiddenFromEmbeds(model, embeds);
}

/** Position pooled by HF: the first occurrence of the `<|endoftext|>` id (from vocab.json). */
export function plainEotIndex(model: PlainModel, ids: number[]): number {
  if (model.eotId === undefined) throw new Error('model has no <|endoftext|> id (vocab.json missing?)');
  const at = ids.indexOf(model.eotId);
  if (at < 0) throw new Error(`no <|endoftext|> (${model.eotId}) in the ids`);
  return at;
}

function textProjection(model: PlainModel, pooled: Float64Array): number[] {
  const w = tensor(model, 'text_projection.weight');
  return Array.from(linear(pooled, w, undefined, model.config.projectionDim));
}

/** HF get_text_features: text_projection(final_layer_norm(h)[eot]), un-normalised. */
export function plainTextFeatures(model: PlainModel, ids: number[]): number[] {
  const h = plainTextHidden(model, ids);
  return textProjection(model, h[plainEotIndex(model, ids)]);
}

/** get_text_features from input embeddings (see plainTextHiddenFromEmbeds), pooled at position `eot`. */
export function plainTextFeaturesFromEmbeds(model: PlainModel, embeds: ArrayLike<number>[], eot: number): number[] {
  if (!Number.isInteger(eot) || eot < 0 || eot >= embeds.length) {
    throw new Error(`EOT position ${eot} outside the ${embeds.length} input embeddings`);
  }
  return textProjection(model, plainTextHiddenFromEmbeds(model, embeds)[eot]);
}

// ---------------------------------------------------------------------------------------------
// Vision tower

/** Vision embeddings for one image `pixels` [C, S, S]: [CLS, patch_0 .. patch_{g²-1}] + positions. */
export function plainVisionEmbeddings(model: PlainModel, pixels: Float64Array): Float64Array[] {
  const cfg = model.config.vision;
  const W = cfg.hidden;
  const C = cfg.channels;
  const S = cfg.imageSize;
  const p = cfg.patch;
  if (pixels.length !== C * S * S) throw new Error(`pixels: ${pixels.length} values, expected ${C}×${S}×${S}`);
  const g = Math.floor(S / p);
  const conv = tensor(model, 'vision_model.embeddings.patch_embedding.weight'); // [W, C, p, p]
  const cls = tensor(model, 'vision_model.embeddings.class_embedding');
  const pos = tensor(model, 'vision_model.embeddings.position_embedding.weight');

  const h: Float64Array[] = [];
  const first = new Float64Array(W);
  for (let w = 0; w < W; w++) first[w] = cls[w] + pos[w];
  h.push(first);
  // Conv2d(kernel = stride = p, no bias), patches in row-major order (flatten(2) of [W, g, g]).
  for (let py = 0; py < g; py++) {
    for (let px = 0; px < g; px++) {
      const t = 1 + py * g + px;
      const r = new Float64Array(W);
      for (let w = 0; w < W; w++) {
        let s = 0;
        for (let c = 0; c < C; c++) {
          for (let i = 0; i < p; i++) {
            for (let j = 0; j < p; j++) {
              s += conv[((w * C + c) * p + i) * p + j] * pixels[(c * S + py * p + i) * S + px * p + j];
            }
          }
        }
        r[w] = s + pos[t * W + w];
      }
      h.push(r);
    }
  }
  return h;
}

/** HF get_image_features for one image `pixels` [C, S, S] (CHW, already normalised). */
export function plainImageFeatures(model: PlainModel, pixels: Float64Array): number[] {
  const cfg = model.config.vision;
  const h = plainVisionEmbeddings(model, pixels);
  const x = layerNormRows(h, model, 'vision_model.pre_layrnorm', cfg.eps);
  for (let i = 0; i < cfg.layers; i++) encoderLayer(x, model, `vision_model.encoder.layers.${i}`, cfg, false);
  const pooled = plainLayerNorm(
    x[0],
    tensor(model, 'vision_model.post_layernorm.weight'),
    tensor(model, 'vision_model.post_layernorm.bias'),
    cfg.eps,
  );
  return Array.from(linear(pooled, tensor(model, 'visual_projection.weight'), undefined, model.config.projectionDim));
}

/** HWC uint8 RGB of an image already S×S → CHW Float64 ((v/255 - mean) / std); no resampling. */
export function plainPreprocessSquare(
  rgb: Uint8Array,
  S: number,
  mean: number[] = OPENAI_MEAN,
  std: number[] = OPENAI_STD,
): Float64Array {
  if (rgb.length !== S * S * 3) throw new Error(`rgb: ${rgb.length} bytes, expected ${S}×${S}×3`);
  const out = new Float64Array(3 * S * S);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      for (let c = 0; c < 3; c++) {
        out[(c * S + y) * S + x] = (rgb[(y * S + x) * 3 + c] / 255 - mean[c]) / std[c];
      }
    }
  }
  return out;
}

/** exp(logit_scale) · cos(text, image). */
export function plainLogit(model: PlainModel, textEmbed: number[], imageEmbed: number[]): number {
  let dot = 0;
  let nt = 0;
  let ni = 0;
  for (let i = 0; i < textEmbed.length; i++) {
    dot += textEmbed[i] * imageEmbed[i];
    nt += textEmbed[i] * textEmbed[i];
    ni += imageEmbed[i] * imageEmbed[i];
  }
  return Math.exp(plainLogitScale(model)) * (dot / Math.sqrt(nt * ni));
}
