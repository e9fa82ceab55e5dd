// Hugging Face CLIP config.json → a complete, validated config with the CLIPTextConfig /
// CLIPVisionConfig / CLIPConfig defaults applied (configs on the Hub are often sparse, and old ones
// carry `text_config_dict` / `vision_config_dict`).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export class ConfigError extends Error {}

export type HiddenAct = 'quick_gelu' | 'gelu';

export interface TextConfig {
  vocabSize: number;
  hiddenSize: number; // D
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  maxPositionEmbeddings: number; // 77 for CLIP
  hiddenAct: HiddenAct;
  layerNormEps: number;
}

export interface VisionConfig {
  hiddenSize: number; // width
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numChannels: number;
  imageSize: number; // S
  patchSize: number; // p
  hiddenAct: HiddenAct;
  layerNormEps: number;
}

export interface ClipConfig {
  text: TextConfig;
  vision: VisionConfig;
  projectionDim: number; // P, shared by both projections
  logitScaleInitValue: number;
}

export const TEXT_DEFAULTS: TextConfig = {
  vocabSize: 49408,
  hiddenSize: 512,
  intermediateSize: 2048,
  numHiddenLayers: 12,
  numAttentionHeads: 8,
  maxPositionEmbeddings: 77,
  hiddenAct: 'quick_gelu',
  layerNormEps: 1e-5,
};

export const VISION_DEFAULTS: VisionConfig = {
  hiddenSize: 768,
  intermediateSize: 3072,
  numHiddenLayers: 12,
  numAttentionHeads: 12,
  numChannels: 3,
  imageSize: 224,
  patchSize: 32,
  hiddenAct: 'quick_gelu',
  layerNormEps: 1e-5,
};

type Json = Record<string, unknown>;

const TEXT_KEYS: Record<keyof TextConfig, string> = {
  vocabSize: 'vocab_size',
  hiddenSize: 'hidden_size',
  intermediateSize: 'intermediate_size',
  numHiddenLayers: 'num_hidden_layers',
  numAttentionHeads: 'num_attention_heads',
  maxPositionEmbeddings: 'max_position_embeddings',
  hiddenAct: 'hidden_act',
  layerNormEps: 'layer_norm_eps',
};

const VISION_KEYS: Record<keyof VisionConfig, string> = {
  hiddenSize: 'hidden_size',
  intermediateSize: 'intermediate_size',
  numHiddenLayers: 'num_hidden_layers',
  numAttentionHeads: 'num_attention_heads',
  numChannels: 'num_channels',
  imageSize: 'image_size',
  patchSize: 'patch_size',
  hiddenAct: 'hidden_act',
  layerNormEps: 'layer_norm_eps',
};

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Sub-config: `*_config` merged with the legacy `*_config_dict` (which wins, as in transformers). */
function subConfig(raw: Json, name: 'text' | 'vision', source: string): Json {
  const base = raw[`${name}_config`];
  const legacy = raw[`${name}_config_dict`];
  for (const [key, v] of [[`${name}_config`, base], [`${name}_config_dict`, legacy]] as const) {
    if (v !== undefined && v !== null && !isObject(v)) throw new ConfigError(`${source}: "${key}" must be an object`);
  }
  return { ...(isObject(base) ? base : {}), ...(isObject(legacy) ? legacy : {}) };
}

function applyDefaults<T extends object>(
  defaults: T,
  keys: Record<keyof T, string>,
  raw: Json,
  where: string,
): T {
  const out = { ...defaults } as Record<string, unknown>;
  for (const field of Object.keys(keys) as (keyof T & string)[]) {
    const key = keys[field];
    const v = raw[key];
    if (v === undefined || v === null) continue;
    if (field === 'hiddenAct') {
      if (v !== 'quick_gelu' && v !== 'gelu') {
        throw new ConfigError(`${where}.${key}: unsupported activation ${JSON.stringify(v)} (quick_gelu or gelu)`);
      }
      out[field] = v;
    } else if (field === 'layerNormEps') {
      if (typeof v !== 'number' || !(v > 0)) throw new ConfigError(`${where}.${key}: must be a positive number`);
      out[field] = v;
    } else {
      if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
        throw new ConfigError(`${where}.${key}: must be a positive integer, got ${JSON.stringify(v)}`);
      }
      out[field] = v;
    }
  }
  return out as T;
}

/** Parses a config.json object (already JSON-decoded). `source` names the file in errors. */
export function parseClipConfig(raw: unknown, source = 'config.json'): ClipConfig {
  if (!isObject(raw)) throw new ConfigError(`${source}: must be a JSON object`);
  const text = applyDefaults(TEXT_DEFAULTS, TEXT_KEYS, subConfig(raw, 'text', source), `${source}: text_config`);
  const vision = applyDefaults(VISION_DEFAULTS, VISION_KEYS, subConfig(raw, 'vision', source), `${source}: vision_config`);
  const projectionDim = raw.projection_dim ?? 512;
  if (typeof projectionDim !== 'number' || !Number.isInteger(projectionDim) || projectionDim <= 0) {
    throw new ConfigError(`${source}: projection_dim must be a positive integer`);
  }
  const logitScaleInitValue = raw.logit_scale_init_value ?? 2.6592;
  if (typeof logitScaleInitValue !== 'number') throw new ConfigError(`${source}: logit_scale_init_value must be a number`);
  const cfg: ClipConfig = { text, vision, projectionDim, logitScaleInitValue };
  validate(cfg, source);
  return cfg;
}

function validate(cfg: ClipConfig, source: string): void {
  for (const [name, c] of [['text_config', cfg.text], ['vision_config', cfg.vision]] as const) {
    if (c.hiddenSize % c.numAttentionHeads !== 0) {
      throw new ConfigError(
        `${source}: ${name}.hidden_size (${c.hiddenSize}) is not divisible by num_attention_heads (${c.numAttentionHeads})`,
      );
    }
  }
  if (cfg.vision.imageSize % cfg.vision.patchSize !== 0) {
    throw new ConfigError(
      `${source}: vision_config.image_size (${cfg.vision.imageSize}) is not a multiple of patch_size (${cfg.vision.patchSize})`,
    );
  }
}

export function loadClipConfig(modelDir: string): ClipConfig {
  const path = join(modelDir, 'config.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return parseClipConfig(raw, path);
}

/** HF-style config.json for a config (full, not sparse), as written by make-model. */
export function toHfConfigJson(cfg: ClipConfig): Json {
  const t = cfg.text;
  const v = cfg.vision;
  return {
    architectures: ['CLIPModel'],
    model_type: 'clip',
    projection_dim: cfg.projectionDim,
    logit_scale_init_value: cfg.logitScaleInitValue,
    text_config: {
      model_type: 'clip_text_model',
      vocab_size: t.vocabSize,
      hidden_size: t.hiddenSize,
      intermediate_size: t.intermediateSize,
      num_hidden_layers: t.numHiddenLayers,
      num_attention_heads: t.numAttentionHeads,
      max_position_embeddings: t.maxPositionEmbeddings,
      hidden_act: t.hiddenAct,
      layer_norm_eps: t.layerNormEps,
      projection_dim: cfg.projectionDim,
    },
    vision_config: {
      model_type: 'clip_vision_model',
      hidden_size: v.hiddenSize,
      intermediate_size: v.intermediateSize,
      num_hidden_layers: v.numHiddenLayers,
      num_attention_heads: v.numAttentionHeads,
      num_channels: v.numChannels,
      image_size: v.imageSize,
      patch_size: v.patchSize,
      hidden_act: v.hiddenAct,
      layer_norm_eps: v.layerNormEps,
      projection_dim: cfg.projectionDim,
    },
  };
}
