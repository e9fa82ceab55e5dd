// A tiny random model of the plain Float64 CLIP reference (test/reference/clip-plain.ts) for the reference's
// self-checks (test/reference/clip-plain*.test.ts): its config, special token ids and seeded random tensors.
import { makePlainModel, plainConfig, plainExpectedShapes, type PlainModel } from '../reference/clip-plain.ts';
import type { PlainTensor } from '../reference/safetensors-plain.ts';
import { uniformStream as rng } from './random.ts';

export const TINY_CONFIG = {
  projection_dim: 12,
  text_config: {
    vocab_size: 40,
    hidden_size: 16,
    intermediate_size: 32,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    max_position_embeddings: 20,
  },
  vision_config: {
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    image_size: 12,
    patch_size: 4,
  },
};

export const SOT = 38;
export const EOT = 39;

export function randomTensors(config: unknown, seed: number): Map<string, PlainTensor> {
  const r = rng(seed);
  const tensors = new Map<string, PlainTensor>();
  for (const [name, shape] of plainExpectedShapes(plainConfig(config))) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float64Array(Math.max(n, 1));
    const isLnWeight = /(layer_norm\d|layernorm|layrnorm)\.weight$/.test(name);
    for (let i = 0; i < data.length; i++) {
      const u = r() * 2 - 1;
      data[i] = isLnWeight ? 1 + 0.3 * u : 0.5 * u;
    }
    if (name === 'logit_scale') data[0] = Math.log(1 / 0.07);
    tensors.set(name, { dtype: 'F64', shape, data });
  }
  return tensors;
}

export function randomModel(seed: number, config: unknown = TINY_CONFIG): PlainModel {
  return makePlainModel(config, randomTensors(config, seed), { eotId: EOT, sotId: SOT });
}
