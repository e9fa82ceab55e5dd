// The product's two encoder backends (TF.js for training, ONNX Runtime for inference), loaded from a
// real model directory the way the product loads it, against the independent Float64 reference and
// against each other; truncation to max(eot)+1 against the full 77-token computation.
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeModel } from '../../../gpu-worker/clip/make-model.ts';
import { loadClipModel, type ClipModel } from '../../../gpu-worker/clip/model.ts';
import { OrtClipEncoders } from '../../../gpu-worker/clip/ort-encoders.ts';
import { embedTokenIds } from '../../../gpu-worker/clip/prompt-embeddings.ts';
import { SeededRandom } from '../../../gpu-worker/clip/random.ts';
import { TfTextTower } from '../../../gpu-worker/clip/tf/text-tower.ts';
import { TfVisionTower } from '../../../gpu-worker/clip/tf/vision-tower.ts';
import { initTfBackend } from '../../../gpu-worker/runtime/tf-backend.ts';
import { loadPlainModel, plainImageFeatures, plainTextFeatures, type PlainModel } from '../../reference/clip-plain.ts';
import { relErrRows as relErr } from '../../helpers/numeric.ts';
import { useTmpDir } from '../../helpers/tmp.ts';

const REAL_VOCAB = resolve(process.cwd(), 'models/clip-vocab');
const PROMPTS = ['a photo of a cat.', 'hello world', 'a blurry photo of a dog, taken at night (2024) & more!', 'x'];

describe('CLIP encoders: TF.js and ONNX Runtime vs the plain reference', () => {
  const dir = useTmpDir('enc-agree-');
  let model: ClipModel;
  let plain: PlainModel;
  let ortEnc: OrtClipEncoders;
  let ids: number[][];

  beforeAll(async () => {
    await initTfBackend({ log: () => {} });
    makeModel({ preset: 'tiny', seed: 5, out: dir, vocabDir: REAL_VOCAB });
    model = loadClipModel(dir);
    plain = loadPlainModel(dir);
    ortEnc = new OrtClipEncoders(model, { provider: 'cpu' });
    ids = PROMPTS.map((p) => model.tokenizer.encode(p));
  });

  afterAll(async () => {
    await ortEnc?.release();
  });

  it('text features: ORT and TF.js equal the reference within 1e-4, and each other', async () => {
    const ref = ids.map((row) => plainTextFeatures(plain, row));
    const ortOut = await ortEnc.encodeTokenIds(ids);
    const tower = new TfTextTower(model.weights.text, model.config.text);
    const batch = embedTokenIds(model.weights.text.tokenEmbedding, ids, model.tokenizer.eotId);
    const tfOut = tf.tidy(() => tower.forward(tf.tensor3d(batch.embeds, [batch.n, batch.length, batch.width]), batch.eot)).dataSync();
    tower.dispose();
    expect(batch.length).toBe(Math.max(...ids.map((r) => r.length))); // L = max(eot)+1, not 77
    expect(relErr(ortOut, ref)).toBeLessThan(1e-4);
    expect(relErr(tfOut, ref)).toBeLessThan(1e-4);
    const p = ref[0].length;
    expect(relErr(tfOut, Array.from({ length: ids.length }, (_, r) => Array.from(ortOut.subarray(r * p, (r + 1) * p))))).toBeLessThan(1e-4);
  });

  it('truncated length equals the full 77-token computation (garbage after the EOT changes nothing)', async () => {
    const truncated = embedTokenIds(model.weights.text.tokenEmbedding, ids, model.tokenizer.eotId);
    const full = embedTokenIds(model.weights.text.tokenEmbedding, ids, model.tokenizer.eotId, 77);
    // Fill every position after each EOT with random embeddings: the causal mask must hide them.
    const rng = new SeededRandom(9);
    const d = full.width;
    full.eot.forEach((e, n) => {
      for (let l = e + 1; l < 77; l++) for (let k = 0; k < d; k++) full.embeds[(n * 77 + l) * d + k] = rng.normal();
    });
    const a = await ortEnc.encodeEmbeddings(truncated.embeds, truncated.n, truncated.length, truncated.eot);
    const b = await ortEnc.encodeEmbeddings(full.embeds, full.n, 77, full.eot);
    const p = a.length / ids.length;
    const rows = (x: Float32Array) => Array.from({ length: ids.length }, (_, r) => Array.from(x.subarray(r * p, (r + 1) * p)));
    expect(relErr(a, rows(b))).toBeLessThan(1e-5);
    const tower = new TfTextTower(model.weights.text, model.config.text);
    const tfFull = tf.tidy(() => tower.forward(tf.tensor3d(full.embeds, [full.n, 77, d]), full.eot)).dataSync();
    tower.dispose();
    expect(relErr(tfFull, rows(b))).toBeLessThan(1e-4);
  });

  it('image features at the model size: ORT and TF.js equal the reference within 1e-4', async () => {
    const v = model.config.vision;
    const rng = new SeededRandom(11);
    const n = 3;
    const pixels = rng.fillNormal(new Float32Array(n * v.numChannels * v.imageSize ** 2), 1);
    const size = v.numChannels * v.imageSize ** 2;
    const ref = Array.from({ length: n }, (_, i) => plainImageFeatures(plain, Float64Array.from(pixels.subarray(i * size, (i + 1) * size))));
    const ortOut = await ortEnc.encodePixels(pixels, n);
    const tower = new TfVisionTower(model.weights.vision, v);
    const tfOut = tf.tidy(() => tower.forward(tf.tensor4d(pixels, [n, v.numChannels, v.imageSize, v.imageSize]))).dataSync();
    tower.dispose();
    expect(relErr(ortOut, ref)).toBeLessThan(1e-4);
    expect(relErr(tfOut, ref)).toBeLessThan(1e-4);
  });

  it('the ONNX graphs are cached by weight hash and reused', async () => {
    const again = new OrtClipEncoders(loadClipModel(dir), { provider: 'cpu' });
    const a = await again.encodeTokenIds(ids.slice(0, 1));
    const b = await ortEnc.encodeTokenIds(ids.slice(0, 1));
    expect(Array.from(a)).toEqual(Array.from(b));
    const cached = readdirSync(join(dir, '.cocoop-cache')).filter((f) => f.endsWith('.onnx'));
    expect(cached.some((f) => f.includes(model.weightsSha256()))).toBe(true);
    await again.release();
  });
});
