// The text tower's vector-Jacobian product graph against gradients of the plain Float64 reference
// (test/reference/clip-plain.ts), taken by central finite differences in Float64 (step 1e-4: truncation
// error ~1e-9 relative, far below the 1e-4 bound), on the tiny and the small presets' text shapes, at
// several lengths and batch sizes, with both activations. On the tiny shapes every coordinate of the
// gradient is checked; on the small shapes (where the reference is slow) directional derivatives along
// random directions over all positions up to the EOT.
import type * as ort from 'onnxruntime-node';
import * as ortRuntime from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HiddenAct } from '../../../../gpu-worker/clip/config.ts';
import { getOrBuildGraph } from '../../../../gpu-worker/clip/onnx/graph-cache.ts';
import { buildTextGraph } from '../../../../gpu-worker/clip/onnx/text-graph.ts';
import { buildTextVjpGraph } from '../../../../gpu-worker/clip/onnx/text-vjp-graph.ts';
import { createOrtSession, runTextGraph } from '../../../../gpu-worker/runtime/ort.ts';
import { plainTextFeaturesFromEmbeds, type PlainModel } from '../../../reference/clip-plain.ts';
import { relErr } from '../../../helpers/numeric.ts';
import { SeededRandom } from '../../../helpers/random.ts';
import { batchRows, embedWithJunk, randomPrompts, SMALL_TEXT, tinyClip } from '../../../helpers/tiny-clip.ts';
import { useTmpDir } from '../../../helpers/tmp.ts';

const dir = useTmpDir('text-vjp-test-');

interface Vjp {
  features: Float32Array;
  grad: Float32Array;
}

async function runVjp(s: ort.InferenceSession, embeds: Float32Array, n: number, len: number, d: number, eot: number[], up: Float32Array, p: number): Promise<Vjp> {
  const out = await s.run({
    inputs_embeds: new ortRuntime.Tensor('float32', embeds, [n, len, d]),
    eot_index: new ortRuntime.Tensor('int64', BigInt64Array.from(eot, BigInt), [n]),
    grad_text_embeds: new ortRuntime.Tensor('float32', up, [n, p]),
  });
  return { features: out.text_embeds.data as Float32Array, grad: out.grad_inputs_embeds.data as Float32Array };
}

/** uᵀ · text_features(E) of one prompt, in Float64 on the reference. */
function objective(plain: PlainModel, rows: Float64Array[], eot: number, u: ArrayLike<number>): number {
  const f = plainTextFeaturesFromEmbeds(plain, rows, eot);
  let s = 0;
  for (let i = 0; i < f.length; i++) s += f[i] * u[i];
  return s;
}

const H = 1e-4;

/** ∂(uᵀ f)/∂E by central differences, every position and channel. */
function fdGradient(plain: PlainModel, rows: Float64Array[], eot: number, u: ArrayLike<number>): Float64Array {
  const d = rows[0].length;
  const out = new Float64Array(rows.length * d);
  for (let l = 0; l < rows.length; l++) {
    for (let c = 0; c < d; c++) {
      const keep = rows[l][c];
      rows[l][c] = keep + H;
      const plus = objective(plain, rows, eot, u);
      rows[l][c] = keep - H;
      const minus = objective(plain, rows, eot, u);
      rows[l][c] = keep;
      out[l * d + c] = (plus - minus) / (2 * H);
    }
  }
  return out;
}

/** The derivative of uᵀ f along direction w (flat over rows × channels), by central differences. */
function directional(plain: PlainModel, rows: Float64Array[], eot: number, u: ArrayLike<number>, w: Float64Array): number {
  const d = rows[0].length;
  const shifted = (sign: number) => rows.map((r, l) => r.map((x, c) => x + sign * H * w[l * d + c]));
  return (objective(plain, shifted(1), eot, u) - objective(plain, shifted(-1), eot, u)) / (2 * H);
}

interface Case {
  name: string;
  act: HiddenAct;
  text?: Record<string, number>;
  projectionDim?: number;
  bodies: number[]; // body lengths (prompt = SOT + body + EOT)
  extra: number; // padding positions after the longest EOT (junk the mask must hide)
  /** Check directional derivatives along this many random directions instead of every coordinate. */
  directions?: number;
}

const CASES: Case[] = [
  { name: 'tiny, quick_gelu, batch 3, lengths 3/6/9', act: 'quick_gelu', bodies: [1, 4, 7], extra: 0 },
  { name: 'tiny, gelu, batch 1, padded', act: 'gelu', bodies: [5], extra: 3 },
  { name: 'tiny, quick_gelu, batch 5, padded', act: 'quick_gelu', bodies: [2, 0, 6, 3, 6], extra: 2 },
  { name: 'small, quick_gelu, batch 2', act: 'quick_gelu', text: SMALL_TEXT, projectionDim: 64, bodies: [3, 5], extra: 1, directions: 8 },
  { name: 'small, gelu, batch 3, length 12', act: 'gelu', text: SMALL_TEXT, projectionDim: 64, bodies: [10, 2, 4], extra: 0, directions: 8 },
];

describe.each(CASES)('text VJP graph: $name', (tc) => {
  const { weights, config, plain } = tinyClip(17, { act: tc.act, text: tc.text, projectionDim: tc.projectionDim });
  const cfg = config.text;
  const d = cfg.hiddenSize;
  const p = config.projectionDim;
  const rng = new SeededRandom(tc.bodies.length * 31 + tc.extra);
  const prompts = randomPrompts(rng, tc.bodies);
  const n = prompts.length;
  const eot = prompts.map((r) => r.length - 1);
  const len = Math.max(...eot) + 1 + tc.extra;
  const embeds = embedWithJunk(weights.text.tokenEmbedding, prompts, len, rng);
  const up = Float32Array.from({ length: n * p }, () => rng.uniform() * 2 - 1);
  let vjp: ort.InferenceSession;
  let fwd: ort.InferenceSession;
  let got: Vjp;

  beforeAll(async () => {
    const key = `${tc.name.replace(/[^a-z0-9]+/gi, '-')}`;
    vjp = await createOrtSession(getOrBuildGraph('text-vjp', key, dir, () => buildTextVjpGraph(weights.text, cfg)), { provider: 'cpu', threads: 1 });
    fwd = await createOrtSession(getOrBuildGraph('text', key, dir, () => buildTextGraph(weights.text, cfg)), { provider: 'cpu', threads: 1 });
    got = await runVjp(vjp, embeds, n, len, d, eot, up, p);
  });
  afterAll(async () => {
    await vjp?.release();
    await fwd?.release();
  });

  it('outputs the forward features of the plain text graph', async () => {
    const want = await runTextGraph(fwd, embeds, n, len, d, eot);
    expect(relErr(got.features, want)).toBeLessThan(1e-5);
  });

  it('gives the Float64 finite-difference gradient within 1e-4 relative, and exactly zero after each EOT', () => {
    const rows = batchRows(embeds, n, len, d);
    for (let b = 0; b < n; b++) {
      const u = up.subarray(b * p, (b + 1) * p);
      const used = rows[b].slice(0, eot[b] + 1);
      const mine = got.grad.subarray(b * len * d, (b * len + eot[b] + 1) * d);
      if (tc.directions) {
        const wantDir: number[] = [];
        const gotDir: number[] = [];
        for (let k = 0; k < tc.directions; k++) {
          const w = Float64Array.from({ length: used.length * d }, () => rng.normal());
          wantDir.push(directional(plain, used, eot[b], u, w));
          gotDir.push(mine.reduce((s, x, i) => s + x * w[i], 0));
        }
        expect(relErr(gotDir, wantDir), `prompt ${b}`).toBeLessThan(1e-4);
      } else {
        const want = fdGradient(plain, used, eot[b], u);
        expect(relErr(mine, want), `prompt ${b}`).toBeLessThan(1e-4);
      }
      for (let i = (b * len + eot[b] + 1) * d; i < (b + 1) * len * d; i++) expect(got.grad[i]).toBe(0);
    }
  });

  it('is linear in the upstream gradient (twice the vector, twice the gradient; rows independent)', async () => {
    const doubled = await runVjp(vjp, embeds, n, len, d, eot, up.map((x) => 2 * x), p);
    expect(relErr(doubled.grad, got.grad.map((x) => 2 * x))).toBeLessThan(1e-6);
    if (n > 1) {
      const onlyFirst = up.map((x, i) => (i < p ? x : 0));
      const first = await runVjp(vjp, embeds, n, len, d, eot, onlyFirst, p);
      expect(relErr(first.grad.subarray(0, len * d), got.grad.subarray(0, len * d))).toBeLessThan(1e-6);
      expect(first.grad.subarray(len * d).every((x) => x === 0)).toBe(true);
    }
  });
});
