// Random CLIP weights in Hugging Face naming, initialised like transformers' CLIPPreTrainedModel
// (normal init scaled by width and depth), so activations have realistic magnitudes.
import type { ClipConfig } from './config.ts';
import { SeededRandom } from './random.ts';
import type { HostTensor } from './safetensors.ts';
import { clipTensorSpecs } from './weights.ts';

function initStd(name: string, cfg: ClipConfig): { std: number; mean: number } {
  const isText = name.startsWith('text_model.') || name === 'text_projection.weight';
  const c = isText ? cfg.text : cfg.vision;
  const d = c.hiddenSize;
  const layers = c.numHiddenLayers;
  if (name.endsWith('layer_norm1.weight') || name.endsWith('layer_norm2.weight') || /(layernorm|layrnorm|final_layer_norm)\.weight$/.test(name)) {
    return { std: 0.02, mean: 1 }; // near-identity LayerNorm gains, jittered so tests see their effect
  }
  if (name.endsWith('.bias')) return { std: 0.02, mean: 0 };
  if (name.includes('token_embedding')) return { std: 0.02, mean: 0 };
  if (name.includes('position_embedding')) return { std: isText ? 0.01 : 0.02, mean: 0 };
  if (name.includes('class_embedding')) return { std: d ** -0.5, mean: 0 };
  if (name.includes('patch_embedding')) return { std: 0.02 * 4, mean: 0 };
  if (/(q_proj|k_proj|v_proj)\.weight$/.test(name)) return { std: d ** -0.5 * (2 * layers) ** -0.5 * 2, mean: 0 };
  if (name.endsWith('out_proj.weight')) return { std: d ** -0.5 * 2, mean: 0 };
  if (name.endsWith('fc1.weight')) return { std: (2 * d) ** -0.5 * 2, mean: 0 };
  if (name.endsWith('fc2.weight')) return { std: d ** -0.5 * (2 * layers) ** -0.5 * 2, mean: 0 };
  if (name.endsWith('projection.weight')) return { std: d ** -0.5, mean: 0 };
  return { std: 0.02, mean: 0 };
}

/** All CLIP tensors for `cfg`, deterministic for a seed. */
export function randomClipTensors(cfg: ClipConfig, seed: number): Map<string, HostTensor> {
  const rng = new SeededRandom(seed);
  const out = new Map<string, HostTensor>();
  for (const spec of clipTensorSpecs(cfg)) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    if (spec.name === 'logit_scale') data[0] = cfg.logitScaleInitValue;
    else {
      const { std, mean } = initStd(spec.name, cfg);
      rng.fillNormal(data, std, mean);
    }
    out.set(spec.name, { shape: spec.shape, data });
  }
  return out;
}
