// The one-call CoCoOp / CoOp training step graph ('cocoop-step', cocoop-step-graph.ts) on tiny and small
// random text towers: N prefixes, C classes whose suffixes have different lengths (zero-padded after the
// EOT), B = N images (CoCoOp), B = 1·… images on one prefix (CoOp) and B = 2N. Checked against:
//   (a) logits and loss from the full text graph's features (text-graph.ts on [prefix ‖ suffix]) and a
//       Float64 host loss;
//   (b) the gradient of the chain full VJP graph (text-vjp-graph.ts) ∘ host loss gradient dt, summed over
//       each prefix's rows at positions 0..P0-1;
//   (c) Float64 central differences of the plain reference (test/reference/clip-plain.ts) and a Float64
//       host loss: directional derivatives along random unit directions of prefix_embeds;
//   (d) junk after each EOT (instead of zeros) changes no output bit; a longer S (more zero padding)
//       changes nothing beyond rounding (1e-5);
//   and the graph holds standard opset-17 ops only.
import onnxProto from 'onnx-proto';
import type * as ort from 'onnxruntime-node';
import * as ortRuntime from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HiddenAct } from '../../../../gpu-worker/clip/config.ts';
import { buildCocoopStepGraph } from '../../../../gpu-worker/clip/onnx/cocoop-step-graph.ts';
import { type GraphKind, getOrBuildGraph } from '../../../../gpu-worker/clip/onnx/graph-cache.ts';
import { buildTextGraph } from '../../../../gpu-worker/clip/onnx/text-graph.ts';
import { buildTextVjpGraph } from '../../../../gpu-worker/clip/onnx/text-vjp-graph.ts';
import { createOrtSession, runTextGraph } from '../../../../gpu-worker/runtime/ort.ts';
import { plainTextFeaturesFromEmbeds } from '../../../reference/clip-plain.ts';
import { relErr } from '../../../helpers/numeric.ts';
import { randomInt, SeededRandom } from '../../../helpers/random.ts';
import { embedWithJunk, SMALL_TEXT, TINY_EOT, TINY_SOT, tinyClip } from '../../../helpers/tiny-clip.ts';
import { useTmpDir } from '../../../helpers/tmp.ts';

const dir = useTmpDir('cocoop-step-test-');

interface Case {
  name: string;
  act: HiddenAct;
  text?: Record<string, number>;
  projectionDim?: number;
  prefixes: number; // N
  images: number; // B (a multiple of N)
  prefixLen: number; // P0
  /** Body length of each class's suffix (suffix = body + EOT); S = the longest suffix. */
  bodies: number[];
  /** Directional derivatives against Float64 central differences of the reference. */
  fdDirections: number;
}

const CASES: Case[] = [
  { name: 'CoCoOp tiny quick_gelu, N=B=2, C=3, P0=4', act: 'quick_gelu', prefixes: 2, images: 2, prefixLen: 4, bodies: [1, 3, 0], fdDirections: 6 },
  { name: 'CoCoOp tiny gelu, N=B=3, C=4, P0=3', act: 'gelu', prefixes: 3, images: 3, prefixLen: 3, bodies: [2, 0, 4, 1], fdDirections: 6 },
  { name: 'CoCoOp tiny gelu, N=B=3, C=3, P0=5', act: 'gelu', prefixes: 3, images: 3, prefixLen: 5, bodies: [3, 1, 2], fdDirections: 6 },
  { name: 'CoCoOp small quick_gelu, N=B=2, C=4, P0=5', act: 'quick_gelu', text: SMALL_TEXT, projectionDim: 64, prefixes: 2, images: 2, prefixLen: 5, bodies: [3, 1, 5, 2], fdDirections: 3 },
  { name: 'CoCoOp small gelu, N=B=3, C=3, P0=3', act: 'gelu', text: SMALL_TEXT, projectionDim: 64, prefixes: 3, images: 3, prefixLen: 3, bodies: [4, 0, 2], fdDirections: 3 },
  { name: 'CoOp tiny gelu, N=1, B=3, C=4, P0=4', act: 'gelu', prefixes: 1, images: 3, prefixLen: 4, bodies: [1, 4, 2, 0], fdDirections: 6 },
  { name: 'CoOp small quick_gelu, N=1, B=4, C=3, P0=5', act: 'quick_gelu', text: SMALL_TEXT, projectionDim: 64, prefixes: 1, images: 4, prefixLen: 5, bodies: [2, 5, 1], fdDirections: 3 },
  { name: 'tiny quick_gelu, N=2, B=4 (2 images per prefix), C=3, P0=3', act: 'quick_gelu', prefixes: 2, images: 4, prefixLen: 3, bodies: [0, 2, 3], fdDirections: 6 },
];

/** Central-difference step along a unit direction (as text-prefix-vjp-graphs.test.ts). */
const H = 1e-4;

/** Loss, logits and dL/dt of the step in Float64 from text features t [N·C][P] (image b uses prefix ⌊b/(B/N)⌋). */
function hostLoss(t: ArrayLike<number>[], x: Float64Array[], labels: number[], c: number, n: number, scale: number) {
  const b = x.length;
  const k = b / n;
  const norms = t.map((row) => {
    let s = 0;
    for (let j = 0; j < row.length; j++) s += row[j] * row[j];
    return Math.sqrt(s);
  });
  const logits = x.map((xb, i) => Array.from({ length: c }, (_, cls) => {
    const r = Math.floor(i / k) * c + cls;
    let dot = 0;
    for (let j = 0; j < xb.length; j++) dot += xb[j] * t[r][j];
    return (scale * dot) / norms[r];
  }));
  let loss = 0;
  const dt = t.map((row) => new Float64Array(row.length));
  const dtn = t.map((row) => new Float64Array(row.length)); // ∂L/∂t̂
  logits.forEach((z, i) => {
    const max = Math.max(...z);
    const logSum = max + Math.log(z.reduce((s, v) => s + Math.exp(v - max), 0));
    loss += (logSum - z[labels[i]]) / b;
    z.forEach((v, cls) => {
      const g = ((Math.exp(v - logSum) - (cls === labels[i] ? 1 : 0)) / b) * scale;
      const r = Math.floor(i / k) * c + cls;
      for (let j = 0; j < x[i].length; j++) dtn[r][j] += g * x[i][j];
    });
  });
  t.forEach((row, r) => {
    let dot = 0;
    for (let j = 0; j < row.length; j++) dot += (row[j] / norms[r]) * dtn[r][j];
    for (let j = 0; j < row.length; j++) dt[r][j] = (dtn[r][j] - (row[j] / norms[r]) * dot) / norms[r];
  });
  return { loss, logits: logits.flat(), dt };
}

describe.each(CASES)('cocoop-step graph: $name', (tc) => {
  const { weights, config, plain } = tinyClip(31, { act: tc.act, text: tc.text, projectionDim: tc.projectionDim });
  const cfg = config.text;
  const d = cfg.hiddenSize;
  const p = config.projectionDim;
  const { prefixes: n, images: b, prefixLen: p0, bodies } = tc;
  const c = bodies.length;
  const nRows = n * c;
  const seq = Math.max(...bodies) + 1; // S: the longest suffix
  const rng = new SeededRandom(n * 1009 + b * 101 + c * 13 + p0);
  const table = weights.text.tokenEmbedding;
  const scale = Math.exp(weights.logitScale);

  // Prefixes: SOT + P0-1 random rows (as context vectors + π(x) would be). Suffixes: class body + EOT,
  // the same C classes for every prefix, image-major; zeros after the EOT (and a junk-padded copy).
  const prefixIds = Array.from({ length: n }, () => [TINY_SOT, ...Array.from({ length: p0 - 1 }, () => randomInt(rng, TINY_SOT))]);
  const prefixEmbeds = embedWithJunk(table, prefixIds, p0, rng); // [N, P0, D]
  for (let i = 0; i < prefixEmbeds.length; i++) if (i % (p0 * d) >= d) prefixEmbeds[i] += 0.05 * rng.normal(); // off the token table
  const classIds = bodies.map((k) => [...Array.from({ length: k }, () => randomInt(rng, TINY_SOT)), TINY_EOT]);
  const rowIds = Array.from({ length: nRows }, (_, r) => classIds[r % c]);
  const eot = rowIds.map((ids) => ids.length - 1);
  const suffixJunk = embedWithJunk(table, rowIds, seq, rng); // [R, S, D], junk after each EOT
  const suffixEmbeds = suffixJunk.slice();
  for (let r = 0; r < nRows; r++) suffixEmbeds.fill(0, (r * seq + eot[r] + 1) * d, (r + 1) * seq * d); // zeros after each EOT
  const x = Array.from({ length: b }, () => {
    const v = Float64Array.from({ length: p }, () => rng.normal());
    const norm = Math.hypot(...v);
    return v.map((e) => e / norm);
  });
  const labels = Array.from({ length: b }, () => randomInt(rng, c));
  const imageFeatures = Float32Array.from(x.flatMap((v) => Array.from(v))); // [B, P]
  const onehot = new Float32Array(b * c);
  labels.forEach((y, i) => (onehot[i * c + y] = 1));

  // The concatenated prompts [prefix ‖ suffix]: [R, P0+S, D], EOT at P0 + eot[r]; row r continues prefix ⌊r/C⌋.
  const full = p0 + seq;
  const fullEmbeds = new Float32Array(nRows * full * d);
  for (let r = 0; r < nRows; r++) {
    const pre = Math.floor(r / c);
    fullEmbeds.set(prefixEmbeds.subarray(pre * p0 * d, (pre + 1) * p0 * d), r * full * d);
    fullEmbeds.set(suffixEmbeds.subarray(r * seq * d, (r + 1) * seq * d), (r * full + p0) * d);
  }
  const fullEot = eot.map((e) => p0 + e);

  const sessions: ort.InferenceSession[] = [];
  const key = tc.name.replace(/[^a-z0-9]+/gi, '-');
  const open = async (kind: GraphKind, build: () => Uint8Array) => {
    const s = await createOrtSession(getOrBuildGraph(kind, key, dir, build), { provider: 'cpu', threads: 1 });
    sessions.push(s);
    return s;
  };
  const f32 = (data: Float32Array, dims: number[]) => new ortRuntime.Tensor('float32', data, dims);
  const i64 = (data: number[]) => new ortRuntime.Tensor('int64', BigInt64Array.from(data, BigInt), [data.length]);

  let graphBytes: Uint8Array;
  let step: ort.InferenceSession;
  let mine: { loss: number; logits: Float32Array; grad: Float32Array };
  let want: ReturnType<typeof hostLoss>; // from the full text graph's features
  let fullGrad: Float32Array; // the full VJP graph's grad_inputs_embeds [R, P0+S, D] for upstream dt

  const runStep = async (suffix: Float32Array, len = seq) => {
    const out = await step.run({
      prefix_embeds: f32(prefixEmbeds, [n, p0, d]),
      suffix_embeds: f32(suffix, [nRows, len, d]),
      eot_index: i64(eot),
      image_features: f32(imageFeatures, [b, p]),
      labels_onehot: f32(onehot, [b, c]),
      logit_scale: f32(new Float32Array([scale]), []),
    });
    expect(out.loss.dims).toEqual([]);
    expect(out.logits.dims).toEqual([b, c]);
    expect(out.grad_prefix_embeds.dims).toEqual([n, p0, d]);
    return { loss: (out.loss.data as Float32Array)[0], logits: out.logits.data as Float32Array, grad: out.grad_prefix_embeds.data as Float32Array };
  };

  beforeAll(async () => {
    const w = weights.text;
    graphBytes = buildCocoopStepGraph(w, cfg);
    step = await open('cocoop-step', () => graphBytes);
    const textS = await open('text', () => buildTextGraph(w, cfg));
    const vjpS = await open('text-vjp', () => buildTextVjpGraph(w, cfg));

    mine = await runStep(suffixEmbeds);
    const feats = await runTextGraph(textS, fullEmbeds, nRows, full, d, fullEot); // [R, P]
    want = hostLoss(Array.from({ length: nRows }, (_, r) => feats.subarray(r * p, (r + 1) * p)), x, labels, c, n, scale);
    const up = Float32Array.from(want.dt.flatMap((row) => Array.from(row))); // [R, P]
    const fv = await vjpS.run({ inputs_embeds: f32(fullEmbeds, [nRows, full, d]), eot_index: i64(fullEot), grad_text_embeds: f32(up, [nRows, p]) });
    fullGrad = fv.grad_inputs_embeds.data as Float32Array;
  });
  afterAll(async () => {
    for (const s of sessions) await s.release();
  });

  it('(a) logits and loss equal the host loss on the full text graph features within 1e-5', () => {
    expect(relErr(mine.logits, want.logits)).toBeLessThan(1e-5);
    expect(Math.abs(mine.loss - want.loss) / Math.abs(want.loss)).toBeLessThan(1e-5);
  });

  it("(b) grad_prefix_embeds equals the full VJP graph's at positions 0..P0-1, summed over each prefix's rows, within 1e-4", () => {
    const sum = new Float64Array(n * p0 * d);
    for (let r = 0; r < nRows; r++) {
      const pre = Math.floor(r / c);
      for (let i = 0; i < p0 * d; i++) sum[pre * p0 * d + i] += fullGrad[r * full * d + i];
    }
    expect(relErr(mine.grad, sum)).toBeLessThan(1e-4);
    for (let pre = 0; pre < n; pre++) {
      const slice = (a: ArrayLike<number>) => Array.from({ length: p0 * d }, (_, i) => a[pre * p0 * d + i]);
      expect(relErr(slice(mine.grad), slice(sum)), `prefix ${pre}`).toBeLessThan(1e-4);
    }
  });

  it('(c) directional derivatives equal Float64 central differences of the plain reference within 1e-4', () => {
    const rows = (flat: Float32Array, count: number, len: number) =>
      Array.from({ length: count }, (_, i) => Array.from({ length: len }, (_, t) => Float64Array.from(flat.subarray((i * len + t) * d, (i * len + t + 1) * d))));
    const prefixRows = rows(prefixEmbeds, n, p0);
    const suffixRows = rows(suffixEmbeds, nRows, seq);
    const loss = (shift: number, w: Float64Array): number => {
      const shifted = prefixRows.map((pre, i) => pre.map((row, t) => row.map((v, j) => v + shift * w[(i * p0 + t) * d + j])));
      const t = Array.from({ length: nRows }, (_, r) => plainTextFeaturesFromEmbeds(plain, [...shifted[Math.floor(r / c)], ...suffixRows[r].slice(0, eot[r] + 1)], p0 + eot[r]));
      return hostLoss(t, x, labels, c, n, scale).loss;
    };
    const fd: number[] = [];
    const got: number[] = [];
    for (let k = 0; k < tc.fdDirections; k++) {
      const w = Float64Array.from({ length: n * p0 * d }, () => rng.normal());
      const norm = Math.hypot(...w);
      for (let i = 0; i < w.length; i++) w[i] /= norm;
      fd.push((loss(H, w) - loss(-H, w)) / (2 * H));
      got.push(mine.grad.reduce((s, v, i) => s + v * w[i], 0));
    }
    expect(relErr(got, fd)).toBeLessThan(1e-4);
    expect(Math.abs(mine.loss - loss(0, new Float64Array(n * p0 * d))) / mine.loss).toBeLessThan(1e-5);
  });

  it('(d) junk after each EOT changes no output', async () => {
    const junk = await runStep(suffixJunk);
    expect(junk.loss).toBe(mine.loss);
    expect(Array.from(junk.logits)).toEqual(Array.from(mine.logits));
    expect(Array.from(junk.grad)).toEqual(Array.from(mine.grad));
  });

  it('(d) a longer S (zeros up to S + 3) gives the same outputs within 1e-5 (attention sums of other shapes)', async () => {
    const longer = seq + 3;
    const padded = new Float32Array(nRows * longer * d);
    for (let r = 0; r < nRows; r++) padded.set(suffixEmbeds.subarray(r * seq * d, (r + 1) * seq * d), r * longer * d);
    const out = await runStep(padded, longer);
    expect(Math.abs(out.loss - mine.loss) / mine.loss).toBeLessThan(1e-5);
    expect(relErr(out.logits, mine.logits)).toBeLessThan(1e-5);
    expect(relErr(out.grad, mine.grad)).toBeLessThan(1e-5);
  });

  it('holds standard opset-17 ops only', () => {
    const model = onnxProto.onnx.ModelProto.decode(graphBytes);
    expect(model.opsetImport.map((o) => [o.domain ?? '', Number(o.version)])).toEqual([['', 17]]);
    expect(model.graph!.node!.every((node) => !node.domain)).toBe(true);
  });
});
