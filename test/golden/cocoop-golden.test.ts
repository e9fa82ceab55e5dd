// The product's zero-shot, CoOp and CoCoOp logits (ONNX Runtime inference: shared-prefix, batched and
// official-style naive paths; the TF.js prompt learner used for training) and the Float64 reference
// against the outside golden: the same logits computed once by PyTorch in float64 with CoCoOp's
// published prompt learner (meta-net Linear→ReLU→Linear, π(x̂) added to every context vector, prompts
// [SOT][ctx+π]…[class tokens][.][EOT] padded to 77, pooled at argmax of the ids) on the committed tiny
// checkpoint, for a fixed adapter stored in the golden (tools/golden/, docs/golden.md).
//
// Each path runs end to end from the golden's pixels: the product's own image features (its vision
// tower) feed its own logits, so image-tower and text-tower round-off add up.
// Tolerance on logits, absolute: product (float32) ≤ 1e-4, reference (float64) ≤ 1e-11. torch's own
// float32 run lies 3e-6 from its float64 run on these logits (|logit| ≤ 11, scale exp(2.6592) ≈ 14.3,
// so a cosine error of 1e-7 is 1.4e-6 of logit); 1e-4 allows 30× that and is still 1e-5 of the logits'
// spread. A meta-net weight changed by 5 % moves the logits by > 1e-3 (checked below).
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloneAdapter, type AdapterParams } from '../../gpu-worker/cocoop/adapter.ts';
import { CocoopInference, naiveOfficialLogits } from '../../gpu-worker/cocoop/ort-inference.ts';
import { classPrompts } from '../../gpu-worker/cocoop/prompts.ts';
import { TfPromptLearner } from '../../gpu-worker/cocoop/tf-prompt-learner.ts';
import { loadClipModel, type ClipModel } from '../../gpu-worker/clip/model.ts';
import { OrtClipEncoders } from '../../gpu-worker/clip/ort-encoders.ts';
import { TfTextTower } from '../../gpu-worker/clip/tf/text-tower.ts';
import { TfVisionTower } from '../../gpu-worker/clip/tf/vision-tower.ts';
import { loadPlainModel, plainImageFeatures, plainLogit, plainTextFeatures, type PlainModel } from '../reference/clip-plain.ts';
import { plainCocoopLogits } from '../reference/cocoop-plain.ts';
import { useTfWasm } from '../helpers/tf-wasm.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { copyGoldenModel, deviation, goldenAdapter, goldenPixels, goldenPlainLearner, loadGolden, report } from './golden.ts';

const PRODUCT_TOL = 1e-4;
const REFERENCE_TOL = 1e-11;
const quiet = () => {};

useTfWasm();
const golden = loadGolden();
const labels = golden.cocoop.class_names;
const n = golden.image_features.length;
const want = { cocoop: golden.cocoop.logits, coop: golden.cocoop.coop_logits, zeroshot: golden.zeroshot.logits };

describe('outside golden (PyTorch float64, CoCoOp prompt learner): zero-shot, CoOp and CoCoOp logits', () => {
  const dir = useTmpDir('golden-cocoop-');
  let model: ClipModel;
  let plain: PlainModel;
  let encoders: OrtClipEncoders;
  let features: Float32Array; // the product's image features [n, P] of the golden pixels (ORT)
  const cocoop = () => goldenAdapter(golden, 'cocoop');
  const coop = () => goldenAdapter(golden, 'coop');

  beforeAll(async () => {
    copyGoldenModel(golden, dir);
    model = loadClipModel(dir);
    plain = loadPlainModel(dir);
    encoders = new OrtClipEncoders(model, { provider: 'cpu', log: quiet });
    features = await encoders.encodePixels(goldenPixels(golden), n);
  });

  afterAll(async () => {
    await encoders?.release();
  });

  it('the golden exercises the meta-net: π(x) changes every logit row, and its ReLU has active and inactive units', () => {
    expect(deviation(want.coop.flat(), want.cocoop).abs).toBeGreaterThan(0.5);
    const hidden = golden.cocoop.meta_net_float32['linear1.weight'].length;
    const active = golden.cocoop.meta_net_active_units_per_image; // ReLU units > 0, per image (from torch)
    expect(active).toHaveLength(n);
    expect(Math.min(...active)).toBeGreaterThan(0);
    expect(Math.min(...active)).toBeLessThan(hidden);
  });

  for (const sharePrefix of [true, false]) {
    it(`ONNX Runtime inference (${sharePrefix ? 'shared prefix' : 'batched, no prefix sharing'}): CoCoOp, CoOp and zero-shot logits`, async () => {
      const inference = new CocoopInference(encoders, { provider: 'cpu', log: quiet, sharePrefix });
      const tag = sharePrefix ? 'shared' : 'batched';
      const got = {
        cocoop: await inference.logits(features, n, labels, cocoop()),
        coop: await inference.logits(features, n, labels, coop()),
        zeroshot: await inference.logits(features, n, labels, null),
      };
      for (const k of ['cocoop', 'coop', 'zeroshot'] as const) {
        expect(report(`ORT ${tag} ${k} logits`, deviation(got[k], want[k])).abs).toBeLessThanOrEqual(PRODUCT_TOL);
      }
    });
  }

  it('ONNX Runtime official-style naive path (per image, 77-token prompts): CoCoOp and zero-shot logits', async () => {
    const got = await naiveOfficialLogits(encoders, features, n, labels, cocoop());
    expect(report('ORT naive cocoop logits', deviation(got, want.cocoop)).abs).toBeLessThanOrEqual(PRODUCT_TOL);
    const zs = await naiveOfficialLogits(encoders, features, n, labels, null);
    expect(report('ORT naive zeroshot logits', deviation(zs, want.zeroshot)).abs).toBeLessThanOrEqual(PRODUCT_TOL);
  });

  it('TF.js prompt learner (the training path) on TF.js image features: CoCoOp and CoOp logits', () => {
    const [c, s] = golden.images.shape;
    const vision = new TfVisionTower(model.weights.vision, model.config.vision);
    const text = new TfTextTower(model.weights.text, model.config.text);
    const prompts = classPrompts(model.tokenizer, model.weights.text.tokenEmbedding, labels, golden.cocoop.n_ctx);
    const x = tf.tidy(() => vision.forward(tf.tensor4d(goldenPixels(golden), [n, c, s, s])));
    for (const [k, params] of [['cocoop', cocoop()], ['coop', coop()]] as const) {
      const learner = new TfPromptLearner(text, prompts, params, model.weights.logitScale);
      const got = tf.tidy(() => learner.logits(x)).dataSync();
      learner.dispose();
      expect(report(`TF.js ${k} logits`, deviation(got, want[k])).abs).toBeLessThanOrEqual(PRODUCT_TOL);
    }
    x.dispose();
    vision.dispose();
    text.dispose();
  });

  it('Float64 reference: CoCoOp, CoOp and zero-shot logits from its own image features', () => {
    const [c, s] = golden.images.shape;
    const size = c * s * s;
    const pixels = goldenPixels(golden);
    const images = Array.from({ length: n }, (_, i) => plainImageFeatures(plain, Float64Array.from(pixels.subarray(i * size, (i + 1) * size))));
    const ids = golden.cocoop.prompt_token_ids;
    const got = {
      cocoop: plainCocoopLogits(plain, ids, goldenPlainLearner(golden, 'cocoop'), images),
      coop: plainCocoopLogits(plain, ids, goldenPlainLearner(golden, 'coop'), images),
      zeroshot: images.map((im) => golden.zeroshot.token_ids.map((t) => plainLogit(plain, plainTextFeatures(plain, t), im))),
    };
    for (const k of ['cocoop', 'coop', 'zeroshot'] as const) {
      expect(report(`reference ${k} logits`, deviation(got[k].flat(), want[k])).abs).toBeLessThanOrEqual(REFERENCE_TOL);
    }
  });

  it('the golden can fail: one meta-net weight changed by 5 %, or π left out, misses the CoCoOp logits', async () => {
    const inference = new CocoopInference(encoders, { provider: 'cpu', log: quiet });
    const bad: AdapterParams = cloneAdapter(cocoop());
    bad.metaNet!.linear2.weight.data[7] *= 1.05;
    const d = report('ORT cocoop logits, perturbed meta-net', deviation(await inference.logits(features, n, labels, bad), want.cocoop));
    expect(d.abs).toBeGreaterThan(10 * PRODUCT_TOL);
    const noPi = deviation(await inference.logits(features, n, labels, coop()), want.cocoop);
    expect(noPi.abs).toBeGreaterThan(0.5);
  });
});
