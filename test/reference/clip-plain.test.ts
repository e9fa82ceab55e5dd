// Self-checks of the independent reference (test/reference/*): hand-computed values and structural
// invariants of the CLIP forward, so the end-to-end comparison in test/cli/embed.test.ts compares the
// product against something that is itself right.
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
  plainLogit,
  plainPreprocessSquare,
  plainQuickGelu,
  plainTextFeatures,
  plainTextFeaturesFromEmbeds,
  plainTextHidden,
  plainTextHiddenFromEmbeds,
  plainVisionEmbeddings,
  OPENAI_MEAN,
  OPENAI_STD,
  type PlainModel,
} from './clip-plain.ts';
import {
  decodeBF16,
  decodeF16,
  parseSafetensorsPlain,
  readSafetensorsHeader,
  readSafetensorsPlain,
  type PlainTensor,
} from './safetensors-plain.ts';
import { maxAbsDiff } from '../helpers/numeric.ts';
import { uniformStream as rng } from '../helpers/random.ts';
import { useTmpDirs } from '../helpers/tmp.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLIP_VOCAB = resolve(REPO_ROOT, 'models/clip-vocab');

// ---------------------------------------------------------------------------------------------
// Helpers: a random model and a hand-rolled safetensors writer.

const TINY_CONFIG = {
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

const SOT = 38;
const EOT = 39;

function randomTensors(config: unknown, seed: number): Map<string, PlainTensor> {
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

function randomModel(seed: number, config: unknown = TINY_CONFIG): PlainModel {
  return makePlainModel(config, randomTensors(config, seed), { eotId: EOT, sotId: SOT });
}

interface RawTensor {
  name: string;
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

function writeSafetensors(tensors: RawTensor[], metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += ' ';
  const headerBytes = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerBytes.length));
  return Buffer.concat([len, headerBytes, ...tensors.map((t) => Buffer.from(t.bytes))]);
}

function f32Bytes(values: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

function u16Bytes(bits: number[]): Uint8Array {
  return new Uint8Array(Uint16Array.from(bits).buffer); // little-endian on x86/arm
}

const tmp = useTmpDirs('clip-plain-');

// ---------------------------------------------------------------------------------------------

describe('safetensors-plain', () => {
  it('decodes F16 bit patterns by hand', () => {
    expect(decodeF16(0x3c00)).toBe(1);
    expect(decodeF16(0xc000)).toBe(-2);
    expect(decodeF16(0x7bff)).toBe(65504);
    expect(decodeF16(0x0001)).toBe(2 ** -24);
    expect(decodeF16(0x0400)).toBe(2 ** -14); // smallest normal
    expect(decodeF16(0x03ff)).toBe(1023 * 2 ** -24); // largest subnormal
    expect(decodeF16(0x3555)).toBe(0.333251953125);
    expect(decodeF16(0x0000)).toBe(0);
    expect(Object.is(decodeF16(0x8000), -0)).toBe(true);
    expect(decodeF16(0x7c00)).toBe(Infinity);
    expect(decodeF16(0xfc00)).toBe(-Infinity);
    expect(decodeF16(0x7e00)).toBeNaN();
  });

  it('decodes BF16 bit patterns, agreeing with the upper half of a float32', () => {
    expect(decodeBF16(0x3f80)).toBe(1);
    expect(decodeBF16(0xc000)).toBe(-2);
    expect(decodeBF16(0x4049)).toBe(3.140625);
    expect(decodeBF16(0x7f80)).toBe(Infinity);
    expect(decodeBF16(0x7fc0)).toBeNaN();
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    const r = rng(7);
    for (let k = 0; k < 20000; k++) {
      const bits = Math.floor(r() * 65536);
      u[0] = bits << 16;
      const want = f[0];
      if (Number.isNaN(want)) expect(decodeBF16(bits)).toBeNaN();
      else expect(decodeBF16(bits)).toBe(want);
    }
  });

  it('reads F32 / F16 / BF16 tensors, skips I64, reads headers alone', () => {
    const dir = tmp();
    const i64 = new Uint8Array(new BigInt64Array([0n, 1n, 2n]).buffer);
    const buf = writeSafetensors(
      [
        { name: 'a', dtype: 'F32', shape: [2, 3], bytes: f32Bytes([1, -2, 0.5, 3.25, 0, -0.125]) },
        { name: 'h', dtype: 'F16', shape: [4], bytes: u16Bytes([0x3c00, 0xc000, 0x7bff, 0x0001]) },
        { name: 'b', dtype: 'BF16', shape: [2], bytes: u16Bytes([0x3f80, 0x4049]) },
        { name: 'pos_ids', dtype: 'I64', shape: [1, 3], bytes: i64 },
        { name: 's', dtype: 'F32', shape: [], bytes: f32Bytes([4.5]) },
      ],
      { format: 'pt' },
    );
    const path = join(dir, 'm.safetensors');
    writeFileSync(path, buf);
    const m = readSafetensorsPlain(path);
    expect([...m.keys()].sort()).toEqual(['a', 'b', 'h', 's']);
    expect(m.get('a')!.shape).toEqual([2, 3]);
    expect(Array.from(m.get('a')!.data)).toEqual([1, -2, 0.5, 3.25, 0, -0.125]);
    expect(Array.from(m.get('h')!.data)).toEqual([1, -2, 65504, 2 ** -24]);
    expect(Array.from(m.get('b')!.data)).toEqual([1, 3.140625]);
    expect(m.get('s')!.shape).toEqual([]);
    expect(Array.from(m.get('s')!.data)).toEqual([4.5]);
    const header = readSafetensorsHeader(path);
    expect(header.metadata).toEqual({ format: 'pt' });
    expect(header.entries.get('pos_ids')).toMatchObject({ dtype: 'I64', shape: [1, 3] });
  });

  it('rejects truncated files and corrupt headers', () => {
    const buf = writeSafetensors([{ name: 'a', dtype: 'F32', shape: [4], bytes: f32Bytes([1, 2, 3, 4]) }]);
    expect(() => parseSafetensorsPlain(buf.subarray(0, buf.length - 1), 'x.safetensors')).toThrow(/x\.safetensors.*truncated/);
    const bad = Buffer.from(buf);
    bad.writeBigUInt64LE(0xffffffffffn, 0);
    expect(() => parseSafetensorsPlain(bad, 'x.safetensors')).toThrow(/header length/);
    expect(() => parseSafetensorsPlain(buf.subarray(0, 5), 'x.safetensors')).toThrow(/8-byte/);
  });
});

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

describe('text tower', () => {
  const model = randomModel(11);

  it('is causal: changing a later token leaves earlier hidden states unchanged', () => {
    const ids = [SOT, 3, 17, 5, 22, 9, 30, EOT];
    const base = plainTextHidden(model, ids);
    for (let at = 1; at < ids.length; at++) {
      const changed = ids.slice();
      changed[at] = (changed[at] + 7) % 38;
      const h = plainTextHidden(model, changed);
      for (let i = 0; i < at; i++) expect(Array.from(h[i])).toEqual(Array.from(base[i]));
      expect(maxAbsDiff(h[at], base[at])).toBeGreaterThan(1e-3);
    }
  });

  it('pools at the first EOT: tokens after it do not matter', () => {
    const ids = [SOT, 3, 17, 5, EOT];
    const a = plainTextFeatures(model, ids);
    const b = plainTextFeatures(model, [...ids, 12, 0, 33, EOT, EOT]);
    expect(maxAbsDiff(a, b)).toBe(0);
    // the pooled position really is the EOT one (not the last, not the max id)
    const h = plainTextHidden(model, [...ids, 12, 0]);
    const c = plainTextFeatures(model, [...ids, 12, 0]);
    expect(maxAbsDiff(c, a)).toBe(0);
    expect(maxAbsDiff(h[4], h[6])).toBeGreaterThan(1e-3);
    expect(() => plainTextFeatures(model, [SOT, 3, 4])).toThrow(/endoftext/);
  });

  it('from input embeddings: token-table rows give exactly the ids path, pooled where asked', () => {
    const ids = [SOT, 3, 17, 5, EOT, 12, 0];
    const D = 16;
    const tok = model.tensors.get('text_model.embeddings.token_embedding.weight')!.data;
    const rows = ids.map((id) => tok.slice(id * D, (id + 1) * D));
    const rowsOf = (h: Float64Array[]) => h.map((r) => Array.from(r));
    expect(rowsOf(plainTextHiddenFromEmbeds(model, rows))).toEqual(rowsOf(plainTextHidden(model, ids)));
    const pooled4 = plainTextFeaturesFromEmbeds(model, rows, 4);
    expect(pooled4).toEqual(plainTextFeatures(model, ids));
    // Causal: the rows after the pooled position do not matter, the ones up to it do.
    expect(plainTextFeaturesFromEmbeds(model, rows.slice(0, 5), 4)).toEqual(pooled4);
    const after = rows.map((r) => r.slice());
    after[5][0] += 1;
    expect(plainTextFeaturesFromEmbeds(model, after, 4)).toEqual(pooled4);
    const before = rows.map((r) => r.slice());
    before[2][7] += 0.5; // not a table row any more, as with learned prompt vectors
    expect(maxAbsDiff(plainTextFeaturesFromEmbeds(model, before, 4), pooled4)).toBeGreaterThan(1e-3);
    // Pooled at the given position, not at the EOT id's.
    expect(plainTextFeaturesFromEmbeds(model, rows, 2)).toEqual(plainTextFeatures({ ...model, eotId: 17 }, ids));
    expect(maxAbsDiff(plainTextFeaturesFromEmbeds(model, rows, 2), pooled4)).toBeGreaterThan(1e-3);
    expect(() => plainTextFeaturesFromEmbeds(model, rows, 7)).toThrow(/EOT position 7/);
    expect(() => plainTextFeaturesFromEmbeds(model, [new Float64Array(15)], 0)).toThrow(/hidden_size 16/);
    expect(() => plainTextHiddenFromEmbeds(model, Array.from({ length: 21 }, () => rows[0]))).toThrow(/max_position_embeddings/);
  });

  it('a one-token sequence equals the layer formulas written out by hand', () => {
    const cfgJson = structuredClone(TINY_CONFIG);
    cfgJson.text_config.num_hidden_layers = 1;
    const m = makePlainModel(cfgJson, randomTensors(cfgJson, 5), { eotId: 7 });
    const T = (n: string) => m.tensors.get(n)!.data;
    const D = 16;
    const I = 32;
    const P = 12;
    const mv = (w: Float64Array, x: ArrayLike<number>, b: Float64Array | null, rows: number) => {
      const y: number[] = [];
      for (let o = 0; o < rows; o++) {
        let s = b ? b[o] : 0;
        for (let i = 0; i < x.length; i++) s += w[o * x.length + i] * x[i];
        y.push(s);
      }
      return y;
    };
    const pre = 'text_model.encoder.layers.0';
    const h0 = Array.from({ length: D }, (_, d) => T('text_model.embeddings.token_embedding.weight')[7 * D + d] + T('text_model.embeddings.position_embedding.weight')[d]);
    const x1 = plainLayerNorm(h0, T(`${pre}.layer_norm1.weight`), T(`${pre}.layer_norm1.bias`), 1e-5);
    // one key → softmax weight 1: attention output = v
    const v = mv(T(`${pre}.self_attn.v_proj.weight`), x1, T(`${pre}.self_attn.v_proj.bias`), D);
    const o = mv(T(`${pre}.self_attn.out_proj.weight`), v, T(`${pre}.self_attn.out_proj.bias`), D);
    const h1 = h0.map((x, d) => x + o[d]);
    const x2 = plainLayerNorm(h1, T(`${pre}.layer_norm2.weight`), T(`${pre}.layer_norm2.bias`), 1e-5);
    const f = mv(T(`${pre}.mlp.fc1.weight`), x2, T(`${pre}.mlp.fc1.bias`), I).map((z) => z / (1 + Math.exp(-1.702 * z)));
    const g = mv(T(`${pre}.mlp.fc2.weight`), f, T(`${pre}.mlp.fc2.bias`), D);
    const h2 = h1.map((x, d) => x + g[d]);
    const fin = plainLayerNorm(h2, T('text_model.final_layer_norm.weight'), T('text_model.final_layer_norm.bias'), 1e-5);
    const want = mv(T('text_projection.weight'), fin, null, P);
    expect(maxAbsDiff(plainTextFeatures(m, [7]), want)).toBeLessThan(1e-12);
  });

  it('attention uses the head_dim^-0.5 scale and a per-head softmax (two tokens by hand)', () => {
    // One layer, everything zeroed except what the check needs: attention output at position 1.
    const cfgJson = structuredClone(TINY_CONFIG);
    cfgJson.text_config.num_hidden_layers = 1;
    const m = makePlainModel(cfgJson, randomTensors(cfgJson, 9), { eotId: 1 });
    const ids = [2, 1];
    const T = (n: string) => m.tensors.get(n)!.data;
    const pre = 'text_model.encoder.layers.0';
    const D = 16;
    const H = 4;
    const hd = 4;
    // Recompute position 1 by hand, per head, after the attention block (fc2 zeroed → MLP adds only fc2.bias = 0).
    T(`${pre}.mlp.fc2.weight`).fill(0);
    T(`${pre}.mlp.fc2.bias`).fill(0);
    const row = (id: number, l: number) =>
      Array.from({ length: D }, (_, d) => T('text_model.embeddings.token_embedding.weight')[id * D + d] + T('text_model.embeddings.position_embedding.weight')[l * D + d]);
    const h = [row(2, 0), row(1, 1)];
    const ln = h.map((r) => plainLayerNorm(r, T(`${pre}.layer_norm1.weight`), T(`${pre}.layer_norm1.bias`), 1e-5));
    const proj = (name: string, x: ArrayLike<number>) =>
      Array.from({ length: D }, (_, o) => {
        let s = T(`${pre}.self_attn.${name}.bias`)[o];
        for (let i = 0; i < D; i++) s += T(`${pre}.self_attn.${name}.weight`)[o * D + i] * x[i];
        return s;
      });
    const q1 = proj('q_proj', ln[1]);
    const k = ln.map((x) => proj('k_proj', x));
    const v = ln.map((x) => proj('v_proj', x));
    const attn = new Array<number>(D).fill(0);
    for (let head = 0; head < H; head++) {
      const s = [0, 1].map((j) => {
        let dot = 0;
        for (let e = 0; e < hd; e++) dot += q1[head * hd + e] * k[j][head * hd + e];
        return dot / Math.sqrt(hd);
      });
      const e0 = Math.exp(s[0]);
      const e1 = Math.exp(s[1]);
      for (let e = 0; e < hd; e++) attn[head * hd + e] = (e0 * v[0][head * hd + e] + e1 * v[1][head * hd + e]) / (e0 + e1);
    }
    const o = proj('out_proj', attn);
    const h1 = h[1].map((x, d) => x + o[d]);
    const fin = plainLayerNorm(h1, T('text_model.final_layer_norm.weight'), T('text_model.final_layer_norm.bias'), 1e-5);
    expect(maxAbsDiff(plainTextHidden(m, ids)[1], fin)).toBeLessThan(1e-12);
  });

  it('rejects sequences longer than max_position_embeddings', () => {
    const ids = [SOT, ...new Array(19).fill(3), EOT];
    expect(ids.length).toBe(21);
    expect(() => plainTextFeatures(model, ids)).toThrow(/max_position_embeddings/);
  });
});

describe('vision tower', () => {
  const model = randomModel(23);
  const S = 12;

  it('patch embedding = strided conv, patches in row-major order, CLS first', () => {
    const m = randomModel(3);
    const conv = m.tensors.get('vision_model.embeddings.patch_embedding.weight')!.data;
    const pos = m.tensors.get('vision_model.embeddings.position_embedding.weight')!.data;
    const cls = m.tensors.get('vision_model.embeddings.class_embedding')!.data;
    const W = 16;
    const C = 3;
    const p = 4;
    // output channel w picks pixel (c = w % 3, i = w % 4, j = (w >> 2) % 4) of each patch
    conv.fill(0);
    for (let w = 0; w < W; w++) conv[((w * C + (w % 3)) * p + (w % 4)) * p + ((w >> 2) % 4)] = 1;
    const pixels = new Float64Array(C * S * S).map((_, i) => i * 0.001);
    const e = plainVisionEmbeddings(m, pixels);
    expect(e.length).toBe(10);
    for (let w = 0; w < W; w++) expect(e[0][w]).toBe(cls[w] + pos[w]);
    for (let py = 0; py < 3; py++) {
      for (let px = 0; px < 3; px++) {
        const t = 1 + py * 3 + px;
        for (let w = 0; w < W; w++) {
          const c = w % 3;
          const y = py * p + (w % 4);
          const x = px * p + ((w >> 2) % 4);
          expect(e[t][w]).toBeCloseTo(pixels[(c * S + y) * S + x] + pos[t * W + w], 14);
        }
      }
    }
  });

  it('is not causal: the CLS output depends on the last patch', () => {
    const r = rng(4);
    const pixels = new Float64Array(3 * S * S).map(() => r() * 2 - 1);
    const a = plainImageFeatures(model, pixels);
    const changed = pixels.slice();
    changed[3 * S * S - 1] += 1; // bottom-right pixel of the last channel
    expect(maxAbsDiff(a, plainImageFeatures(model, changed))).toBeGreaterThan(1e-6);
  });

  it('preprocessing of an S×S image: /255, per-channel normalisation, HWC → CHW', () => {
    const rgb = new Uint8Array(2 * 2 * 3).map((_, i) => i * 20);
    const out = plainPreprocessSquare(rgb, 2);
    // pixel (y=1, x=0), channel 2 is byte (1*2+0)*3+2 = 8 → 160
    expect(out[(2 * 2 + 1) * 2 + 0]).toBeCloseTo((160 / 255 - OPENAI_MEAN[2]) / OPENAI_STD[2], 14);
    expect(out[0]).toBeCloseTo((0 - OPENAI_MEAN[0]) / OPENAI_STD[0], 14);
    expect(out[(1 * 2 + 1) * 2 + 1]).toBeCloseTo((((1 * 2 + 1) * 3 + 1) * 20 / 255 - OPENAI_MEAN[1]) / OPENAI_STD[1], 14);
  });

  it('logit = exp(logit_scale) · cos', () => {
    const t = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    const i = [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    expect(plainLogit(model, t, i)).toBeCloseTo((1 / 0.07) * Math.SQRT1_2, 10);
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
