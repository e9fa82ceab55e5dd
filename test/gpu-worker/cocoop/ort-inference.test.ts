// CoCoOp / CoOp / zero-shot inference on ONNX Runtime (gpu-worker/cocoop/ort-inference.ts):
// the optimized path (batched, truncated, prefix-shared, cached) against the official-style naive
// path, and the naive path against the independent Float64 reference (test/reference/clip-plain.ts);
// the prefix + suffix graphs against the full text graph.
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initLinear, type AdapterParams } from '../../../gpu-worker/cocoop/adapter.ts';
import {
  CocoopInference,
  naiveOfficialLogits,
  planLengthBuckets,
  PrefixSharedTextTower,
} from '../../../gpu-worker/cocoop/ort-inference.ts';
import { ctxFromPhrase } from '../../../gpu-worker/cocoop/prompts.ts';
import { makeModel } from '../../../gpu-worker/clip/make-model.ts';
import { loadClipModel, type ClipModel } from '../../../gpu-worker/clip/model.ts';
import { OrtClipEncoders } from '../../../gpu-worker/clip/ort-encoders.ts';
import { loadPlainModel, plainLogitScale, plainTextFeaturesFromEmbeds, type PlainModel } from '../../reference/clip-plain.ts';
import { relErr, relErrRows } from '../../helpers/numeric.ts';
import { randomInt, randomTensor, SeededRandom } from '../../helpers/random.ts';
import { useTmpDir } from '../../helpers/tmp.ts';

const REAL_VOCAB = resolve(process.cwd(), 'models/clip-vocab');
const quiet = () => {};

/** Labels of every shape: one token, "_" (read as a space), multi-token, accents, digits, punctuation, never trained on. */
const LABELS = ['cat', 'golden_retriever', 'Airbus A380-800 (never seen in training)', 'x', 'crème_brûlée', 'sea lion', 'a b c d e f g h i j'];

describe('CoCoOp / CoOp / zero-shot inference on ONNX Runtime', () => {
  const dir = useTmpDir('cocoop-infer-');
  let model: ClipModel;
  let plain: PlainModel;
  let encoders: OrtClipEncoders;
  let inference: CocoopInference;
  let features: Float32Array; // [N, P] image features from the image tower
  const N = 5;
  let d: number;
  let p: number;
  let cocoop: AdapterParams;
  let coop: AdapterParams;

  beforeAll(async () => {
    makeModel({ preset: 'tiny', seed: 21, out: dir, vocabDir: REAL_VOCAB });
    model = loadClipModel(dir);
    plain = loadPlainModel(dir);
    encoders = new OrtClipEncoders(model, { provider: 'cpu', log: quiet });
    inference = new CocoopInference(encoders, { provider: 'cpu', log: quiet });
    d = model.config.text.hiddenSize;
    p = model.config.projectionDim;
    const v = model.config.vision;
    const rng = new SeededRandom(3);
    features = await encoders.encodePixels(rng.fillNormal(new Float32Array(N * v.numChannels * v.imageSize ** 2), 1), N);

    // CoCoOp: ctx from "a photo of a" plus noise; a meta-net with 4 hidden units (weights large
    // enough that π(x) clearly differs between images).
    const ctx = ctxFromPhrase(model.tokenizer, model.weights.text.tokenEmbedding, 'a photo of a');
    ctx.data = ctx.data.map((x) => x + 0.05 * rng.normal());
    const scaleUp = (l: ReturnType<typeof initLinear>, s: number) => ({
      weight: { shape: l.weight.shape, data: l.weight.data.map((x) => x * s) },
      bias: { shape: l.bias.shape, data: l.bias.data.map((x) => x * s) },
    });
    cocoop = {
      method: 'cocoop',
      ctx,
      metaNet: { linear1: scaleUp(initLinear(rng, 4, p), 3), linear2: scaleUp(initLinear(rng, d, 4), 2) },
      ctxInit: 'a photo of a',
    };
    // CoOp: 6 random context vectors.
    coop = { method: 'coop', ctx: randomTensor(rng, [6, d], 0.5), ctxInit: '' };
  });

  afterAll(async () => {
    await inference?.release();
    await encoders?.release();
  });

  /** Float64 CoCoOp/CoOp logits [N, C] from the reference model (prompt embeddings built here). */
  function referenceLogits(adapter: AdapterParams, labels: string[]): number[][] {
    const tok = plain.tensors.get('text_model.embeddings.token_embedding.weight')!.data;
    const row = (id: number) => Array.from(tok.subarray(id * d, (id + 1) * d));
    const [m] = adapter.ctx.shape;
    const scale = Math.exp(plainLogitScale(plain));
    return Array.from({ length: N }, (_, i) => {
      const f = Array.from(features.subarray(i * p, (i + 1) * p));
      const fn = Math.hypot(...f);
      const x = f.map((v) => v / fn);
      let bias = new Array<number>(d).fill(0);
      if (adapter.metaNet) {
        const { linear1: l1, linear2: l2 } = adapter.metaNet;
        const [h] = l1.weight.shape;
        const hid = Array.from({ length: h }, (_, o) => Math.max(0, l1.bias.data[o] + x.reduce((s, v, j) => s + l1.weight.data[o * p + j] * v, 0)));
        bias = Array.from({ length: d }, (_, o) => l2.bias.data[o] + hid.reduce((s, v, j) => s + l2.weight.data[o * h + j] * v, 0));
      }
      const ctxRows = Array.from({ length: m }, (_, r) => Array.from({ length: d }, (_, j) => adapter.ctx.data[r * d + j] + bias[j]));
      return labels.map((label) => {
        const body = model.tokenizer.encodeBody(`${label.split('_').join(' ')}.`);
        const embeds = [row(model.tokenizer.sotId), ...ctxRows, ...body.map(row), row(model.tokenizer.eotId)];
        const t = plainTextFeaturesFromEmbeds(plain, embeds, embeds.length - 1);
        const dot = t.reduce((s, v, j) => s + v * x[j], 0);
        return (scale * dot) / Math.hypot(...t);
      });
    });
  }

  const rowsOf = (flat: Float32Array, c: number) => Array.from({ length: flat.length / c }, (_, i) => Array.from(flat.subarray(i * c, (i + 1) * c)));

  it('CoCoOp: naive (official-style) equals the Float64 reference; optimized and batched equal naive within 1e-4', async () => {
    const naive = await naiveOfficialLogits(encoders, features, N, LABELS, cocoop);
    const ref = referenceLogits(cocoop, LABELS);
    expect(relErrRows(naive, ref)).toBeLessThan(1e-4);
    // The adapter matters: per-image prompts differ from the CoOp-style static ones.
    const noMeta = referenceLogits({ ...cocoop, metaNet: undefined }, LABELS);
    expect(relErrRows(naive, noMeta)).toBeGreaterThan(1e-2);

    const fast = await inference.logits(features, N, LABELS, cocoop);
    expect(relErr(fast, naive)).toBeLessThan(1e-4);
    const batched = new CocoopInference(encoders, { provider: 'cpu', log: quiet, sharePrefix: false });
    expect(relErr(await batched.logits(features, N, LABELS, cocoop), naive)).toBeLessThan(1e-4);
    await batched.release();
    // Tiny call limits: prefixes of 2 images per call, suffix calls split by classes.
    const chunked = new CocoopInference(encoders, { provider: 'cpu', log: quiet, maxTokensPerCall: 77, maxPrefixBatch: 2 });
    expect(relErr(await chunked.logits(features, N, LABELS, cocoop), naive)).toBeLessThan(1e-4);
    await chunked.release();
  });

  it('CoOp: optimized equals naive and the reference; text features cached per (adapter, labels)', async () => {
    const naive = await naiveOfficialLogits(encoders, features, N, LABELS, coop);
    expect(relErrRows(naive, referenceLogits(coop, LABELS))).toBeLessThan(1e-4);
    const before = inference.cacheStats;
    const fast = await inference.logits(features, N, LABELS, coop);
    expect(relErr(fast, naive)).toBeLessThan(1e-4);
    expect(inference.cacheStats.misses).toBe(before.misses + 1);
    const again = await inference.logits(features.subarray(0, 2 * p), 2, LABELS, coop);
    expect(inference.cacheStats.hits).toBe(before.hits + 1);
    expect(Array.from(again)).toEqual(Array.from(fast.subarray(0, 2 * LABELS.length)));
    // Same ctx contents in a new object: a hit; changed contents or labels: a miss.
    await inference.logits(features, N, LABELS, { ...coop, ctx: { shape: [...coop.ctx.shape], data: coop.ctx.data.slice() } });
    expect(inference.cacheStats.hits).toBe(before.hits + 2);
    const changed = { ...coop, ctx: { shape: coop.ctx.shape, data: coop.ctx.data.map((x, i) => (i === 0 ? x + 1 : x)) } };
    await inference.logits(features, N, LABELS, changed);
    await inference.logits(features, N, LABELS.slice(1), coop);
    expect(inference.cacheStats.misses).toBe(before.misses + 3);
  });

  it('zero-shot: optimized equals naive; cached per label set', async () => {
    const naive = await naiveOfficialLogits(encoders, features, N, LABELS, null);
    const before = inference.cacheStats;
    const fast = await inference.logits(features, N, LABELS, null);
    expect(relErr(fast, naive)).toBeLessThan(1e-4);
    const again = await inference.logits(features, N, LABELS, null);
    expect(Array.from(again)).toEqual(Array.from(fast));
    expect(inference.cacheStats).toMatchObject({ hits: before.hits + 1, misses: before.misses + 1 });
    // Zero-shot text = "a photo of a {c}." through the token path.
    const ids = LABELS.map((c) => model.tokenizer.encode(`a photo of a ${c.replace(/_/g, ' ')}.`));
    const text = await encoders.encodeTokenIds(ids);
    const direct = rowsOf(fast, LABELS.length).map((_, i) => {
      const f = features.subarray(i * p, (i + 1) * p);
      return LABELS.map((_, k) => {
        const t = text.subarray(k * p, (k + 1) * p);
        let dot = 0;
        for (let j = 0; j < p; j++) dot += t[j] * f[j];
        return (Math.exp(model.weights.logitScale) * dot) / Math.hypot(...t) / Math.hypot(...f);
      });
    });
    expect(relErrRows(fast, direct)).toBeLessThan(1e-5);
  });

  it('the class order and a single class are respected', async () => {
    const labels = [...LABELS].reverse();
    const a = rowsOf(await inference.logits(features, N, LABELS, cocoop), LABELS.length);
    const b = rowsOf(await inference.logits(features, N, labels, cocoop), labels.length);
    expect(relErrRows(b.flat(), a.map((r) => [...r].reverse()))).toBeLessThan(1e-5);
    const one = await inference.logits(features, N, ['golden_retriever'], cocoop);
    expect(relErr(one, a.map((r) => r[1]))).toBeLessThan(1e-5);
  });

  it('prefix graph + suffix graph equal the full text graph within 1e-5 (any prefix length, junk after the EOT)', async () => {
    const tower = new PrefixSharedTextTower(model, { provider: 'cpu', log: quiet });
    const rng = new SeededRandom(17);
    for (const p0 of [1, 5, 12]) {
      const nPrefix = 3;
      const rows = 7;
      const seq = 6;
      const prefix = rng.fillNormal(new Float32Array(nPrefix * p0 * d), 0.3);
      const suffix = rng.fillNormal(new Float32Array(rows * seq * d), 0.3);
      const eot = Array.from({ length: rows }, (_, r) => (r === 0 ? seq - 1 : randomInt(rng, seq)));
      const rowPrefix = Array.from({ length: rows }, (_, r) => (r < nPrefix ? r : randomInt(rng, nPrefix)));
      const state = await tower.encodePrefix(prefix, nPrefix, p0);
      expect(state.keys.dims).toEqual([model.config.text.numHiddenLayers, nPrefix, model.config.text.numAttentionHeads, p0, d / model.config.text.numAttentionHeads]);
      const split = await tower.encodeSuffix(state, suffix, rows, seq, eot, rowPrefix);

      const len = p0 + seq;
      const full = new Float32Array(rows * len * d);
      for (let r = 0; r < rows; r++) {
        full.set(prefix.subarray(rowPrefix[r] * p0 * d, (rowPrefix[r] + 1) * p0 * d), r * len * d);
        full.set(suffix.subarray(r * seq * d, (r + 1) * seq * d), (r * len + p0) * d);
      }
      const whole = await encoders.encodeEmbeddings(full, rows, len, eot.map((e) => p0 + e));
      expect(relErrRows(split, rowsOf(whole, p))).toBeLessThan(1e-5);
    }
    await expect(tower.encodeSuffix(await tower.encodePrefix(new Float32Array(2 * d), 1, 2), new Float32Array(d), 1, 1, [1], [0])).rejects.toThrow(/EOT index/);
    await expect(tower.encodeSuffix(await tower.encodePrefix(new Float32Array(2 * d), 1, 2), new Float32Array(d), 1, 1, [0], [1])).rejects.toThrow(/prefix index/);
    await tower.release();
  });

  it('rejects adapters that do not fit, and bad image features', async () => {
    await expect(inference.logits(features, N, LABELS, { ...cocoop, metaNet: undefined })).rejects.toThrow(/meta-net/);
    await expect(inference.logits(features, N, LABELS, { ...coop, metaNet: cocoop.metaNet })).rejects.toThrow(/no meta-net/);
    await expect(inference.logits(features, N, LABELS, { ...coop, ctx: randomTensor(new SeededRandom(1), [4, d + 1], 1) })).rejects.toThrow(/ctx/);
    await expect(inference.logits(features, N + 1, LABELS, null)).rejects.toThrow(/image feature/);
    await expect(inference.logits(features, N, ['a', 'a'], null)).rejects.toThrow(/duplicate/);
  });
});

describe('planLengthBuckets', () => {
  it('covers every class once, sorted by length; merges lengths only when padding is cheaper than a call', () => {
    const lens = [3, 5, 3, 9, 4, 5, 3];
    const free = planLengthBuckets(lens, 0);
    expect(free.map((b) => b.map((k) => lens[k]))).toEqual([[3, 3, 3], [4], [5, 5], [9]]);
    expect(free.flat().sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(planLengthBuckets(lens, 1000)).toEqual([[0, 2, 6, 4, 1, 5, 3]]);
  });
});
