// CLIP weights in Hugging Face CLIPModel naming → a typed structure, with every shape checked
// against the config. Linear weights stay in PyTorch layout [out, in].
import type { ClipConfig } from './config.ts';
import { readSafetensors, type HostTensor } from './safetensors.ts';

export class WeightsError extends Error {}

export interface Linear {
  weight: HostTensor; // [out, in]
  bias: HostTensor; // [out]
}

export interface LayerNorm {
  weight: HostTensor; // [D]
  bias: HostTensor; // [D]
}

export interface EncoderLayer {
  layerNorm1: LayerNorm;
  q: Linear; // [D, D]
  k: Linear;
  v: Linear;
  out: Linear;
  layerNorm2: LayerNorm;
  fc1: Linear; // [I, D]
  fc2: Linear; // [D, I]
}

export interface TextWeights {
  tokenEmbedding: HostTensor; // [V, D]
  positionEmbedding: HostTensor; // [77, D]
  layers: EncoderLayer[];
  finalLayerNorm: LayerNorm;
  projection: HostTensor; // text_projection [P, D] (no bias)
}

export interface VisionWeights {
  classEmbedding: HostTensor; // [W]
  patchEmbedding: HostTensor; // [W, C, p, p] (conv, no bias)
  positionEmbedding: HostTensor; // [1 + (S/p)^2, W]
  preLayerNorm: LayerNorm; // HF: pre_layrnorm (sic)
  layers: EncoderLayer[];
  postLayerNorm: LayerNorm;
  projection: HostTensor; // visual_projection [P, W] (no bias)
}

export interface ClipWeights {
  text: TextWeights;
  vision: VisionWeights;
  logitScale: number; // log of the temperature; logits = exp(logitScale) · cos
}

export interface TensorSpec {
  name: string;
  shape: number[];
}

function layerSpecs(prefix: string, d: number, inter: number): TensorSpec[] {
  const specs: TensorSpec[] = [];
  for (const p of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
    specs.push({ name: `${prefix}.self_attn.${p}.weight`, shape: [d, d] }, { name: `${prefix}.self_attn.${p}.bias`, shape: [d] });
  }
  for (const ln of ['layer_norm1', 'layer_norm2']) {
    specs.push({ name: `${prefix}.${ln}.weight`, shape: [d] }, { name: `${prefix}.${ln}.bias`, shape: [d] });
  }
  specs.push(
    { name: `${prefix}.mlp.fc1.weight`, shape: [inter, d] },
    { name: `${prefix}.mlp.fc1.bias`, shape: [inter] },
    { name: `${prefix}.mlp.fc2.weight`, shape: [d, inter] },
    { name: `${prefix}.mlp.fc2.bias`, shape: [d] },
  );
  return specs;
}

/** Every tensor a CLIPModel checkpoint must contain, with its shape for this config. */
export function clipTensorSpecs(cfg: ClipConfig): TensorSpec[] {
  const t = cfg.text;
  const v = cfg.vision;
  const numPositions = (v.imageSize / v.patchSize) ** 2 + 1;
  const specs: TensorSpec[] = [
    { name: 'text_model.embeddings.token_embedding.weight', shape: [t.vocabSize, t.hiddenSize] },
    { name: 'text_model.embeddings.position_embedding.weight', shape: [t.maxPositionEmbeddings, t.hiddenSize] },
  ];
  for (let i = 0; i < t.numHiddenLayers; i++) {
    specs.push(...layerSpecs(`text_model.encoder.layers.${i}`, t.hiddenSize, t.intermediateSize));
  }
  specs.push(
    { name: 'text_model.final_layer_norm.weight', shape: [t.hiddenSize] },
    { name: 'text_model.final_layer_norm.bias', shape: [t.hiddenSize] },
    { name: 'text_projection.weight', shape: [cfg.projectionDim, t.hiddenSize] },
    { name: 'vision_model.embeddings.class_embedding', shape: [v.hiddenSize] },
    { name: 'vision_model.embeddings.patch_embedding.weight', shape: [v.hiddenSize, v.numChannels, v.patchSize, v.patchSize] },
    { name: 'vision_model.embeddings.position_embedding.weight', shape: [numPositions, v.hiddenSize] },
    { name: 'vision_model.pre_layrnorm.weight', shape: [v.hiddenSize] },
    { name: 'vision_model.pre_layrnorm.bias', shape: [v.hiddenSize] },
  );
  for (let i = 0; i < v.numHiddenLayers; i++) {
    specs.push(...layerSpecs(`vision_model.encoder.layers.${i}`, v.hiddenSize, v.intermediateSize));
  }
  specs.push(
    { name: 'vision_model.post_layernorm.weight', shape: [v.hiddenSize] },
    { name: 'vision_model.post_layernorm.bias', shape: [v.hiddenSize] },
    { name: 'visual_projection.weight', shape: [cfg.projectionDim, v.hiddenSize] },
    { name: 'logit_scale', shape: [] },
  );
  return specs;
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Checks a tensor map against the config and builds the typed structure. Unknown keys (e.g.
 * `*.position_ids`) are ignored. `source` names the file in errors.
 */
export function clipWeightsFromTensors(tensors: Map<string, HostTensor>, cfg: ClipConfig, source: string): ClipWeights {
  for (const spec of clipTensorSpecs(cfg)) {
    const t = tensors.get(spec.name);
    if (!t) throw new WeightsError(`${source}: missing tensor "${spec.name}" (expected shape [${spec.shape}])`);
    // logit_scale is [] in HF checkpoints, [1] in some exports.
    const ok = sameShape(t.shape, spec.shape) || (spec.name === 'logit_scale' && t.data.length === 1);
    if (!ok) {
      throw new WeightsError(
        `${source}: tensor "${spec.name}" has shape [${t.shape}] but config.json implies [${spec.shape}] (config does not match the weights)`,
      );
    }
  }
  const get = (name: string): HostTensor => tensors.get(name)!;
  const linear = (p: string): Linear => ({ weight: get(`${p}.weight`), bias: get(`${p}.bias`) });
  const layer = (p: string): EncoderLayer => ({
    layerNorm1: linear(`${p}.layer_norm1`),
    q: linear(`${p}.self_attn.q_proj`),
    k: linear(`${p}.self_attn.k_proj`),
    v: linear(`${p}.self_attn.v_proj`),
    out: linear(`${p}.self_attn.out_proj`),
    layerNorm2: linear(`${p}.layer_norm2`),
    fc1: linear(`${p}.mlp.fc1`),
    fc2: linear(`${p}.mlp.fc2`),
  });
  const layers = (prefix: string, n: number): EncoderLayer[] =>
    Array.from({ length: n }, (_, i) => layer(`${prefix}.encoder.layers.${i}`));
  return {
    text: {
      tokenEmbedding: get('text_model.embeddings.token_embedding.weight'),
      positionEmbedding: get('text_model.embeddings.position_embedding.weight'),
      layers: layers('text_model', cfg.text.numHiddenLayers),
      finalLayerNorm: linear('text_model.final_layer_norm'),
      projection: get('text_projection.weight'),
    },
    vision: {
      classEmbedding: get('vision_model.embeddings.class_embedding'),
      patchEmbedding: get('vision_model.embeddings.patch_embedding.weight'),
      positionEmbedding: get('vision_model.embeddings.position_embedding.weight'),
      preLayerNorm: linear('vision_model.pre_layrnorm'),
      layers: layers('vision_model', cfg.vision.numHiddenLayers),
      postLayerNorm: linear('vision_model.post_layernorm'),
      projection: get('visual_projection.weight'),
    },
    logitScale: get('logit_scale').data[0],
  };
}

const KNOWN_PREFIXES = ['text_model.', 'vision_model.', 'text_projection.', 'visual_projection.', 'logit_scale'];

/** Reads model.safetensors, keeping only CLIP tensors (other keys, e.g. int64 position_ids, are skipped). */
export function loadClipWeights(path: string, cfg: ClipConfig): ClipWeights {
  const file = readSafetensors(path, {
    only: (name) => KNOWN_PREFIXES.some((p) => name.startsWith(p)) && !name.endsWith('position_ids'),
  });
  return clipWeightsFromTensors(file.tensors, cfg, path);
}
