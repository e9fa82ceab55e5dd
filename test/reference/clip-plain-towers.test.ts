// Self-checks of the independent reference's CLIP towers (test/reference/clip-plain.ts): structural invariants
// (causal text, pooling at the EOT, a non-causal vision tower) and layers written out by hand on a tiny random
// model, so the end-to-end comparison in test/cli/embed.test.ts compares the product against something that is
// itself right.
import { describe, expect, it } from 'vitest';
import {
  makePlainModel,
  plainImageFeatures,
  plainLayerNorm,
  plainLogit,
  plainPreprocessSquare,
  plainTextFeatures,
  plainTextFeaturesFromEmbeds,
  plainTextHidden,
  plainTextHiddenFromEmbeds,
  plainVisionEmbeddings,
  OPENAI_MEAN,
  OPENAI_STD,
} from './clip-plain.ts';
import { maxAbsDiff } from '../helpers/numeric.ts';
import { EOT, SOT, TINY_CONFIG, randomModel, randomTensors } from '../helpers/plain-clip-model.ts';
import { uniformStream as rng } from '../helpers/random.ts';

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
