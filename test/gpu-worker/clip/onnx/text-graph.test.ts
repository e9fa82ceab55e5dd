// The ONNX text tower against a plain straight-loop CLIP text model (Float64 accumulation), on small
// random weights; plus causal truncation, batching and the graph cache.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HiddenAct, TextConfig } from '../../../../gpu-worker/clip/config.ts';
import { getOrBuildGraph } from '../../../../gpu-worker/clip/onnx/graph-cache.ts';
import { buildTextGraph } from '../../../../gpu-worker/clip/onnx/text-graph.ts';
import type { HostTensor } from '../../../../gpu-worker/clip/safetensors.ts';
import type { EncoderLayer, TextWeights } from '../../../../gpu-worker/clip/weights.ts';
import { createOrtSession, runTextGraph } from '../../../../gpu-worker/runtime/ort.ts';

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

function textConfig(hiddenAct: HiddenAct): TextConfig {
  return {
    vocabSize: 100,
    hiddenSize: 32,
    intermediateSize: 64,
    numHiddenLayers: 2,
    numAttentionHeads: 4,
    maxPositionEmbeddings: 77,
    hiddenAct,
    layerNormEps: 1e-5,
  };
}
const P = 16;

function randomTextWeights(seed: number, cfg: TextConfig): TextWeights {
  const rand = rng(seed);
  const d = cfg.hiddenSize;
  return {
    tokenEmbedding: tensor(rand, [cfg.vocabSize, d], 1),
    positionEmbedding: tensor(rand, [cfg.maxPositionEmbeddings, d], 0.5),
    layers: Array.from({ length: cfg.numHiddenLayers }, () => randomLayer(rand, d, cfg.intermediateSize)),
    finalLayerNorm: { weight: tensor(rand, [d], 0.2, 1), bias: tensor(rand, [d], 0.1) },
    projection: tensor(rand, [P, d], 1 / Math.sqrt(d)),
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

/** One prompt: embeddings [L, D] (only rows 0..eot are read) → text_embeds [P]. */
function refText(w: TextWeights, cfg: TextConfig, embeds: Mat, eot: number): number[] {
  const d = cfg.hiddenSize;
  let h: Mat = embeds.slice(0, eot + 1).map((row, i) => row.map((z, c) => z + w.positionEmbedding.data[i * d + c]));
  for (const l of w.layers) h = refLayer(h, l, cfg.numAttentionHeads, cfg.layerNormEps, cfg.hiddenAct, true);
  const pooled = refLayerNorm([h[eot]], w.finalLayerNorm.weight, w.finalLayerNorm.bias, cfg.layerNormEps);
  return refLinear(pooled, w.projection)[0];
}

// ---- helpers ----

/** Token ids → embeddings [n, L, D] (flat) with garbage ids after each EOT. */
function embedBatch(w: TextWeights, ids: number[][], len: number, rand: () => number): Float32Array {
  const d = w.tokenEmbedding.shape[1];
  const out = new Float32Array(ids.length * len * d);
  ids.forEach((row, n) => {
    for (let i = 0; i < len; i++) {
      const id = i < row.length ? row[i] : Math.floor(rand() * w.tokenEmbedding.shape[0]);
      out.set(w.tokenEmbedding.data.subarray(id * d, (id + 1) * d), (n * len + i) * d);
    }
  });
  return out;
}

function rowsOf(flat: Float32Array, n: number, len: number, d: number): Mat[] {
  return Array.from({ length: n }, (_, b) =>
    Array.from({ length: len }, (_, i) => Array.from(flat.subarray((b * len + i) * d, (b * len + i + 1) * d))),
  );
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
  dir = mkdtempSync(join(tmpdir(), 'text-graph-test-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function session(bytes: Uint8Array, name: string): Promise<ort.InferenceSession> {
  const path = getOrBuildGraph('text', name, dir, () => bytes);
  return createOrtSession(path, { provider: 'cpu', threads: 1 });
}

// SOT=98, EOT=99; prompts of different lengths
const PROMPTS = [
  [98, 5, 17, 99],
  [98, 3, 44, 12, 61, 7, 2, 99],
  [98, 99],
  [98, 10, 20, 30, 40, 50, 60, 70, 80, 90, 1, 99],
  [98, 33, 99],
];

describe.each<HiddenAct>(['quick_gelu', 'gelu'])('ONNX text graph (%s)', (act) => {
  const cfg = textConfig(act);
  const w = randomTextWeights(act === 'gelu' ? 7 : 3, cfg);
  const d = cfg.hiddenSize;
  const eot = PROMPTS.map((p) => p.length - 1);
  const n = PROMPTS.length;
  let s: ort.InferenceSession;
  beforeAll(async () => {
    s = await session(buildTextGraph(w, cfg), `tiny-${act}`);
  });
  afterAll(async () => s.release());

  it('matches the straight-loop reference on a batch with different EOT positions', async () => {
    const len = Math.max(...eot) + 1;
    const embeds = embedBatch(w, PROMPTS, len, rng(11));
    const got = await runTextGraph(s, embeds, n, len, d, eot);
    expect(got.length).toBe(n * P);
    const rows = rowsOf(embeds, n, len, d);
    const want = rows.flatMap((r, b) => refText(w, cfg, r, eot[b]));
    expectClose(got, want, 1e-4);
    for (let b = 0; b < n; b++) expectClose(got.subarray(b * P, (b + 1) * P), want.slice(b * P, (b + 1) * P), 1e-4);
  });

  it('gives the same outputs for seq = max(eot)+1 and seq = 77 with garbage after the EOT', async () => {
    const short = Math.max(...eot) + 1;
    const full = cfg.maxPositionEmbeddings;
    const a = await runTextGraph(s, embedBatch(w, PROMPTS, short, rng(21)), n, short, d, eot);
    const b = await runTextGraph(s, embedBatch(w, PROMPTS, full, rng(22)), n, full, d, eot);
    expectClose(a, b, 1e-5);
  });

  it('gives each prompt the same features alone as in a batch', async () => {
    const len = Math.max(...eot) + 1;
    const batched = await runTextGraph(s, embedBatch(w, PROMPTS, len, rng(31)), n, len, d, eot);
    for (let b = 0; b < n; b++) {
      const own = eot[b] + 1;
      const alone = await runTextGraph(s, embedBatch(w, [PROMPTS[b]], own, rng(32)), 1, own, d, [eot[b]]);
      expectClose(alone, batched.subarray(b * P, (b + 1) * P), 1e-5);
    }
  });
});

describe('text graph runner and cache', () => {
  const cfg = textConfig('quick_gelu');
  const w = randomTextWeights(5, cfg);

  it('rejects EOT indices outside the sequence', async () => {
    const s = await session(buildTextGraph(w, cfg), 'tiny-eot-check');
    const embeds = new Float32Array(2 * 4 * cfg.hiddenSize);
    await expect(runTextGraph(s, embeds, 2, 4, cfg.hiddenSize, [3, 4])).rejects.toThrow(/EOT index 4/);
    await expect(runTextGraph(s, embeds, 2, 4, cfg.hiddenSize, [3])).rejects.toThrow(/EOT indices/);
    await s.release();
  });

  it('builds a graph once per (kind, weights hash) and reuses the file', () => {
    const cacheDir = join(dir, 'cache');
    let builds = 0;
    const build = () => {
      builds++;
      return buildTextGraph(w, cfg);
    };
    const hash = 'ab'.repeat(32);
    const first = getOrBuildGraph('text', hash, cacheDir, build);
    const second = getOrBuildGraph('text', hash, cacheDir, build);
    expect(second).toBe(first);
    expect(builds).toBe(1);
    expect(first).toContain('text');
    expect(first).toContain(hash);
    const other = getOrBuildGraph('vision', hash, cacheDir, () => new Uint8Array([1]));
    expect(other).not.toBe(first);
    expect(readdirSync(cacheDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(() => getOrBuildGraph('text', '../evil', cacheDir, build)).toThrow(/invalid weights hash/);
  });

  it("'auto' provider falls back to CPU with at most one log line", async () => {
    const path = getOrBuildGraph('text', 'tiny-auto', dir, () => buildTextGraph(w, cfg));
    const lines: string[] = [];
    const s = await createOrtSession(path, { provider: 'auto', threads: 1, log: (l) => lines.push(l) });
    expect(lines.length).toBeLessThanOrEqual(1);
    for (const l of lines) expect(l).toMatch(/^onnxruntime: CUDA provider unavailable \(.*\), using CPU$/);
    const out = await runTextGraph(s, embedBatch(w, [PROMPTS[0]], 4, rng(1)), 1, 4, cfg.hiddenSize, [3]);
    expect(out.length).toBe(P);
    await s.release();
  });
});
