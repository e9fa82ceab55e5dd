// Benchmark of the CLIP towers: ONNX Runtime (inference path) vs TF.js (training path), on a
// random-weight preset (default vit-b16 = the shapes of openai/clip-vit-base-patch16), with the
// machine's matmul rate measured in the same run as the ceiling.
//
//   npm run bench:clip                         # full run (vit-b16), prints a markdown report
//   npm run bench:clip -- --write docs/benchmarks.md
//   npm run bench:clip -- --preset tiny --quick --json   # smoke run (used by the tests)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { bestWithin, ortMatmulCeiling } from '../gpu-worker/clip/onnx/matmul-ceiling.ts';
import { buildTextGraph } from '../gpu-worker/clip/onnx/text-graph.ts';
import { buildVisionGraph } from '../gpu-worker/clip/onnx/vision-graph.ts';
import { presetConfig, PRESET_NAMES, type PresetName } from '../gpu-worker/clip/presets.ts';
import { SeededRandom } from '../gpu-worker/clip/random.ts';
import { randomClipTensors } from '../gpu-worker/clip/random-weights.ts';
import { TfTextTower } from '../gpu-worker/clip/tf/text-tower.ts';
import { TfVisionTower } from '../gpu-worker/clip/tf/vision-tower.ts';
import { clipWeightsFromTensors } from '../gpu-worker/clip/weights.ts';
import { createOrtSession, runTextGraph, runVisionGraph } from '../gpu-worker/runtime/ort.ts';
import { initTfBackend } from '../gpu-worker/runtime/tf-backend.ts';
import { writeDocSection } from './lib/doc-section.ts';

export interface ClipBenchOptions {
  preset: PresetName;
  quick: boolean;
  threads: number;
  textBatch: number;
  log?: (line: string) => void;
}

interface Rate {
  per_s: number; // items per second (best of the repeats)
  median_per_s: number;
  gflops: number; // at the best time
}

export interface ClipBenchResult {
  settings: { preset: PresetName; threads: number; text_batch: number; machine: string; node: string; ort: string; tf_backend: string };
  ceiling: { ort_matmul_gflops: number; tf_matmul_gflops: number; ort_matmul_shape: number[]; tf_matmul_shape: number[] };
  ort: { image_b1: Rate; image_b4: Rate; text_l10: Rate; text_l77: Rate };
  tf: { image_b1: Rate; text_l10: Rate; text_l77: Rate; text_l10_train_step: Rate; text_l10_train_step_builtin_grads: Rate };
  agreement: { text_max_rel_diff: number; image_max_rel_diff: number };
}

/** Multiply-adds of one sequence of length L through an encoder stack. */
function encoderMacs(d: number, inter: number, layers: number, len: number): number {
  return layers * (len * (4 * d * d + 2 * d * inter) + 2 * len * len * d);
}

/** One warm-up call, then `repeats` timed calls; best and median (the machine may be shared). */
async function timeIt(fn: () => unknown, repeats: number): Promise<{ best: number; median: number }> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return { best: times[0], median: times[Math.floor(times.length / 2)] };
}

function rate(t: { best: number; median: number }, items: number, flops: number): Rate {
  return { per_s: items / t.best, median_per_s: items / t.median, gflops: flops / t.best / 1e9 };
}

/** max |a-b| / max |b| per row, worst row. */
function maxRelDiff(a: Float32Array, b: Float32Array, rows: number): number {
  const p = a.length / rows;
  let worst = 0;
  for (let r = 0; r < rows; r++) {
    let diff = 0;
    let scale = 0;
    for (let i = r * p; i < (r + 1) * p; i++) {
      diff = Math.max(diff, Math.abs(a[i] - b[i]));
      scale = Math.max(scale, Math.abs(b[i]));
    }
    worst = Math.max(worst, diff / scale);
  }
  return worst;
}

function machineName(): string {
  const model = cpus()[0]?.model ?? 'unknown CPU';
  return `${model.trim()}, ${availableParallelism()} cores`;
}

export async function runClipBench(opts: ClipBenchOptions): Promise<ClipBenchResult> {
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const reps = opts.quick ? 1 : 3;
  const tfInfo = await initTfBackend({ log });
  const cfg = presetConfig(opts.preset, 49408);
  log(`bench:clip: generating random ${opts.preset} weights…`);
  const weights = clipWeightsFromTensors(randomClipTensors(cfg, 1), cfg, `random ${opts.preset}`);
  const rng = new SeededRandom(2);
  const randn = (n: number, std: number) => rng.fillNormal(new Float32Array(n), std);
  const dir = mkdtempSync(join(tmpdir(), 'bench-clip-'));
  const session = (name: string, bytes: Uint8Array) => {
    const path = join(dir, `${name}.onnx`);
    writeFileSync(path, bytes);
    return createOrtSession(path, { threads: opts.threads, provider: 'cpu' });
  };
  try {
    // ---- ceiling: the best plain matmul rate over the model's own matmul shapes
    // ([tokens, width] × [width, 4·width] for the image and text towers), each timed for a fixed
    // budget (short runs under-report: clocks and caches warm up) ----
    const budget = opts.quick ? 0.05 : 1.5;
    const shapes: [number, number, number][] = [
      [(cfg.vision.imageSize / cfg.vision.patchSize) ** 2 + 1, cfg.vision.hiddenSize, cfg.vision.intermediateSize],
      [4 * ((cfg.vision.imageSize / cfg.vision.patchSize) ** 2 + 1), cfg.vision.hiddenSize, cfg.vision.intermediateSize],
      [opts.textBatch * 10, cfg.text.hiddenSize, cfg.text.intermediateSize],
    ];
    const ortBest = await ortMatmulCeiling(shapes, budget, { threads: opts.threads, provider: 'cpu' });
    let tfBest = { gflops: 0, shape: shapes[0] };
    for (const [m, k, nOut] of shapes) {
      const flops = 2 * m * k * nOut;
      const a = randn(m * k, 1);
      const b = randn(k * nOut, 1);
      const ta = tf.tensor2d(a, [m, k]);
      const tb = tf.tensor2d(b, [k, nOut]);
      const tfGflops = flops / (await bestWithin(() => tf.tidy(() => tf.matMul(ta, tb)).data(), budget)) / 1e9;
      tf.dispose([ta, tb]);
      if (tfGflops > tfBest.gflops) tfBest = { gflops: tfGflops, shape: [m, k, nOut] };
    }
    const ceiling = {
      ort_matmul_gflops: ortBest.gflops,
      tf_matmul_gflops: tfBest.gflops,
      ort_matmul_shape: ortBest.shape,
      tf_matmul_shape: tfBest.shape,
    };
    log(`bench:clip: matmul ceiling ORT ${ceiling.ort_matmul_gflops.toFixed(1)} GFLOP/s, TF.js ${ceiling.tf_matmul_gflops.toFixed(1)} GFLOP/s`);

    // ---- image tower ----
    const v = cfg.vision;
    const np = (v.imageSize / v.patchSize) ** 2;
    const imageFlops = 2 * (encoderMacs(v.hiddenSize, v.intermediateSize, v.numHiddenLayers, np + 1) + np * v.hiddenSize * v.numChannels * v.patchSize ** 2);
    const imgSize = v.numChannels * v.imageSize * v.imageSize;
    const pixels = randn(4 * imgSize, 1);
    const visionSession = await session('vision', buildVisionGraph(weights.vision, v));
    const ortImage = (n: number) => runVisionGraph(visionSession, pixels.subarray(0, n * imgSize), n, v.numChannels, v.imageSize);
    const image_b1 = rate(await timeIt(() => ortImage(1), reps * 2), 1, imageFlops);
    const image_b4 = rate(await timeIt(() => ortImage(4), reps), 4, 4 * imageFlops);
    log(`bench:clip: ORT image tower ${image_b1.per_s.toFixed(2)} images/s (batch 1)`);
    const tfVision = new TfVisionTower(weights.vision, v);
    const px1 = tf.tensor4d(pixels.subarray(0, imgSize), [1, v.numChannels, v.imageSize, v.imageSize]);
    const tfImage = rate(await timeIt(() => tf.tidy(() => tfVision.forward(px1)).data(), reps), 1, imageFlops);
    const ortImg1 = await ortImage(1);
    const tfImg1 = tf.tidy(() => tfVision.forward(px1)).dataSync() as Float32Array;
    px1.dispose();
    tfVision.dispose();
    await visionSession.release();
    log(`bench:clip: TF.js image tower ${tfImage.per_s.toFixed(2)} images/s`);

    // ---- text tower ----
    const t = cfg.text;
    const d = t.hiddenSize;
    const textSession = await session('text', buildTextGraph(weights.text, t));
    const tfText = new TfTextTower(weights.text, t);
    const n = opts.textBatch;
    const results: Record<string, Rate> = {};
    let textDiff = 0;
    for (const len of [10, 77]) {
      const embeds = randn(n * len * d, 0.02); // [n, len, D] token-embedding-sized inputs
      const eot = Array.from({ length: n }, () => len - 1);
      const flops = n * 2 * encoderMacs(d, t.intermediateSize, t.numHiddenLayers, len);
      results[`ort_${len}`] = rate(await timeIt(() => runTextGraph(textSession, embeds, n, len, d, eot), reps * 2), n, flops);
      const x = tf.tensor3d(embeds, [n, len, d]);
      results[`tf_${len}`] = rate(await timeIt(() => tf.tidy(() => tfText.forward(x, eot)).data(), reps), n, flops);
      if (len === 10) {
        const ortOut = await runTextGraph(textSession, embeds, n, len, d, eot);
        const tfOut = tf.tidy(() => tfText.forward(x, eot)).dataSync() as Float32Array;
        textDiff = maxRelDiff(tfOut, ortOut, n);
      }
      x.dispose();
      log(`bench:clip: text L=${len}: ORT ${results[`ort_${len}`].per_s.toFixed(1)} prompts/s, TF.js ${results[`tf_${len}`].per_s.toFixed(1)} prompts/s`);
    }
    // ---- one CoCoOp-style training step's text work: forward + backward w.r.t. the prompt
    // embeddings of C = 10 prompts at L = 10, with our custom gradients and with TF.js's built-in
    // ones (matMul transpose flags: the naive path) ----
    const trainN = 10;
    const trainLen = 10;
    const trainFlops = trainN * 2 * encoderMacs(d, t.intermediateSize, t.numHiddenLayers, trainLen);
    const trainX = tf.tensor3d(randn(trainN * trainLen * d, 0.02), [trainN, trainLen, d]);
    const trainEot = Array.from({ length: trainN }, () => trainLen - 1);
    const probe = tf.tensor2d(randn(trainN * tfText.projectionDim, 1), [trainN, tfText.projectionDim]);
    const stepRate = async (tower: TfTextTower, repeats: number) => {
      const grad = tf.grad((e: tf.Tensor) => tf.sum(tf.mul(tower.forward(e as tf.Tensor3D, trainEot), probe)));
      // Backward w.r.t. the inputs only (frozen weights): about one more forward's worth of matmuls.
      return rate(await timeIt(() => tf.tidy(() => grad(trainX)).data(), repeats), trainN, 2 * trainFlops);
    };
    results.tf_train = await stepRate(tfText, reps);
    const builtin = new TfTextTower(weights.text, t, { builtinGradients: true });
    results.tf_train_builtin = await stepRate(builtin, 1);
    builtin.dispose();
    tf.dispose([trainX, probe]);
    log(`bench:clip: TF.js forward+backward, ${trainN} prompts L=${trainLen}: ${(trainN / results.tf_train.per_s).toFixed(2)} s (built-in gradients ${(trainN / results.tf_train_builtin.per_s).toFixed(2)} s)`);
    tfText.dispose();
    await textSession.release();

    return {
      settings: {
        preset: opts.preset,
        threads: opts.threads,
        text_batch: n,
        machine: machineName(),
        node: process.version,
        ort: ort.env.versions.node ?? 'unknown',
        tf_backend: tfInfo.backend,
      },
      ceiling,
      ort: { image_b1, image_b4, text_l10: results.ort_10, text_l77: results.ort_77 },
      tf: { image_b1: tfImage, text_l10: results.tf_10, text_l77: results.tf_77, text_l10_train_step: results.tf_train, text_l10_train_step_builtin_grads: results.tf_train_builtin },
      agreement: { text_max_rel_diff: textDiff, image_max_rel_diff: maxRelDiff(tfImg1, ortImg1, 1) },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function fmt(r: Rate, unit: string, ceiling: number): string {
  return `${r.per_s.toFixed(2)} ${unit} (median ${r.median_per_s.toFixed(2)}) | ${r.gflops.toFixed(1)} | ${((100 * r.gflops) / ceiling).toFixed(0)}%`;
}

export function benchMarkdown(r: ClipBenchResult, command: string): string {
  const c = r.ceiling;
  return [
    `### CLIP towers, ${r.settings.preset} preset (random weights)`,
    '',
    `Command: \`${command}\`  `,
    `Machine: ${r.settings.machine}; Node ${r.settings.node}; onnxruntime-node ${r.settings.ort} (${r.settings.threads} threads); TF.js backend ${r.settings.tf_backend}.  `,
    `Ceiling, measured in the same run: the best plain matmul over the model's own matmul shapes runs at ` +
      `**${c.ort_matmul_gflops.toFixed(1)} GFLOP/s on ORT** ([${c.ort_matmul_shape.join('×')}]) and ` +
      `${c.tf_matmul_gflops.toFixed(1)} GFLOP/s on TF.js ${r.settings.tf_backend} ([${c.tf_matmul_shape.join('×')}]).`,
    '',
    '| what | rate | GFLOP/s | of own ceiling |',
    '|---|---|---|---|',
    `| ORT image tower, batch 1 | ${fmt(r.ort.image_b1, 'images/s', c.ort_matmul_gflops)} |`,
    `| ORT image tower, batch 4 | ${fmt(r.ort.image_b4, 'images/s', c.ort_matmul_gflops)} |`,
    `| ORT text tower, L = 10, ${r.settings.text_batch} prompts | ${fmt(r.ort.text_l10, 'prompts/s', c.ort_matmul_gflops)} |`,
    `| ORT text tower, L = 77, ${r.settings.text_batch} prompts | ${fmt(r.ort.text_l77, 'prompts/s', c.ort_matmul_gflops)} |`,
    `| TF.js image tower, batch 1 | ${fmt(r.tf.image_b1, 'images/s', c.tf_matmul_gflops)} |`,
    `| TF.js text tower, L = 10 | ${fmt(r.tf.text_l10, 'prompts/s', c.tf_matmul_gflops)} |`,
    `| TF.js text tower, L = 77 | ${fmt(r.tf.text_l77, 'prompts/s', c.tf_matmul_gflops)} |`,
    `| TF.js text tower, L = 10, 10 prompts, forward + backward (custom gradients) | ${fmt(r.tf.text_l10_train_step, 'prompts/s', c.tf_matmul_gflops)} |`,
    `| same, TF.js built-in gradients (naive: matMul transpose flags) | ${fmt(r.tf.text_l10_train_step_builtin_grads, 'prompts/s', c.tf_matmul_gflops)} |`,
    '',
    `ORT and TF.js agree on the benchmarked inputs: text max relative difference ${r.agreement.text_max_rel_diff.toExponential(1)}, ` +
      `image ${r.agreement.image_max_rel_diff.toExponential(1)}. GFLOP/s counts 2 FLOPs per multiply-add of the matmuls ` +
      `(forward + backward w.r.t. the inputs counted as 2× forward: the weights are frozen, so no weight gradients); "of own ceiling" divides by the same backend's matmul rate.`,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      preset: { type: 'string', default: 'vit-b16' },
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      threads: { type: 'string', default: String(availableParallelism()) },
      'text-batch': { type: 'string', default: '100' },
      write: { type: 'string' },
    },
  });
  if (!PRESET_NAMES.includes(values.preset as PresetName)) {
    console.error(`bench:clip: --preset must be one of ${PRESET_NAMES.join(', ')}`);
    process.exit(2);
  }
  const result = await runClipBench({
    preset: values.preset as PresetName,
    quick: values.quick === true,
    threads: Number(values.threads),
    textBatch: Number(values['text-batch']),
  });
  if (values.json) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  const argv = process.argv.slice(2).filter((a, i, all) => a !== '--write' && all[i - 1] !== '--write');
  const md = benchMarkdown(result, `npm run bench:clip${argv.length ? ' -- ' + argv.join(' ') : ''}`);
  console.log(md);
  if (values.write) {
    writeDocSection(values.write, 'bench:clip', md, '# Benchmarks\n\n');
    console.error(`bench:clip: wrote ${values.write}`);
  }
}

if (process.argv[1]?.endsWith('bench-clip.ts')) await main();
