// Self-checks of the independent reference (test/reference/*): hand-computed values of its elementary functions,
// its config and shapes, and loading a model directory, so the end-to-end comparison in test/cli/embed.test.ts
// compares the product against something that is itself right. The towers' forward is checked in
// clip-plain-towers.test.ts, the safetensors reader in safetensors-plain.test.ts.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  loadPlainModel,
  makePlainModel,
  plainConfig,
  plainErf,
  plainExpectedShapes,
  plainGelu,
  plainImageFeatures,
  plainLayerNorm,
  plainPreprocessSquare,
  plainQuickGelu,
  plainTextFeatures,
} from './clip-plain.ts';
import { decodeF16 } from './safetensors-plain.ts';
import { maxAbsDiff } from '../helpers/numeric.ts';
import { TINY_CONFIG, randomTensors } from '../helpers/plain-clip-model.ts';
import { uniformStream as rng } from '../helpers/random.ts';
import { type RawTensor, f32Bytes, u16Bytes, writeSafetensors } from '../helpers/safetensors-writer.ts';
import { useTmpDirs } from '../helpers/tmp.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLIP_VOCAB = resolve(REPO_ROOT, 'models/clip-vocab');

const tmp = useTmpDirs('clip-plain-');

describe('elementary functions', () => {
  it('LayerNorm of a known vector (biased variance, eps inside the sqrt)', () => {
    const one = [1, 1, 1, 1];
    const zero = [0, 0, 0, 0];
    // mean 2.5, variance 1.25
    const a = plainLayerNorm([1, 2, 3, 4], one, zero, 1e-5);
    const wantA = [-1.3416354199689269, -0.447211806656309, 0.447211806656309, 1.3416354199689269];
    expect(maxAbsDiff(a, wantA)).toBeLessThan(1e-14);
    const b = plainLayerNorm([1, 2, 3, 4], [2, 1, 0.5, -1], [1, 0, -1, 0.25], 0);
    const s = Math.sqrt(1.25);
    expect(maxAbsDiff(b, [(-1.5 / s) * 2 + 1, -0.5 / s, (0.5 / s) * 0.5 - 1, -1.5 / s + 0.25])).toBeLessThan(1e-14);
  });

  it('quick_gelu = x·sigmoid(1.702x), distinct from erf GELU', () => {
    expect(plainQuickGelu(0)).toBe(0);
    expect(plainQuickGelu(1)).toBeCloseTo(0.8457957659328212, 14);
    expect(plainQuickGelu(-1)).toBeCloseTo(-0.1542042340671787, 14);
    expect(plainQuickGelu(2.5)).toBeCloseTo(2.46501383495143, 13);
    expect(plainQuickGelu(-3)).toBeCloseTo(-0.01807130970778597, 14);
    expect(plainGelu(1)).toBeCloseTo(0.8413447460685429, 13);
    expect(plainGelu(-1)).toBeCloseTo(-0.15865525393145707, 13);
    expect(plainGelu(3)).toBeCloseTo(2.99595030590511, 13);
    expect(plainGelu(-5)).toBeCloseTo(-1.4332578593401202e-6, 15);
  });

  it('erf matches known values on both sides of the series / continued-fraction switch', () => {
    const cases: [number, number][] = [
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [2.9, 0.9999589021219005],
      [3.5, 0.9999992569016276],
      [-2, -0.9953222650189527],
      [6, 1],
    ];
    for (const [x, want] of cases) expect(Math.abs(plainErf(x) - want)).toBeLessThan(1e-13);
  });
});

describe('config', () => {
  it('applies the Hugging Face defaults to a sparse config', () => {
    const c = plainConfig({});
    expect(c.text).toEqual({
      vocab: 49408, hidden: 512, inter: 2048, layers: 12, heads: 8, maxPos: 77, eps: 1e-5, act: 'quick_gelu',
    });
    expect(c.vision).toEqual({
      hidden: 768, inter: 3072, layers: 12, heads: 12, channels: 3, imageSize: 224, patch: 32, eps: 1e-5, act: 'quick_gelu',
    });
    expect(c.projectionDim).toBe(512);
    expect(plainConfig({ vision_config: { patch_size: 16 } }).vision.patch).toBe(16);
    expect(plainConfig({ text_config: { hidden_size: 8 }, text_config_dict: { hidden_size: 4 } }).text.hidden).toBe(4);
  });

  it('ViT-B/16 shapes', () => {
    const s = plainExpectedShapes(plainConfig({ vision_config: { patch_size: 16 } }));
    expect(s.get('vision_model.embeddings.position_embedding.weight')).toEqual([197, 768]);
    expect(s.get('vision_model.embeddings.patch_embedding.weight')).toEqual([768, 3, 16, 16]);
    expect(s.get('text_projection.weight')).toEqual([512, 512]);
    expect(s.get('visual_projection.weight')).toEqual([512, 768]);
    expect(s.get('text_model.encoder.layers.11.mlp.fc1.weight')).toEqual([2048, 512]);
  });

  it('refuses weights that do not match the config', () => {
    const tensors = randomTensors(TINY_CONFIG, 1);
    const cfg = structuredClone(TINY_CONFIG);
    cfg.text_config.hidden_size = 8;
    cfg.text_config.num_attention_heads = 2;
    expect(() => makePlainModel(cfg, tensors)).toThrow(/shape/);
    tensors.delete('vision_model.post_layernorm.bias');
    expect(() => makePlainModel(TINY_CONFIG, tensors)).toThrow(/missing tensor vision_model\.post_layernorm\.bias/);
  });
});

describe('model directory', () => {
  it('loads config.json + model.safetensors (F16 / BF16 / F32) + EOT id by name from vocab.json', () => {
    // Random weights given as F16 / BF16 bit patterns; the F32 copy holds exactly the decoded values,
    // so all three files must give bit-identical features.
    const r = rng(99);
    const shapes = plainExpectedShapes(plainConfig(TINY_CONFIG));
    const f16: RawTensor[] = [];
    const bf16: RawTensor[] = [];
    const f32: RawTensor[] = [];
    for (const [name, shape] of shapes) {
      const n = shape.reduce((a, b) => a * b, 1);
      const bits: number[] = [];
      for (let i = 0; i < n; i++) {
        // |value| in [2^-6, 2^0): exponent 9..14, random mantissa and sign
        const isLn = /norm\d?\.weight$|layrnorm\.weight$|layernorm\.weight$/.test(name);
        const exp = isLn ? 15 : 9 + Math.floor(r() * 6);
        const sign = isLn ? 0 : r() < 0.5 ? 0x8000 : 0;
        bits.push(sign | (exp << 10) | Math.floor(r() * 1024));
      }
      f16.push({ name, dtype: 'F16', shape, bytes: u16Bytes(bits) });
      f32.push({ name, dtype: 'F32', shape, bytes: f32Bytes(bits.map(decodeF16)) });
      // BF16 with the same sign/exponent meaning: rebias exponent 15 → 127, keep the top 7 mantissa bits
      const bbits = bits.map((b) => (b & 0x8000) | ((((b >> 10) & 0x1f) - 15 + 127) << 7) | ((b & 0x3ff) >> 3));
      bf16.push({ name, dtype: 'BF16', shape, bytes: u16Bytes(bbits) });
    }
    const vocab: Record<string, number> = {};
    for (let i = 0; i < 38; i++) vocab[`t${i}</w>`] = i;
    vocab['<|endoftext|>'] = 5; // deliberately not the largest id
    vocab['<|startoftext|>'] = 6;
    const ids = [6, 1, 2, 3, 5, 30];
    const dirs = [f16, bf16, f32].map((tensors) => {
      const d = tmp();
      writeFileSync(join(d, 'config.json'), JSON.stringify(TINY_CONFIG));
      writeFileSync(join(d, 'model.safetensors'), writeSafetensors(tensors));
      writeFileSync(join(d, 'vocab.json'), JSON.stringify(vocab));
      return d;
    });
    const [m16, mb16, m32] = dirs.map(loadPlainModel);
    expect(m16.eotId).toBe(5);
    expect(m16.sotId).toBe(6);
    expect(plainTextFeatures(m16, ids)).toEqual(plainTextFeatures(m32, ids));
    const pixels = plainPreprocessSquare(new Uint8Array(12 * 12 * 3).map((_, i) => (i * 37) % 256), 12);
    expect(plainImageFeatures(m16, pixels)).toEqual(plainImageFeatures(m32, pixels));
    // BF16 drops 3 mantissa bits: close to, but not equal to, the F16 model
    const d = maxAbsDiff(plainTextFeatures(mb16, ids), plainTextFeatures(m16, ids));
    expect(d).toBeGreaterThan(0);
    expect(d).toBeLessThan(0.2);
    // pooled at the EOT id's first position (index 4), not at the last / max id
    expect(plainTextFeatures(m32, ids)).toEqual(plainTextFeatures(m32, ids.slice(0, 5)));
  });

  it('the real CLIP vocab gives the documented ids for "a photo of a cat." and "hello world"', () => {
    const vocab = JSON.parse(readFileSync(join(CLIP_VOCAB, 'vocab.json'), 'utf8')) as Record<string, number>;
    const look = (words: string[]) => [vocab['<|startoftext|>'], ...words.map((w) => vocab[w]), vocab['<|endoftext|>']];
    expect(look(['a</w>', 'photo</w>', 'of</w>', 'a</w>', 'cat</w>', '.</w>'])).toEqual([49406, 320, 1125, 539, 320, 2368, 269, 49407]);
    expect(look(['hello</w>', 'world</w>'])).toEqual([49406, 3306, 1002, 49407]);
  });
});
