// Benchmark of the ONNX Runtime CLIP towers on random ViT-B/16-shaped weights.
//
//   node bin/run-ts.mjs scripts/bench-ort.ts [--threads N] [--text-batch 100] [--quick]
//
// Reports a plain MatMul GFLOP/s (the machine's ceiling through ORT), image-tower images/s at
// batch 1 and 8, and text-tower prompts/s at L = 10 and L = 77.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import type { TextConfig, VisionConfig } from '../gpu-worker/clip/config.ts';
import { GraphBuilder } from '../gpu-worker/clip/onnx/graph-builder.ts';
import { buildTextGraph } from '../gpu-worker/clip/onnx/text-graph.ts';
import { buildVisionGraph } from '../gpu-worker/clip/onnx/vision-graph.ts';
import type { HostTensor } from '../gpu-worker/clip/safetensors.ts';
import type { EncoderLayer, TextWeights, VisionWeights } from '../gpu-worker/clip/weights.ts';
import { createOrtSession, runTextGraph, runVisionGraph } from '../gpu-worker/runtime/ort.ts';

const { values: args } = parseArgs({
  options: {
    threads: { type: 'string', default: String(availableParallelism()) },
    'text-batch': { type: 'string', default: '100' },
    quick: { type: 'boolean', default: false }, // fewer repetitions
  },
});
const threads = Number(args.threads);
const textBatch = Number(args['text-batch']);
const reps = args.quick ? 1 : 5;

// ---- random weights (xorshift32, uniform ±scale) ----

let state = 0x9e3779b9;
function rand(): number {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) / 4294967296;
}

function tensor(shape: number[], scale: number, offset = 0): HostTensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = offset + (rand() * 2 - 1) * scale;
  return { shape, data };
}

function layer(d: number, inter: number): EncoderLayer {
  const lin = (o: number, i: number) => ({ weight: tensor([o, i], 1 / Math.sqrt(i)), bias: tensor([o], 0.02) });
  const ln = () => ({ weight: tensor([d], 0.1, 1), bias: tensor([d], 0.02) });
  return { layerNorm1: ln(), q: lin(d, d), k: lin(d, d), v: lin(d, d), out: lin(d, d), layerNorm2: ln(), fc1: lin(inter, d), fc2: lin(d, inter) };
}

const P = 512;
const textCfg: TextConfig = {
  vocabSize: 49408,
  hiddenSize: 512,
  intermediateSize: 2048,
  numHiddenLayers: 12,
  numAttentionHeads: 8,
  maxPositionEmbeddings: 77,
  hiddenAct: 'quick_gelu',
  layerNormEps: 1e-5,
};
const visionCfg: VisionConfig = {
  hiddenSize: 768,
  intermediateSize: 3072,
  numHiddenLayers: 12,
  numAttentionHeads: 12,
  numChannels: 3,
  imageSize: 224,
  patchSize: 16,
  hiddenAct: 'quick_gelu',
  layerNormEps: 1e-5,
};

function textWeights(c: TextConfig): TextWeights {
  const d = c.hiddenSize;
  return {
    tokenEmbedding: tensor([c.vocabSize, d], 0.02),
    positionEmbedding: tensor([c.maxPositionEmbeddings, d], 0.01),
    layers: Array.from({ length: c.numHiddenLayers }, () => layer(d, c.intermediateSize)),
    finalLayerNorm: { weight: tensor([d], 0.1, 1), bias: tensor([d], 0.02) },
    projection: tensor([P, d], 1 / Math.sqrt(d)),
  };
}

function visionWeights(c: VisionConfig): VisionWeights {
  const w = c.hiddenSize;
  const np = (c.imageSize / c.patchSize) ** 2;
  const ln = () => ({ weight: tensor([w], 0.1, 1), bias: tensor([w], 0.02) });
  return {
    classEmbedding: tensor([w], 0.02),
    patchEmbedding: tensor([w, c.numChannels, c.patchSize, c.patchSize], 1 / Math.sqrt(c.numChannels * c.patchSize ** 2)),
    positionEmbedding: tensor([1 + np, w], 0.01),
    preLayerNorm: ln(),
    layers: Array.from({ length: c.numHiddenLayers }, () => layer(w, c.intermediateSize)),
    postLayerNorm: ln(),
    projection: tensor([P, w], 1 / Math.sqrt(w)),
  };
}

/** Multiply-adds of one sequence of length L through an encoder stack. */
function encoderMacs(d: number, inter: number, layers: number, len: number): number {
  return layers * (len * (4 * d * d + 2 * d * inter) + 2 * len * len * d);
}

// ---- timing ----

interface Timing {
  best: number; // seconds
  median: number;
}

/** One warm-up call, then `repeats` timed calls. The machine may be shared: best and median are both shown. */
async function timeIt(fn: () => Promise<unknown>, repeats: number): Promise<Timing> {
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

/** "<rate> <unit> (median <rate>; <GFLOP/s>)" for `items` per call and `flops` per call. */
function rate(t: Timing, items: number, unit: string, flops: number): string {
  return (
    `${(items / t.best).toFixed(2)} ${unit} (median ${(items / t.median).toFixed(2)}; ` +
    `${(flops / t.best / 1e9).toFixed(1)} GFLOP/s)`
  );
}

const dir = mkdtempSync(join(tmpdir(), 'bench-ort-'));
const session = (name: string, bytes: Uint8Array) => {
  const path = join(dir, `${name}.onnx`);
  writeFileSync(path, bytes);
  return createOrtSession(path, { threads, provider: 'cpu' });
};

console.log(`onnxruntime-node ${ort.env.versions.node}, ${threads} intra-op threads, ${availableParallelism()} CPUs`);

try {
  // ---- MatMul ceiling ----
  {
    const n = 1024;
    const g = new GraphBuilder('matmul');
    const a = g.input('a', 'float', [n, n]);
    const b = g.floatInit('b', tensor([n, n], 1).data, [n, n]);
    g.output(g.op('MatMul', [a, b]), 'c', 'float', [n, n]);
    const s = await session('matmul', g.toBytes());
    const feed = { a: new ort.Tensor('float32', tensor([n, n], 1).data, [n, n]) };
    const t = await timeIt(() => s.run(feed), 20);
    const gflops = (sec: number) => ((2 * n ** 3) / sec / 1e9).toFixed(1);
    console.log(`MatMul ${n}³: ${gflops(t.best)} GFLOP/s (median ${gflops(t.median)})`);
    await s.release();
  }

  // ---- image tower ----
  {
    const t0 = performance.now();
    const bytes = buildVisionGraph(visionWeights(visionCfg), visionCfg);
    const s = await session('vision', bytes);
    const c = visionCfg;
    console.log(`vision graph: ${(bytes.length / 2 ** 20).toFixed(0)} MiB, built + loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const np = (c.imageSize / c.patchSize) ** 2;
    const macs = encoderMacs(c.hiddenSize, c.intermediateSize, c.numHiddenLayers, np + 1) + np * c.hiddenSize * c.numChannels * c.patchSize ** 2;
    for (const n of [1, 8]) {
      const px = tensor([n, c.numChannels, c.imageSize, c.imageSize], 1).data;
      const t = await timeIt(() => runVisionGraph(s, px, n, c.numChannels, c.imageSize), n === 1 ? 3 * reps : reps);
      console.log(`image tower batch ${n}: ${rate(t, n, 'images/s', n * 2 * macs)}`);
    }
    await s.release();
  }

  // ---- text tower ----
  {
    const t0 = performance.now();
    const w = textWeights(textCfg);
    const bytes = buildTextGraph(w, textCfg);
    const s = await session('text', bytes);
    const d = textCfg.hiddenSize;
    console.log(`text graph: ${(bytes.length / 2 ** 20).toFixed(0)} MiB, built + loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    for (const len of [10, 77]) {
      const embeds = tensor([textBatch, len, d], 0.02).data;
      const eot = Array.from({ length: textBatch }, () => len - 1);
      const t = await timeIt(() => runTextGraph(s, embeds, textBatch, len, d, eot), len <= 16 ? 3 * reps : reps);
      const macs = encoderMacs(d, textCfg.intermediateSize, textCfg.numHiddenLayers, len);
      console.log(`text tower L=${len} batch ${textBatch}: ${rate(t, textBatch, 'prompts/s', textBatch * 2 * macs)}`);
    }
    await s.release();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
