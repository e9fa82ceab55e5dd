// Timing of CoCoOp inference on ONNX Runtime: the optimized path (image tower + prefix-shared,
// length-bucketed text) against the official-style naive path (same image tower, then per image C
// prompts padded to 77 tokens), on a random-weight model (default: vit-b16 = openai/clip-vit-base-patch16 shapes).
//
//   node bin/run-ts.mjs scripts/bench-cocoop-infer.ts [--preset vit-b16] [--classes 10,100] [--images 16] [--image-batch 4]
//                                                      [--naive-images 2] [--repeats 3]
//
// Prints images/s (best and median of the repeats) and the largest relative logit difference
// between the optimized and naive paths.
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_CTX_INIT, initMetaNet, type AdapterParams } from '../gpu-worker/cocoop/adapter.ts';
import { CocoopInference, naiveOfficialLogits } from '../gpu-worker/cocoop/ort-inference.ts';
import { ctxFromPhrase } from '../gpu-worker/cocoop/prompts.ts';
import { makeModel } from '../gpu-worker/clip/make-model.ts';
import { loadClipModel } from '../gpu-worker/clip/model.ts';
import { OrtClipEncoders } from '../gpu-worker/clip/ort-encoders.ts';
import { PRESET_NAMES, type PresetName } from '../gpu-worker/clip/presets.ts';
import { SeededRandom } from '../gpu-worker/clip/random.ts';

const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'vit-b16' },
    classes: { type: 'string', default: '10,100' },
    images: { type: 'string', default: '16' },
    'naive-images': { type: 'string', default: '2' },
    repeats: { type: 'string', default: '3' },
    'image-batch': { type: 'string', default: '4' },
    vocab: { type: 'string', default: resolve(process.cwd(), 'models/clip-vocab') },
  },
});
const preset = values.preset as PresetName;
if (!PRESET_NAMES.includes(preset)) throw new Error(`--preset: one of ${PRESET_NAMES.join(', ')}`);
const classCounts = values.classes.split(',').map(Number);
const nImages = Number(values.images);
const nNaive = Number(values['naive-images']);
const repeats = Number(values.repeats);
const imageBatch = Number(values['image-batch']);

// Class names of mixed token lengths, like real label sets (1–6 BPE tokens, some with "_").
const HEADS = ['cat', 'dog', 'golden_retriever', 'sea lion', 'airliner', 'tabby', 'red fox', 'snow leopard', 'crème brûlée', 'fire truck',
  'abyssinian', 'bengal', 'birman', 'bombay', 'british_shorthair', 'egyptian_mau', 'maine_coon', 'persian', 'ragdoll', 'russian_blue',
  'siamese', 'sphynx', 'american_bulldog', 'basset_hound', 'beagle', 'boxer', 'chihuahua', 'english_cocker_spaniel', 'havanese', 'keeshond',
  'leonberger', 'miniature_pinscher', 'newfoundland', 'pomeranian', 'pug', 'saint_bernard', 'samoyed', 'shiba_inu', 'wheaten_terrier', 'yorkshire_terrier',
  'pink primrose', 'globe thistle', 'moon orchid', 'canterbury bells', 'sweet pea', 'english marigold', 'tiger lily', 'bird of paradise', 'monkshood', 'snapdragon'];
function labelSet(c: number): string[] {
  return Array.from({ length: c }, (_, i) => (i < HEADS.length ? HEADS[i] : `${HEADS[i % HEADS.length]} ${Math.floor(i / HEADS.length)}`));
}

function summary(times: number[], items: number): string {
  const s = [...times].sort((a, b) => a - b);
  return `${(items / s[0]).toFixed(2)} images/s (median ${(items / s[Math.floor(s.length / 2)]).toFixed(2)})`;
}

async function timed(fn: () => Promise<unknown>, n: number): Promise<number[]> {
  const times: number[] = [];
  for (let r = 0; r < n; r++) {
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / 1000);
  }
  return times;
}

function relDiff(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}

/** Image features [n, P] through the image tower in batches of `imageBatch`. */
async function encodeImages(encoders: OrtClipEncoders, pixels: Float32Array, n: number, size: number, p: number): Promise<Float32Array> {
  const out = new Float32Array(n * p);
  for (let i = 0; i < n; i += imageBatch) {
    const nb = Math.min(imageBatch, n - i);
    out.set(await encoders.encodePixels(pixels.subarray(i * size, (i + nb) * size), nb), i * p);
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), `bench-cocoop-${preset}-`));
try {
  let t0 = performance.now();
  makeModel({ preset, seed: 1, out: dir, vocabDir: values.vocab });
  const model = loadClipModel(dir);
  console.log(`model ${preset} written and loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${availableParallelism()} threads`);
  const encoders = new OrtClipEncoders(model, { provider: 'cpu', log: () => {} });
  const inference = new CocoopInference(encoders, { provider: 'cpu', log: () => {} });
  const batchedOnly = new CocoopInference(encoders, { provider: 'cpu', log: () => {}, sharePrefix: false });
  const rng = new SeededRandom(7);
  const adapter: AdapterParams = {
    method: 'cocoop',
    ctx: ctxFromPhrase(model.tokenizer, model.weights.text.tokenEmbedding, DEFAULT_CTX_INIT),
    metaNet: initMetaNet(rng, model.config.projectionDim, model.config.text.hiddenSize),
    ctxInit: DEFAULT_CTX_INIT,
  };
  const v = model.config.vision;
  const size = v.numChannels * v.imageSize ** 2;
  const pixels = rng.fillNormal(new Float32Array(nImages * size), 1);

  t0 = performance.now();
  const warm = await encoders.encodePixels(pixels.subarray(0, size), 1);
  await inference.logits(warm, 1, labelSet(2), adapter);
  await batchedOnly.logits(warm, 1, labelSet(2), adapter);
  await naiveOfficialLogits(encoders, warm, 1, labelSet(2), adapter);
  console.log(`graphs built + sessions created in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const p = model.config.projectionDim;
  const imageTimes = await timed(() => encodeImages(encoders, pixels, nImages, size, p), repeats);
  console.log(`image tower alone, ${nImages} images in batches of ${imageBatch}: ${summary(imageTimes, nImages)}`);
  const features = await encodeImages(encoders, pixels, nImages, size, p);

  for (const c of classCounts) {
    const labels = labelSet(c);
    const opt = await timed(async () => inference.logits(await encodeImages(encoders, pixels, nImages, size, p), nImages, labels, adapter), repeats);
    const textOnly = await timed(() => inference.logits(features, nImages, labels, adapter), repeats);
    const batched = await timed(() => batchedOnly.logits(features, nImages, labels, adapter), repeats);
    const naivePixels = pixels.subarray(0, nNaive * size);
    const naive = await timed(async () => naiveOfficialLogits(encoders, await encodeImages(encoders, naivePixels, nNaive, size, p), nNaive, labels, adapter), Math.min(repeats, 2));
    const a = await inference.logits(features.subarray(0, nNaive * p), nNaive, labels, adapter);
    const b = await naiveOfficialLogits(encoders, features.subarray(0, nNaive * p), nNaive, labels, adapter);
    console.log(`\n${c} classes (CoCoOp, ctx "${DEFAULT_CTX_INIT}"):`);
    console.log(`  optimized, image tower + text: ${summary(opt, nImages)}`);
    console.log(`  optimized, text only (features given): ${summary(textOnly, nImages)}`);
    console.log(`  batched + truncated, no prefix sharing, text only: ${summary(batched, nImages)}`);
    console.log(`  naive (official-style), image tower + text: ${summary(naive, nNaive)}`);
    console.log(`  max relative logit difference optimized vs naive: ${relDiff(a, b).toExponential(2)}`);
  }
  await inference.release();
  await batchedOnly.release();
  await encoders.release();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
