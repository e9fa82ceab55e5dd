// The prefix-shared text VJP (suffix VJP → prefix VJP, text-prefix-vjp-graphs.ts) on tiny and small
// random text towers, batches of prefixes continued by rows of different suffix lengths and EOTs (junk
// after each EOT), some prefix continued by no row. Checked against:
//   - the forward graphs: text_embeds equal the suffix graph's and the full text graph's on [prefix ‖ suffix];
//   - the full VJP graph (text-vjp-graph.ts, itself checked against Float64 finite differences) on the
//     concatenated prompts, its gradient at positions 0..P0-1 summed over each prefix's rows;
//   - Float64 central differences of the plain reference: directional derivatives of Σ_r u_r · f_r along
//     random unit directions over all the prefix embeddings (6 on the tiny shapes, 4 on the small ones);
//     this also catches a wrong rule shared with the full VJP graph (backward-ops.ts);
//   - a prefix no row continues gets exactly zero gradient.
import type * as ort from 'onnxruntime-node';
import * as ortRuntime from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HiddenAct } from '../../../../gpu-worker/clip/config.ts';
import { type GraphKind, getOrBuildGraph } from '../../../../gpu-worker/clip/onnx/graph-cache.ts';
import { buildTextGraph } from '../../../../gpu-worker/clip/onnx/text-graph.ts';
import { buildTextPrefixGraph, buildTextSuffixGraph } from '../../../../gpu-worker/clip/onnx/text-prefix-graphs.ts';
import { buildTextPrefixVjpGraph, buildTextSuffixVjpGraph } from '../../../../gpu-worker/clip/onnx/text-prefix-vjp-graphs.ts';
import { buildTextVjpGraph } from '../../../../gpu-worker/clip/onnx/text-vjp-graph.ts';
import { createOrtSession, runTextGraph } from '../../../../gpu-worker/runtime/ort.ts';
import { plainTextFeaturesFromEmbeds } from '../../../reference/clip-plain.ts';
import { relErr } from '../../../helpers/numeric.ts';
import { randomInt, SeededRandom } from '../../../helpers/random.ts';
import { embedWithJunk, SMALL_TEXT, TINY_EOT, TINY_SOT, tinyClip } from '../../../helpers/tiny-clip.ts';
import { useTmpDir } from '../../../helpers/tmp.ts';

const dir = useTmpDir('text-prefix-vjp-test-');

interface Case {
  name: string;
  act: HiddenAct;
  text?: Record<string, number>;
  projectionDim?: number;
  batch: number; // prefixes
  prefixLen: number; // P0 (SOT + P0-1 context rows)
  /** One entry per row: [prefix it continues, body length] (suffix = body + EOT, then junk up to seq). */
  rows: [number, number][];
  seq: number; // suffix length (> every EOT)
  /** Directional derivatives against Float64 central differences of the reference. */
  fdDirections: number;
}

const CASES: Case[] = [
  { name: 'tiny, quick_gelu, 3 prefixes of 4, prefix 1 unused', act: 'quick_gelu', batch: 3, prefixLen: 4, rows: [[0, 1], [2, 4], [0, 3], [2, 2], [0, 0]], seq: 6, fdDirections: 6 },
  { name: 'tiny, gelu, 3 prefixes of 3, prefix 0 unused', act: 'gelu', batch: 3, prefixLen: 3, rows: [[1, 2], [2, 0], [1, 5], [1, 1], [2, 3]], seq: 7, fdDirections: 6 },
  { name: 'tiny, gelu, 2 prefixes of 5', act: 'gelu', batch: 2, prefixLen: 5, rows: [[1, 3], [0, 1], [1, 0], [0, 2]], seq: 4, fdDirections: 6 },
  { name: 'small, quick_gelu, 2 prefixes of 5', act: 'quick_gelu', text: SMALL_TEXT, projectionDim: 64, batch: 2, prefixLen: 5, rows: [[0, 3], [1, 1], [0, 6], [1, 2]], seq: 8, fdDirections: 4 },
  { name: 'small, gelu, 3 prefixes of 3, prefix 2 unused', act: 'gelu', text: SMALL_TEXT, projectionDim: 64, batch: 3, prefixLen: 3, rows: [[1, 4], [0, 0], [1, 2], [0, 5], [0, 1]], seq: 7, fdDirections: 4 },
];

/**
 * Central-difference step along a unit direction (Euclidean norm 1 over all B·P0·D coordinates): the
 * measured errors stay below 2e-6. Unnormalised N(0, 1) directions make the step ~17–28× longer and the
 * truncation error reaches ~1.5e-4 on the tiny gelu tower, whose gradients are large (|dF| up to ~500).
 */
const H = 1e-4;

describe.each(CASES)('prefix-shared text VJP: $name', (tc) => {
  const { weights, config, plain } = tinyClip(23, { act: tc.act, text: tc.text, projectionDim: tc.projectionDim });
  const cfg = config.text;
  const d = cfg.hiddenSize;
  const p = config.projectionDim;
  const nLayers = cfg.numHiddenLayers;
  const hd = d / cfg.numAttentionHeads;
  const { batch, prefixLen: p0, seq } = tc;
  const rng = new SeededRandom(tc.rows.length * 131 + p0 * 7 + batch);
  const table = weights.text.tokenEmbedding;

  // Prefixes: SOT then P0-1 random token rows. Suffixes: body tokens, EOT, junk.
  const prefixIds = Array.from({ length: batch }, () => [TINY_SOT, ...Array.from({ length: p0 - 1 }, () => randomInt(rng, TINY_SOT))]);
  const prefixEmbeds = embedWithJunk(table, prefixIds, p0, rng); // [B, P0, D]
  const suffixIds = tc.rows.map(([, body]) => [...Array.from({ length: body }, () => randomInt(rng, TINY_SOT)), TINY_EOT]);
  const suffixEmbeds = embedWithJunk(table, suffixIds, seq, rng); // [R, S, D]
  const rowPrefix = tc.rows.map(([b]) => b);
  const eot = tc.rows.map(([, body]) => body);
  const nRows = tc.rows.length;
  const up = Float32Array.from({ length: nRows * p }, () => rng.uniform() * 2 - 1); // grad_text_embeds [R, P]
  const unused = Array.from({ length: batch }, (_, b) => b).filter((b) => !rowPrefix.includes(b));

  // The concatenated prompts [prefix ‖ suffix]: [R, P0+S, D], EOT at P0 + eot[r].
  const full = p0 + seq;
  const fullEmbeds = new Float32Array(nRows * full * d);
  for (let r = 0; r < nRows; r++) {
    fullEmbeds.set(prefixEmbeds.subarray(rowPrefix[r] * p0 * d, (rowPrefix[r] + 1) * p0 * d), r * full * d);
    fullEmbeds.set(suffixEmbeds.subarray(r * seq * d, (r + 1) * seq * d), (r * full + p0) * d);
  }
  const fullEot = eot.map((e) => p0 + e);

  const sessions: ort.InferenceSession[] = [];
  const open = async (kind: GraphKind, build: () => Uint8Array) => {
    const key = tc.name.replace(/[^a-z0-9]+/gi, '-');
    const s = await createOrtSession(getOrBuildGraph(kind, key, dir, build), { provider: 'cpu', threads: 1 });
    sessions.push(s);
    return s;
  };
  const f32 = (data: Float32Array, dims: number[]) => new ortRuntime.Tensor('float32', data, dims);
  const i64 = (data: number[]) => new ortRuntime.Tensor('int64', BigInt64Array.from(data, BigInt), [data.length]);

  let prefixS: ort.InferenceSession;
  let prefixVjpS: ort.InferenceSession;
  let past: { keys: ort.Tensor; values: ort.Tensor };
  let suffixFeatures: Float32Array; // the suffix graph's text_embeds [R, P]
  let mine: { features: Float32Array; gradPastK: Float32Array; gradPastV: Float32Array; grad: Float32Array };
  let fullFeatures: Float32Array; // the full text graph's [R, P]
  let fullGrad: Float32Array; // the full VJP graph's grad_inputs_embeds [R, P0+S, D]

  beforeAll(async () => {
    const w = weights.text;
    prefixS = await open('text-prefix', () => buildTextPrefixGraph(w, cfg));
    const suffixS = await open('text-suffix', () => buildTextSuffixGraph(w, cfg));
    const suffixVjpS = await open('text-suffix-vjp', () => buildTextSuffixVjpGraph(w, cfg));
    prefixVjpS = await open('text-prefix-vjp', () => buildTextPrefixVjpGraph(w, cfg));
    const textS = await open('text', () => buildTextGraph(w, cfg));
    const vjpS = await open('text-vjp', () => buildTextVjpGraph(w, cfg));

    const pre = await prefixS.run({ prefix_embeds: f32(prefixEmbeds, [batch, p0, d]) });
    past = { keys: pre.past_keys, values: pre.past_values };
    const suffixFeeds = {
      suffix_embeds: f32(suffixEmbeds, [nRows, seq, d]),
      eot_index: i64(eot),
      row_prefix: i64(rowPrefix),
      past_keys: past.keys,
      past_values: past.values,
    };
    suffixFeatures = (await suffixS.run(suffixFeeds)).text_embeds.data as Float32Array;
    const sv = await suffixVjpS.run({ ...suffixFeeds, grad_text_embeds: f32(up, [nRows, p]) });
    expect(sv.grad_past_keys.dims).toEqual([nLayers, batch, cfg.numAttentionHeads, p0, hd]);
    expect(sv.grad_past_values.dims).toEqual([nLayers, batch, cfg.numAttentionHeads, p0, hd]);
    const pv = await prefixVjpS.run({ prefix_embeds: f32(prefixEmbeds, [batch, p0, d]), grad_past_keys: sv.grad_past_keys, grad_past_values: sv.grad_past_values });
    expect(pv.grad_prefix_embeds.dims).toEqual([batch, p0, d]);
    mine = {
      features: sv.text_embeds.data as Float32Array,
      gradPastK: sv.grad_past_keys.data as Float32Array,
      gradPastV: sv.grad_past_values.data as Float32Array,
      grad: pv.grad_prefix_embeds.data as Float32Array,
    };

    fullFeatures = await runTextGraph(textS, fullEmbeds, nRows, full, d, fullEot);
    const fv = await vjpS.run({ inputs_embeds: f32(fullEmbeds, [nRows, full, d]), eot_index: i64(fullEot), grad_text_embeds: f32(up, [nRows, p]) });
    fullGrad = fv.grad_inputs_embeds.data as Float32Array;
  });
  afterAll(async () => {
    for (const s of sessions) await s.release();
  });

  it('outputs the forward features of the suffix graph and of the full text graph on [prefix ‖ suffix]', () => {
    expect(mine.features.length).toBe(nRows * p);
    expect(relErr(mine.features, suffixFeatures)).toBeLessThan(1e-5);
    expect(relErr(mine.features, fullFeatures)).toBeLessThan(1e-5);
  });

  it("gives the full VJP graph's gradient at positions 0..P0-1, summed over each prefix's rows", () => {
    const want = new Float64Array(batch * p0 * d);
    for (let r = 0; r < nRows; r++) {
      for (let i = 0; i < p0 * d; i++) want[rowPrefix[r] * p0 * d + i] += fullGrad[r * full * d + i];
    }
    expect(relErr(mine.grad, want)).toBeLessThan(1e-4);
    for (let b = 0; b < batch; b++) {
      if (unused.includes(b)) continue;
      const slice = (a: ArrayLike<number>) => Array.from({ length: p0 * d }, (_, i) => a[b * p0 * d + i]);
      expect(relErr(slice(mine.grad), slice(want)), `prefix ${b}`).toBeLessThan(1e-4);
    }
  });

  it('gives exactly zero gradient to a prefix no row continues', () => {
    const per = cfg.numAttentionHeads * p0 * hd; // one layer's block of one prefix
    for (const b of unused) {
      expect(mine.grad.subarray(b * p0 * d, (b + 1) * p0 * d).every((x) => x === 0), `grad_prefix_embeds of prefix ${b}`).toBe(true);
      for (let l = 0; l < nLayers; l++) {
        const at = (l * batch + b) * per;
        expect(mine.gradPastK.subarray(at, at + per).every((x) => x === 0), `grad_past_keys[${l}, ${b}]`).toBe(true);
        expect(mine.gradPastV.subarray(at, at + per).every((x) => x === 0), `grad_past_values[${l}, ${b}]`).toBe(true);
      }
    }
    if (tc.name.includes('unused')) expect(unused.length).toBeGreaterThan(0);
  });

  it('gives Float64 central-difference directional derivatives of the plain reference within 1e-4', () => {
    // F(E) = Σ_r u_r · f(E[rowPrefix[r]] ‖ suffix_r[0..eot_r]); dF along w = Σ grad · w.
    const rowsOf = (flat: Float32Array, n: number, len: number) =>
      Array.from({ length: n }, (_, b) => Array.from({ length: len }, (_, t) => Float64Array.from(flat.subarray((b * len + t) * d, (b * len + t + 1) * d))));
    const prefixes = rowsOf(prefixEmbeds, batch, p0);
    const suffixes = rowsOf(suffixEmbeds, nRows, seq);
    const objective = (shift: number, w: Float64Array): number => {
      let total = 0;
      for (let r = 0; r < nRows; r++) {
        const b = rowPrefix[r];
        const pre = prefixes[b].map((row, t) => row.map((x, c) => x + shift * w[(b * p0 + t) * d + c]));
        const f = plainTextFeaturesFromEmbeds(plain, [...pre, ...suffixes[r].slice(0, eot[r] + 1)], p0 + eot[r]);
        for (let i = 0; i < p; i++) total += f[i] * up[r * p + i];
      }
      return total;
    };
    const want: number[] = [];
    const got: number[] = [];
    for (let k = 0; k < tc.fdDirections; k++) {
      const w = Float64Array.from({ length: batch * p0 * d }, () => rng.normal());
      const norm = Math.hypot(...w);
      for (let i = 0; i < w.length; i++) w[i] /= norm; // unit length: the step is H in Euclidean norm
      want.push((objective(H, w) - objective(-H, w)) / (2 * H));
      got.push(mine.grad.reduce((s, x, i) => s + x * w[i], 0));
    }
    expect(relErr(got, want)).toBeLessThan(1e-4);
  });

  it('prefix VJP alone is linear in its upstream gradients and zero for zero upstream', async () => {
    const run = async (k: Float32Array, v: Float32Array) =>
      (await prefixVjpS.run({ prefix_embeds: f32(prefixEmbeds, [batch, p0, d]), grad_past_keys: f32(k, past.keys.dims as number[]), grad_past_values: f32(v, past.values.dims as number[]) }))
        .grad_prefix_embeds.data as Float32Array;
    const zeros = new Float32Array(mine.gradPastK.length);
    expect((await run(zeros, zeros)).every((x) => x === 0)).toBe(true);
    const fromK = await run(mine.gradPastK, zeros);
    const fromV = await run(zeros, mine.gradPastV);
    expect(relErr(fromK.map((x, i) => x + fromV[i]), mine.grad)).toBeLessThan(1e-5);
  });
});
