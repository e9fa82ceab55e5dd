// Micro-benchmark of the TF.js CLIP text tower (ViT-B/16 shape: D=512, 12 layers, 8 heads,
// MLP 2048, projection 512) with random weights: forward and forward+backward (gradient w.r.t. the
// input embeddings, as when training prompt context vectors), N=10 prompts at L=10 and L=77.
// Also times the same backward with TF.js's built-in gradients (matMul transpose flags) for contrast.
//   node bin/run-ts.mjs scripts/bench-tf-text.ts [--reps 5] [--no-builtin]
import * as tf from '@tensorflow/tfjs';
import type { TextConfig } from '../gpu-worker/clip/config.ts';
import type { HostTensor } from '../gpu-worker/clip/safetensors.ts';
import { TfTextTower } from '../gpu-worker/clip/tf/text-tower.ts';
import type { EncoderLayer, LayerNorm, Linear, TextWeights } from '../gpu-worker/clip/weights.ts';
import { initTfBackend } from '../gpu-worker/runtime/tf-backend.ts';

const args = process.argv.slice(2);
const repsArg = args.indexOf('--reps');
const REPS = repsArg >= 0 ? Number(args[repsArg + 1]) : 5;
const WITH_BUILTIN = !args.includes('--no-builtin');

const CFG: TextConfig = {
  vocabSize: 1000, // token embeddings are not used here (inputs are embeddings)
  hiddenSize: 512,
  intermediateSize: 2048,
  numHiddenLayers: 12,
  numAttentionHeads: 8,
  maxPositionEmbeddings: 77,
  hiddenAct: 'quick_gelu',
  layerNormEps: 1e-5,
};
const P = 512;
const N = 10;

let seed = 12345;
function rand(): number {
  // xorshift32 → roughly uniform in [-1, 1)
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2147483648 - 1;
}
function tensor(shape: number[], scale: number, offset = 0): HostTensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = offset + scale * rand();
  return { shape, data };
}
const lin = (out: number, inF: number): Linear => ({ weight: tensor([out, inF], Math.sqrt(3 / inF)), bias: tensor([out], 0.02) });
const ln = (d: number): LayerNorm => ({ weight: tensor([d], 0.1, 1), bias: tensor([d], 0.05) });
function layer(d: number, inter: number): EncoderLayer {
  return {
    layerNorm1: ln(d), q: lin(d, d), k: lin(d, d), v: lin(d, d), out: lin(d, d),
    layerNorm2: ln(d), fc1: lin(inter, d), fc2: lin(d, inter),
  };
}
const weights: TextWeights = {
  tokenEmbedding: tensor([CFG.vocabSize, CFG.hiddenSize], 0.02),
  positionEmbedding: tensor([CFG.maxPositionEmbeddings, CFG.hiddenSize], 0.01),
  layers: Array.from({ length: CFG.numHiddenLayers }, () => layer(CFG.hiddenSize, CFG.intermediateSize)),
  finalLayerNorm: ln(CFG.hiddenSize),
  projection: tensor([P, CFG.hiddenSize], Math.sqrt(3 / CFG.hiddenSize)),
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time(fn: () => tf.Tensor): number {
  const times: number[] = [];
  for (let i = 0; i < REPS + 1; i++) {
    const t0 = performance.now();
    const out = fn();
    out.dataSync(); // wait for the result
    out.dispose();
    if (i > 0) times.push(performance.now() - t0); // first run = warm-up
  }
  return median(times);
}

/** Multiply-adds of one forward pass for N prompts of length L (matMuls only). */
function macs(l: number): number {
  const d = CFG.hiddenSize;
  const perLayer = N * l * (4 * d * d + 2 * d * CFG.intermediateSize) + 2 * N * l * l * d;
  return CFG.numHiddenLayers * perLayer + N * d * P;
}

const info = await initTfBackend();
console.log(`backend ${info.backend}, ${info.threads} thread(s); N=${N}, D=512, 12 layers, 8 heads, MLP 2048; median of ${REPS}`);

const towers: [string, TfTextTower][] = [['custom grads', new TfTextTower(weights, CFG)]];
if (WITH_BUILTIN) towers.push(['built-in grads', new TfTextTower(weights, CFG, { builtinGradients: true })]);

for (const l of [10, 77]) {
  const x = tf.randomNormal([N, l, CFG.hiddenSize], 0, 0.02) as tf.Tensor3D;
  const r = tf.randomNormal([N, P]) as tf.Tensor2D;
  const eot = Array.from({ length: N }, (_, i) => l - 1 - (i % 3));
  const gmac = macs(l) / 1e9;
  for (const [name, tower] of towers) {
    const loss = (e: tf.Tensor) => tf.sum(tf.mul(tower.forward(e as tf.Tensor3D, eot), r));
    const fwd = time(() => tower.forward(x, eot));
    const fb = time(() => tf.grad(loss)(x));
    const gf = (2 * gmac) / (fwd / 1000);
    console.log(
      `L=${String(l).padStart(2)} ${name.padEnd(14)} forward ${fwd.toFixed(1).padStart(7)} ms (${gf.toFixed(1)} GFLOP/s)` +
        `   forward+backward ${fb.toFixed(1).padStart(7)} ms (${(fb / fwd).toFixed(2)}× forward)`,
    );
  }
  tf.dispose([x, r]);
}
for (const [, tower] of towers) tower.dispose();
console.log(`tensors left: ${tf.memory().numTensors}`);
