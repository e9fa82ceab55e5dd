// The ONNX vision tower against a plain straight-loop CLIP vision model (Float64 accumulation),
// on small random weights.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HiddenAct, VisionConfig } from '../../../../gpu-worker/clip/config.ts';
import { getOrBuildGraph } from '../../../../gpu-worker/clip/onnx/graph-cache.ts';
import { buildVisionGraph } from '../../../../gpu-worker/clip/onnx/vision-graph.ts';
import type { HostTensor } from '../../../../gpu-worker/clip/safetensors.ts';
import type { EncoderLayer, VisionWeights } from '../../../../gpu-worker/clip/weights.ts';
import { createOrtSession, runVisionGraph } from '../../../../gpu-worker/runtime/ort.ts';

// ---- seeded random weights ----

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    // mulberry32
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function tensor(rand: () => number, shape: number[], scale: number, offset = 0): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = offset + (rand() * 2 - 1) * scale;
  return { shape, data };
}

function randomLayer(rand: () => number, d: number, inter: number): EncoderLayer {
  const lin = (o: number, i: number) => ({ weight: tensor(rand, [o, i], 1 / Math.sqrt(i)), bias: tensor(rand, [o], 0.1) });
  const ln = () => ({ weight: tensor(rand, [d], 0.2, 1), bias: tensor(rand, [d], 0.1) });
  return { layerNorm1: ln(), q: lin(d, d), k: lin(d, d), v: lin(d, d), out: lin(d, d), layerNorm2: ln(), fc1: lin(inter, d), fc2: lin(d, inter) };
}

function visionConfig(hiddenAct: HiddenAct): VisionConfig {
  return {
    hiddenSize: 32,
    intermediateSize: 64,
    numHiddenLayers: 2,
    numAttentionHeads: 4,
    numChannels: 3,
    imageSize: 16,
    patchSize: 8,
    hiddenAct,
    layerNormEps: 1e-5,
  };
}
const P = 16;

function randomVisionWeights(seed: number, cfg: VisionConfig): VisionWeights {
  const rand = rng(seed);
  const w = cfg.hiddenSize;
  const p = cfg.patchSize;
  const np = (cfg.imageSize / p) ** 2;
  const ln = () => ({ weight: tensor(rand, [w], 0.2, 1), bias: tensor(rand, [w], 0.1) });
  return {
    classEmbedding: tensor(rand, [w], 1),
    patchEmbedding: tensor(rand, [w, cfg.numChannels, p, p], 1 / Math.sqrt(cfg.numChannels * p * p)),
    positionEmbedding: tensor(rand, [1 + np, w], 0.5),
    preLayerNorm: ln(),
    layers: Array.from({ length: cfg.numHiddenLayers }, () => randomLayer(rand, w, cfg.intermediateSize)),
    postLayerNorm: ln(),
    projection: tensor(rand, [P, w], 1 / Math.sqrt(w)),
  };
}

// ---- straight-loop reference (Float64) ----

type Mat = number[][]; // [rows][cols]

function refLinear(x: Mat, w: HostTensor, b?: HostTensor): Mat {
  const [out, inp] = w.shape;
  return x.map((row) => {
    const y = new Array<number>(out);
    for (let o = 0; o < out; o++) {
      let s = b ? b.data[o] : 0;
      for (let i = 0; i < inp; i++) s += row[i] * w.data[o * inp + i];
      y[o] = s;
    }
    return y;
  });
}

function refLayerNorm(x: Mat, w: HostTensor, b: HostTensor, eps: number): Mat {
  return x.map((row) => {
    const n = row.length;
    let mean = 0;
    for (const v of row) mean += v;
    mean /= n;
    let varc = 0;
    for (const v of row) varc += (v - mean) ** 2;
    varc /= n;
    const inv = 1 / Math.sqrt(varc + eps);
    return row.map((v, i) => (v - mean) * inv * w.data[i] + b.data[i]);
  });
}

function erf(x: number): number {
  // Abramowitz–Stegun 7.1.26 is too coarse; use a series / continued fraction accurate to ~1e-15.
  const ax = Math.abs(x);
  if (ax < 3) {
    let sum = ax;
    let term = ax;
    for (let n = 1; n < 200; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction for large |x|
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}

function refAct(v: number, act: HiddenAct): number {
  return act === 'quick_gelu' ? v / (1 + Math.exp(-1.702 * v)) : 0.5 * v * (1 + erf(v / Math.SQRT2));
}

function refLayer(h: Mat, l: EncoderLayer, heads: number, eps: number, act: HiddenAct, causal: boolean): Mat {
  const len = h.length;
  const d = h[0].length;
  const dh = d / heads;
  const x = refLayerNorm(h, l.layerNorm1.weight, l.layerNorm1.bias, eps);
  const q = refLinear(x, l.q.weight, l.q.bias);
  const k = refLinear(x, l.k.weight, l.k.bias);
  const v = refLinear(x, l.v.weight, l.v.bias);
  const ctx: Mat = Array.from({ length: len }, () => new Array<number>(d).fill(0));
  for (let hd = 0; hd < heads; hd++) {
    for (let i = 0; i < len; i++) {
      const last = causal ? i : len - 1;
      const s: number[] = [];
      for (let j = 0; j <= last; j++) {
        let dot = 0;
        for (let c = 0; c < dh; c++) dot += q[i][hd * dh + c] * k[j][hd * dh + c];
        s.push(dot / Math.sqrt(dh));
      }
      const m = Math.max(...s);
      const e = s.map((z) => Math.exp(z - m));
      const sum = e.reduce((a, b) => a + b, 0);
      for (let j = 0; j <= last; j++) {
        for (let c = 0; c < dh; c++) ctx[i][hd * dh + c] += (e[j] / sum) * v[j][hd * dh + c];
      }
    }
  }
  const attn = refLinear(ctx, l.out.weight, l.out.bias);
  const h1 = h.map((row, i) => row.map((z, c) => z + attn[i][c]));
  const y = refLayerNorm(h1, l.layerNorm2.weight, l.layerNorm2.bias, eps);
  const f = refLinear(y, l.fc1.weight, l.fc1.bias).map((row) => row.map((z) => refAct(z, act)));
  const m = refLinear(f, l.fc2.weight, l.fc2.bias);
  return h1.map((row, i) => row.map((z, c) => z + m[i][c]));
}

/** One image: pixels [C, S, S] (flat) → image_embeds [P]. */
function refVision(wt: VisionWeights, cfg: VisionConfig, px: Float32Array): number[] {
  const w = cfg.hiddenSize;
  const c = cfg.numChannels;
  const s = cfg.imageSize;
  const p = cfg.patchSize;
  const grid = s / p;
  const conv = wt.patchEmbedding.data; // [W, C, p, p]
  const tokens: Mat = [Array.from(wt.classEmbedding.data)];
  for (let gy = 0; gy < grid; gy++) {
    for (let gx = 0; gx < grid; gx++) {
      const t = new Array<number>(w).fill(0);
      for (let o = 0; o < w; o++) {
        let sum = 0;
        for (let ch = 0; ch < c; ch++) {
          for (let ky = 0; ky < p; ky++) {
            for (let kx = 0; kx < p; kx++) {
              sum += conv[((o * c + ch) * p + ky) * p + kx] * px[(ch * s + gy * p + ky) * s + gx * p + kx];
            }
          }
        }
        t[o] = sum;
      }
      tokens.push(t);
    }
  }
  let h: Mat = tokens.map((row, i) => row.map((z, k) => z + wt.positionEmbedding.data[i * w + k]));
  h = refLayerNorm(h, wt.preLayerNorm.weight, wt.preLayerNorm.bias, cfg.layerNormEps);
  for (const l of wt.layers) h = refLayer(h, l, cfg.numAttentionHeads, cfg.layerNormEps, cfg.hiddenAct, false);
  const pooled = refLayerNorm([h[0]], wt.postLayerNorm.weight, wt.postLayerNorm.bias, cfg.layerNormEps);
  return refLinear(pooled, wt.projection)[0];
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number): void {
  expect(actual.length).toBe(expected.length);
  let maxRef = 0;
  let maxDiff = 0;
  for (let i = 0; i < expected.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(expected[i]));
    maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
  }
  expect(Number.isFinite(maxDiff)).toBe(true);
  expect(maxDiff).toBeLessThanOrEqual(rel * maxRef);
}

// ---- tests ----

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vision-graph-test-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each<HiddenAct>(['quick_gelu', 'gelu'])('ONNX vision graph (%s)', (act) => {
  const cfg = visionConfig(act);
  const wt = randomVisionWeights(act === 'gelu' ? 13 : 17, cfg);
  const c = cfg.numChannels;
  const s = cfg.imageSize;
  const per = c * s * s;
  let sess: ort.InferenceSession;
  beforeAll(async () => {
    const path = getOrBuildGraph('vision', `tiny-${act}`, dir, () => buildVisionGraph(wt, cfg));
    sess = await createOrtSession(path, { provider: 'cpu', threads: 1 });
  });
  afterAll(async () => sess.release());

  it('matches the straight-loop reference on a batch of images', async () => {
    const n = 3;
    const px = tensor(rng(41), [n, c, s, s], 2).data;
    const got = await runVisionGraph(sess, px, n, c, s);
    expect(got.length).toBe(n * P);
    for (let b = 0; b < n; b++) {
      const want = refVision(wt, cfg, px.subarray(b * per, (b + 1) * per));
      expectClose(got.subarray(b * P, (b + 1) * P), want, 1e-4);
    }
  });

  it('gives an image the same features alone as in a batch', async () => {
    const n = 4;
    const px = tensor(rng(42), [n, c, s, s], 2).data;
    const batched = await runVisionGraph(sess, px, n, c, s);
    for (let b = 0; b < n; b++) {
      const alone = await runVisionGraph(sess, px.slice(b * per, (b + 1) * per), 1, c, s);
      expectClose(alone, batched.subarray(b * P, (b + 1) * P), 1e-5);
    }
  });

  it('rejects a pixel buffer of the wrong size', async () => {
    await expect(runVisionGraph(sess, new Float32Array(per - 1), 1, c, s)).rejects.toThrow(/values for/);
  });
});
