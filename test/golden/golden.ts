// The outside golden (test/golden/clip-tiny.json, made once by tools/golden/make_clip_golden.py with
// PyTorch in float64; see docs/golden.md): typed access to its data, a private copy of the checkpoint
// it was made from, and the error measures the golden tests print and assert. Reads only committed
// files: no Python, no torch, no network.
import { createHash } from 'node:crypto';
import { cpSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AdapterParams } from '../../gpu-worker/cocoop/adapter.ts';
import { plainLearner } from '../helpers/plain-learner.ts';
import type { PlainLearner } from '../reference/cocoop-plain.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const GOLDEN_PATH = join(REPO_ROOT, 'test/golden/clip-tiny.json');

type Rows = number[][];

export interface Golden {
  generator: { script: string; torch: string; torch_package: string; python: string; dtype: string };
  model: { dir: string; sha256: Record<string, string>; logit_scale: number };
  texts: string[];
  token_ids: Rows;
  text_features: Rows;
  images: {
    names: string[];
    shape: [number, number, number];
    /** float32 values in shortest form: read through Float32Array. */
    pixels_float32: Rows;
    png: { file: string; sha256: string; size: [number, number] };
  };
  image_features: Rows;
  logits: Rows; // [images, texts]
  zeroshot: { class_names: string[]; prompt_texts: string[]; token_ids: Rows; logits: Rows };
  cocoop: {
    class_names: string[];
    n_ctx: number;
    prompt_texts: string[];
    prompt_token_ids: Rows;
    ctx_float32: Rows;
    meta_net_float32: { 'linear1.weight': Rows; 'linear1.bias': number[]; 'linear2.weight': Rows; 'linear2.bias': number[] };
    meta_net_active_units_per_image: number[];
    logits: Rows; // [images, classes]
    coop_logits: Rows;
  };
  torch_float32_vs_float64: { text_features_rel: number; image_features_rel: number; cocoop_logits_abs: number };
}

export function loadGolden(): Golden {
  return JSON.parse(readFileSync(GOLDEN_PATH, 'utf8')) as Golden;
}

export function sha256Of(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Copies the golden's checkpoint into `dir` (the ONNX graph cache and any perturbation stay there). */
export function copyGoldenModel(golden: Golden, dir: string): string {
  cpSync(join(REPO_ROOT, golden.model.dir), dir, { recursive: true });
  return dir;
}

/** All images' pixels as one float32 [N, C, S, S] buffer, exactly the values torch used. */
export function goldenPixels(golden: Golden): Float32Array {
  return Float32Array.from(golden.images.pixels_float32.flat());
}

const f32 = (rows: Rows | number[]) => Float32Array.from((rows as number[][]).flat());

/** The golden CoCoOp adapter in the product's form (float32, PyTorch [out, in] linear weights). */
export function goldenAdapter(golden: Golden, method: 'cocoop' | 'coop'): AdapterParams {
  const c = golden.cocoop;
  const m = c.meta_net_float32;
  const w1 = m['linear1.weight'];
  const w2 = m['linear2.weight'];
  return {
    method,
    ctx: { shape: [c.n_ctx, c.ctx_float32[0].length], data: f32(c.ctx_float32) },
    metaNet:
      method === 'cocoop'
        ? {
            linear1: { weight: { shape: [w1.length, w1[0].length], data: f32(w1) }, bias: { shape: [w1.length], data: f32(m['linear1.bias']) } },
            linear2: { weight: { shape: [w2.length, w2[0].length], data: f32(w2) }, bias: { shape: [w2.length], data: f32(m['linear2.bias']) } },
          }
        : undefined,
    ctxInit: '',
  };
}

/** The same adapter for the Float64 reference (float32 values widened exactly). */
export function goldenPlainLearner(golden: Golden, method: 'cocoop' | 'coop'): PlainLearner {
  return plainLearner(goldenAdapter(golden, method));
}

export interface Deviation {
  /** max |got − want| over all entries. */
  abs: number;
  /** max over rows of max|got − want| / max|want| (scale-free; features are un-normalised). */
  rel: number;
}

/** How far `got` (flat, row-major) lies from the golden rows `want`. NaN anywhere gives NaN. */
export function deviation(got: ArrayLike<number>, want: Rows): Deviation {
  const p = want[0].length;
  if (got.length !== want.length * p) throw new Error(`${got.length} values for ${want.length} rows of ${p}`);
  let abs = 0;
  let rel = 0;
  want.forEach((row, r) => {
    let num = 0;
    let den = 0;
    row.forEach((w, i) => {
      num = Math.max(num, Math.abs(got[r * p + i] - w));
      den = Math.max(den, Math.abs(w));
    });
    abs = Math.max(abs, num);
    rel = Math.max(rel, num / den);
  });
  return { abs, rel };
}

/** One line per comparison in the test log: what was compared and its max abs / rel error. */
export function report(what: string, d: Deviation): Deviation {
  console.log(`golden ${what}: max abs ${d.abs.toExponential(2)}, max rel ${d.rel.toExponential(2)}`);
  return d;
}
