import { describe, expect, it } from 'vitest';
import { parseClipConfig } from '../../../gpu-worker/clip/config.ts';
import { presetConfig } from '../../../gpu-worker/clip/presets.ts';
import { randomClipTensors } from '../../../gpu-worker/clip/random-weights.ts';
import { clipTensorSpecs, clipWeightsFromTensors, WeightsError } from '../../../gpu-worker/clip/weights.ts';

describe('CLIP weights', () => {
  const cfg = presetConfig('tiny', 600);

  it('builds the typed structure and ignores unknown keys', () => {
    const tensors = randomClipTensors(cfg, 3);
    tensors.set('text_model.embeddings.position_ids', { shape: [1, 77], data: new Float32Array(77) });
    const w = clipWeightsFromTensors(tensors, cfg, 'm.safetensors');
    expect(w.text.layers).toHaveLength(2);
    expect(w.text.layers[1].fc1.weight.shape).toEqual([64, 32]);
    expect(w.text.layers[1].fc1.weight).toBe(tensors.get('text_model.encoder.layers.1.mlp.fc1.weight'));
    expect(w.vision.positionEmbedding.shape).toEqual([(32 / 8) ** 2 + 1, 32]);
    expect(w.logitScale).toBeCloseTo(2.6592, 5);
  });

  it('refuses a checkpoint whose shapes do not match the config, naming the tensor', () => {
    const other = parseClipConfig({ ...JSON.parse(JSON.stringify({})), text_config: { hidden_size: 64, num_attention_heads: 4, num_hidden_layers: 2, vocab_size: 600, intermediate_size: 64 } });
    const tensors = randomClipTensors(cfg, 3);
    expect(() => clipWeightsFromTensors(tensors, { ...cfg, text: other.text }, 'm.safetensors')).toThrow(WeightsError);
    expect(() => clipWeightsFromTensors(tensors, { ...cfg, text: other.text }, 'm.safetensors')).toThrow(
      /m\.safetensors: tensor "text_model\.embeddings\.token_embedding\.weight" has shape \[600,32\]/,
    );
  });

  it('refuses a checkpoint with a missing tensor', () => {
    const tensors = randomClipTensors(cfg, 3);
    tensors.delete('vision_model.post_layernorm.bias');
    expect(() => clipWeightsFromTensors(tensors, cfg, 'm.safetensors')).toThrow(/missing tensor "vision_model\.post_layernorm\.bias"/);
  });

  it('vit-b16 preset has the parameter count of openai/clip-vit-base-patch16 (~149.6M)', () => {
    const n = clipTensorSpecs(presetConfig('vit-b16', 1000)).reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
    // 149,620,737 = 63,428,096 (text incl. 49408×512 tokens) + 85,799,424 (vision) + projections + logit_scale,
    // the count reported for CLIPModel.from_pretrained("openai/clip-vit-base-patch16").
    expect(n).toBe(149_620_737);
  });

  it('random weights are deterministic per seed', () => {
    const a = randomClipTensors(cfg, 7).get('text_projection.weight')!.data;
    const b = randomClipTensors(cfg, 7).get('text_projection.weight')!.data;
    const c = randomClipTensors(cfg, 8).get('text_projection.weight')!.data;
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
  });
});
