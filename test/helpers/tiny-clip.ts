// A tiny random CLIP for the tower tests, in two independent forms built from the same tensors:
// the product's typed weights (config parsed by the product, tensors checked by clipWeightsFromTensors)
// and the plain Float64 reference model of test/reference/clip-plain.ts (config.json read by the
// reference's own parser, a Float64 copy of the tensors). Weights come from the product's
// randomClipTensors: that is test data, not code under test.
import { parseClipConfig, type ClipConfig, type HiddenAct } from '../../gpu-worker/clip/config.ts';
import { randomClipTensors } from '../../gpu-worker/clip/random-weights.ts';
import type { HostTensor } from '../../gpu-worker/clip/safetensors.ts';
import { clipWeightsFromTensors, type ClipWeights } from '../../gpu-worker/clip/weights.ts';
import { makePlainModel, type PlainModel } from '../reference/clip-plain.ts';
import type { PlainTensor } from '../reference/safetensors-plain.ts';
import { randomInt, type SeededRandom } from './random.ts';

/** Token ids of the tiny text tower: vocab 0..99, the last two are the special tokens. */
export const TINY_VOCAB = 100;
export const TINY_SOT = 98;
export const TINY_EOT = 99;
/** projection_dim of the tiny model. */
export const TINY_P = 16;

export interface TinyClipOptions {
  /** hidden_act of both towers (default quick_gelu). */
  act?: HiddenAct;
  /** Overrides of vision_config keys (Hugging Face names), e.g. { patch_size: 4, num_channels: 2 }. */
  vision?: Record<string, number>;
  /** Overrides of text_config keys (Hugging Face names), e.g. the small preset's { hidden_size: 128, … }. */
  text?: Record<string, number>;
  /** projection_dim (default TINY_P). */
  projectionDim?: number;
}

/** text_config overrides with the text shapes of the `small` preset (gpu-worker/clip/presets.ts). */
export const SMALL_TEXT = { hidden_size: 128, intermediate_size: 512, num_hidden_layers: 4, num_attention_heads: 4 };

/**
 * config.json of the tiny model: text D=32, I=64, 2 layers, 4 heads, 77 positions; vision W=32,
 * I=64, 2 layers, 4 heads, 3 channels, 16×16 images in 8×8 patches; P=16. Every key is spelled out,
 * so no default of either parser matters.
 */
export function tinyClipJson(opts: TinyClipOptions = {}): Record<string, unknown> {
  const act = opts.act ?? 'quick_gelu';
  return {
    projection_dim: opts.projectionDim ?? TINY_P,
    logit_scale_init_value: 2.6592,
    text_config: {
      vocab_size: TINY_VOCAB,
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      max_position_embeddings: 77,
      hidden_act: act,
      layer_norm_eps: 1e-5,
      ...opts.text,
    },
    vision_config: {
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_channels: 3,
      image_size: 16,
      patch_size: 8,
      hidden_act: act,
      layer_norm_eps: 1e-5,
      ...opts.vision,
    },
  };
}

/** Float64 copies of HF-named float32 tensors, as the reference reads them from a checkpoint. */
export function toPlainTensors(tensors: Map<string, HostTensor>): Map<string, PlainTensor> {
  const out = new Map<string, PlainTensor>();
  for (const [name, t] of tensors) out.set(name, { dtype: 'F32', shape: [...t.shape], data: Float64Array.from(t.data) });
  return out;
}

export interface TinyClip {
  /** config.json object. */
  json: Record<string, unknown>;
  /** The product's parse of `json`. */
  config: ClipConfig;
  /** Random float32 tensors in Hugging Face naming. */
  tensors: Map<string, HostTensor>;
  /** The product's typed view of `tensors`. */
  weights: ClipWeights;
  /** The reference model over a Float64 copy of `tensors` (EOT/SOT ids TINY_EOT/TINY_SOT). */
  plain: PlainModel;
}

export function tinyClip(seed: number, opts: TinyClipOptions = {}): TinyClip {
  const json = tinyClipJson(opts);
  const config = parseClipConfig(json, 'tiny/config.json');
  const tensors = randomClipTensors(config, seed);
  const weights = clipWeightsFromTensors(tensors, config, 'tiny/model.safetensors');
  const plain = makePlainModel(json, toPlainTensors(tensors), { eotId: TINY_EOT, sotId: TINY_SOT });
  return { json, config, tensors, weights, plain };
}

/** Token rows [SOT, body…, EOT] with body lengths `lens`, body ids random below TINY_SOT. */
export function randomPrompts(rng: SeededRandom, lens: number[]): number[][] {
  return lens.map((k) => [TINY_SOT, ...Array.from({ length: k }, () => randomInt(rng, TINY_SOT)), TINY_EOT]);
}

/**
 * Input embeddings [n, len, D] (flat): the table rows of each prompt's ids, then rows of random ids
 * (junk the causal mask must hide) up to `len`.
 */
export function embedWithJunk(table: HostTensor, prompts: number[][], len: number, rng: SeededRandom): Float32Array {
  const [vocab, d] = table.shape;
  const out = new Float32Array(prompts.length * len * d);
  prompts.forEach((row, n) => {
    for (let i = 0; i < len; i++) {
      const id = i < row.length ? row[i] : randomInt(rng, vocab);
      out.set(table.data.subarray(id * d, (id + 1) * d), (n * len + i) * d);
    }
  });
  return out;
}

/** Rows of a flat [n, len, d] batch, one array of `len` vectors per item. */
export function batchRows(flat: ArrayLike<number>, n: number, len: number, d: number): Float64Array[][] {
  return Array.from({ length: n }, (_, b) =>
    Array.from({ length: len }, (_, t) => Float64Array.from({ length: d }, (_, c) => flat[(b * len + t) * d + c])),
  );
}
