import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadClipConfig, parseClipConfig, toHfConfigJson } from '../../../gpu-worker/clip/config.ts';
import { useTmpDirs } from '../../helpers/tmp.ts';

describe('CLIP config.json', () => {
  const tmp = useTmpDirs('cfg-');

  it('applies CLIPTextConfig / CLIPVisionConfig / CLIPConfig defaults to an empty config', () => {
    const cfg = parseClipConfig({});
    // Defaults as documented by transformers for CLIPTextConfig / CLIPVisionConfig.
    expect(cfg.text).toEqual({
      vocabSize: 49408,
      hiddenSize: 512,
      intermediateSize: 2048,
      numHiddenLayers: 12,
      numAttentionHeads: 8,
      maxPositionEmbeddings: 77,
      hiddenAct: 'quick_gelu',
      layerNormEps: 1e-5,
    });
    expect(cfg.vision.hiddenSize).toBe(768);
    expect(cfg.vision.patchSize).toBe(32);
    expect(cfg.vision.imageSize).toBe(224);
    expect(cfg.vision.numAttentionHeads).toBe(12);
    expect(cfg.projectionDim).toBe(512);
    expect(cfg.logitScaleInitValue).toBeCloseTo(2.6592);
  });

  it('merges a sparse sub-config with the defaults (openai/clip-vit-base-patch16 style)', () => {
    const cfg = parseClipConfig({ projection_dim: 512, vision_config: { patch_size: 16 }, text_config: { bos_token_id: 0, eos_token_id: 2 } });
    expect(cfg.vision.patchSize).toBe(16);
    expect(cfg.vision.hiddenSize).toBe(768);
    expect(cfg.text.hiddenSize).toBe(512);
  });

  it('lets the legacy *_config_dict override *_config, as transformers does', () => {
    const cfg = parseClipConfig({
      text_config: { hidden_size: 256, num_attention_heads: 4 },
      text_config_dict: { hidden_size: 128 },
      vision_config_dict: { image_size: 64, patch_size: 16 },
    });
    expect(cfg.text.hiddenSize).toBe(128);
    expect(cfg.text.numAttentionHeads).toBe(4);
    expect(cfg.vision.imageSize).toBe(64);
  });

  it('round-trips through the HF json it writes', () => {
    const cfg = parseClipConfig({ text_config: { hidden_size: 64, num_attention_heads: 4, vocab_size: 900 }, projection_dim: 32 });
    expect(parseClipConfig(toHfConfigJson(cfg))).toEqual(cfg);
  });

  it.each([
    [{ text_config: { hidden_size: 'big' } }, /hidden_size/],
    [{ text_config: { hidden_size: 100, num_attention_heads: 8 } }, /not divisible/],
    [{ vision_config: { image_size: 100, patch_size: 16 } }, /multiple of patch_size/],
    [{ vision_config: { hidden_act: 'relu' } }, /unsupported activation/],
    [{ text_config: 3 }, /must be an object/],
    [[1, 2], /JSON object/],
  ])('rejects %j with a clear error', (raw, message) => {
    expect(() => parseClipConfig(raw, 'x/config.json')).toThrow(ConfigError);
    expect(() => parseClipConfig(raw, 'x/config.json')).toThrow(message);
  });

  it('names the file when config.json is missing or not JSON', () => {
    const dir = tmp();
    expect(() => loadClipConfig(dir)).toThrow(join(dir, 'config.json'));
    writeFileSync(join(dir, 'config.json'), '{ not json');
    expect(() => loadClipConfig(dir)).toThrow(/config\.json: not valid JSON/);
  });
});
