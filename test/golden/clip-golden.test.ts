// The product's CLIP (ONNX Runtime and TF.js paths) and the independent Float64 reference
// (test/reference/) against the outside golden: features of the committed tiny checkpoint computed
// once by PyTorch's own modules in float64, wired as OpenAI's published CLIP, with a tokenizer
// written separately from CLIP's published BPE (tools/golden/, docs/golden.md).
//
// Tolerances (measure: per row, max|got − want| / max|want|, the worst row; printed for every path):
// - Product (float32) ≤ 1e-5. torch's own float32 run of the same model lies 3e-7 (image) and 5e-7
//   (text) from its float64 run (recorded in the golden); the product's float32 paths sum in other
//   orders, so allow 20×. A semantic slip moves features by ≥ 1e-3 (one weight perturbed by 2 %
//   gives > 1e-4, checked below), so 1e-5 still separates round-off from mistakes.
// - Float64 reference ≤ 1e-12. Both sides are float64 with different summation orders: round-off of
//   ~1e-16 per operation through two layers and three LayerNorms stays below 1e-13 (measured ≈ 8e-16);
//   erf GELU in place of quick_gelu moves the text features by 1e-2 (checked below: > 1e-3).
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classPrompts, zeroShotTexts } from '../../gpu-worker/cocoop/prompts.ts';
import { loadClipModel, type ClipModel } from '../../gpu-worker/clip/model.ts';
import { OrtClipEncoders } from '../../gpu-worker/clip/ort-encoders.ts';
import { preprocessImage } from '../../gpu-worker/clip/preprocess.ts';
import { embedTokenIds } from '../../gpu-worker/clip/prompt-embeddings.ts';
import { TfTextTower } from '../../gpu-worker/clip/tf/text-tower.ts';
import { TfVisionTower } from '../../gpu-worker/clip/tf/vision-tower.ts';
import { loadPlainModel, plainImageFeatures, plainLogit, plainTextFeatures, type PlainModel } from '../reference/clip-plain.ts';
import { readSafetensorsHeader } from '../reference/safetensors-plain.ts';
import { useTfWasm } from '../helpers/tf-wasm.ts';
import { useTmpDirs } from '../helpers/tmp.ts';
import { copyGoldenModel, deviation, goldenPixels, loadGolden, report, REPO_ROOT, sha256Of } from './golden.ts';

const PRODUCT_TOL = 1e-5;
const REFERENCE_TOL = 1e-12;
const quiet = () => {};

useTfWasm();
const golden = loadGolden();
const tmp = useTmpDirs('golden-clip-');

function ortFeatures(enc: OrtClipEncoders): Promise<{ text: Float32Array; image: Float32Array }> {
  return Promise.all([enc.encodeTokenIds(golden.token_ids), enc.encodePixels(goldenPixels(golden), golden.image_features.length)]).then(
    ([text, image]) => ({ text, image }),
  );
}

/** Adds `delta` to element `index` of a float32 tensor of model.safetensors in `dir`, in place. */
function perturbWeight(dir: string, name: string, index: number, relative: number): void {
  const file = join(dir, 'model.safetensors');
  const header = readSafetensorsHeader(file);
  const entry = header.entries.get(name);
  if (!entry || entry.dtype !== 'F32') throw new Error(`no F32 tensor ${name}`);
  const at = header.dataStart + entry.begin + 4 * index;
  const bytes = readFileSync(file).subarray(at, at + 4);
  const value = new DataView(bytes.buffer, bytes.byteOffset, 4).getFloat32(0, true);
  const out = new Uint8Array(4);
  new DataView(out.buffer).setFloat32(0, value * (1 + relative), true);
  const fd = openSync(file, 'r+');
  writeSync(fd, out, 0, 4, at);
  closeSync(fd);
}

describe('outside golden (PyTorch float64, published CLIP structure): the tiny checkpoint', () => {
  let dir: string;
  let model: ClipModel;
  let plain: PlainModel;
  let ort: OrtClipEncoders;
  const n = golden.image_features.length;

  beforeAll(() => {
    dir = copyGoldenModel(golden, tmp());
    model = loadClipModel(dir);
    plain = loadPlainModel(dir);
    ort = new OrtClipEncoders(model, { provider: 'cpu', log: quiet });
  });

  afterAll(async () => {
    await ort?.release();
  });

  it('the committed checkpoint and PNG are the ones the golden was made from', () => {
    for (const [file, sha] of Object.entries(golden.model.sha256)) {
      expect(sha256Of(join(REPO_ROOT, golden.model.dir, file)), `${golden.model.dir}/${file} changed: rerun ${golden.generator.script}`).toBe(sha);
    }
    expect(sha256Of(join(REPO_ROOT, golden.images.png.file))).toBe(golden.images.png.sha256);
    expect(golden.generator.dtype).toBe('float64');
  });

  it("token ids: the product's tokenizer gives the ids of the golden's own BPE, for every prompt", () => {
    const tok = model.tokenizer;
    expect(golden.texts.map((t) => tok.encode(t))).toEqual(golden.token_ids);
    expect(golden.zeroshot.prompt_texts.map((t) => tok.encode(t))).toEqual(golden.zeroshot.token_ids);
    expect(golden.cocoop.prompt_texts.map((t) => tok.encode(t))).toEqual(golden.cocoop.prompt_token_ids);
    // The product builds the same prompts: its zero-shot template, and the CoCoOp class suffixes after [SOT][M ctx].
    expect(zeroShotTexts(golden.zeroshot.class_names)).toEqual(golden.zeroshot.prompt_texts);
    const m = golden.cocoop.n_ctx;
    const cp = classPrompts(tok, model.weights.text.tokenEmbedding, golden.cocoop.class_names, m);
    expect(cp.suffixIds).toEqual(golden.cocoop.prompt_token_ids.map((ids) => ids.slice(1 + m)));
    expect(golden.cocoop.prompt_token_ids.every((ids) => ids[0] === tok.sotId)).toBe(true);
  });

  it('ONNX Runtime: text and image features within 1e-5 of the golden', async () => {
    const { text, image } = await ortFeatures(ort);
    expect(report('ORT text features', deviation(text, golden.text_features)).rel).toBeLessThanOrEqual(PRODUCT_TOL);
    expect(report('ORT image features', deviation(image, golden.image_features)).rel).toBeLessThanOrEqual(PRODUCT_TOL);
  });

  it('TF.js: text and image features within 1e-5 of the golden', () => {
    const textTower = new TfTextTower(model.weights.text, model.config.text);
    const visionTower = new TfVisionTower(model.weights.vision, model.config.vision);
    const batch = embedTokenIds(model.weights.text.tokenEmbedding, golden.token_ids, model.tokenizer.eotId);
    const text = tf.tidy(() => textTower.forward(tf.tensor3d(batch.embeds, [batch.n, batch.length, batch.width]), batch.eot)).dataSync();
    const [c, s] = golden.images.shape;
    const image = tf.tidy(() => visionTower.forward(tf.tensor4d(goldenPixels(golden), [n, c, s, s]))).dataSync();
    textTower.dispose();
    visionTower.dispose();
    expect(report('TF.js text features', deviation(text, golden.text_features)).rel).toBeLessThanOrEqual(PRODUCT_TOL);
    expect(report('TF.js image features', deviation(image, golden.image_features)).rel).toBeLessThanOrEqual(PRODUCT_TOL);
  });

  it('Float64 reference: text features, image features and logits within 1e-12 of the golden', () => {
    const [c, s] = golden.images.shape;
    const size = c * s * s;
    const pixels = goldenPixels(golden);
    const text = golden.token_ids.map((ids) => plainTextFeatures(plain, ids));
    const image = Array.from({ length: n }, (_, i) => plainImageFeatures(plain, Float64Array.from(pixels.subarray(i * size, (i + 1) * size))));
    const logits = image.map((im) => text.map((t) => plainLogit(plain, t, im)));
    expect(report('reference text features', deviation(text.flat(), golden.text_features)).rel).toBeLessThanOrEqual(REFERENCE_TOL);
    expect(report('reference image features', deviation(image.flat(), golden.image_features)).rel).toBeLessThanOrEqual(REFERENCE_TOL);
    expect(report('reference logits', deviation(logits.flat(), golden.logits)).rel).toBeLessThanOrEqual(REFERENCE_TOL);
  });

  it("a PNG through the product's preprocessing gives the pixels of CLIP's published transform (PIL bicubic, crop, normalise)", async () => {
    const got = await preprocessImage(join(REPO_ROOT, golden.images.png.file), model.preprocess);
    const want = golden.images.pixels_float32[golden.images.names.indexOf('png')];
    // The product reproduces PIL's fixed-point resampling with uint8 intermediates, so the resized
    // bytes are the same; the normalisation is float32 in both, but the product multiplies by 1/255
    // where ToTensor divides by 255, which can move a value by one float32 ulp (measured: 5.8e-8).
    // Allowed: about two ulps at the largest magnitude (|x| ≤ 2.2), 30 000× below one 8-bit level
    // (1/255/std ≈ 0.015), so a resize that differs by a single level in one pixel fails.
    const d = report('PNG preprocessed pixels', deviation(got, [want]));
    expect(d.abs).toBeLessThanOrEqual(5e-7);
  });

  describe('the golden can fail', () => {
    it('one weight changed by 2 % (an attention key of the first vision layer) fails the ORT image check', async () => {
      const bad = copyGoldenModel(golden, tmp());
      perturbWeight(bad, 'vision_model.encoder.layers.0.self_attn.k_proj.weight', 5, 0.02);
      const enc = new OrtClipEncoders(loadClipModel(bad), { provider: 'cpu', log: quiet });
      const { text, image } = await ortFeatures(enc);
      await enc.release();
      expect(deviation(text, golden.text_features).rel).toBeLessThanOrEqual(PRODUCT_TOL); // the text tower is untouched
      expect(report('ORT image features, perturbed weight', deviation(image, golden.image_features)).rel).toBeGreaterThan(10 * PRODUCT_TOL);
    });

    it('two texts swapped, or erf GELU in place of quick_gelu in the reference, fail the text check', () => {
      const swapped = [golden.token_ids[1], golden.token_ids[0], ...golden.token_ids.slice(2)];
      const textSwapped = swapped.map((ids) => plainTextFeatures(plain, ids));
      expect(deviation(textSwapped.flat(), golden.text_features).rel).toBeGreaterThan(0.1);
      const gelu: PlainModel = { ...plain, config: { ...plain.config, text: { ...plain.config.text, act: 'gelu' } } };
      const textGelu = golden.token_ids.map((ids) => plainTextFeatures(gelu, ids));
      expect(report('reference text features, erf GELU', deviation(textGelu.flat(), golden.text_features)).rel).toBeGreaterThan(1e-3);
    });
  });
});
