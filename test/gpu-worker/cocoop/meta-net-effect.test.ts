// Instance conditioning shown by the meta-net's effect, on the product's inference path (CocoopInference,
// as gpu-worker/serve uses it, shared prefix and batched): with a meta-net whose output π(x) is known, the
// product's CoCoOp logits equal an independent Float64 computation (test/reference/cocoop-plain.ts).
//   (a) W2 = 0, b2 = 0 ⇒ π(x) = 0 for every image: CoCoOp logits = the reference's static-context (CoOp-style)
//       logits for the same ctx, although the first layer is active.
//   (b) a non-zero meta-net: logits(π) − logits(π forced to 0) equals the reference's difference, image by
//       image; that difference is large and differs between images, as the reference predicts.
//   (c) W2 = 0, b2 ≠ 0 ⇒ π(x) = b2 for every image: the same shift for all images, = CoOp with ctx + b2.
// ("Different images give different logits" would prove nothing: any classifier does that.)
// Tolerance, absolute on logits (scale exp(logit_scale) ≈ 14.3): the product runs in float32 and lay 2e-7–6.4e-6
// from the reference in every check here (measured once); 1e-4 allows 15× the worst, while the effect of π in (b)
// reaches ~11 and differs between images by ~14 (asserted > 1), and b2's shift in (c) is asserted > 0.1.
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initLinear, type AdapterParams, type MetaNet } from '../../../gpu-worker/cocoop/adapter.ts';
import { CocoopInference } from '../../../gpu-worker/cocoop/ort-inference.ts';
import { ctxFromPhrase } from '../../../gpu-worker/cocoop/prompts.ts';
import { makeModel } from '../../../gpu-worker/clip/make-model.ts';
import { loadClipModel, type ClipModel } from '../../../gpu-worker/clip/model.ts';
import { OrtClipEncoders } from '../../../gpu-worker/clip/ort-encoders.ts';
import { loadPlainModel, type PlainModel } from '../../reference/clip-plain.ts';
import { plainCocoopLogits, type PlainLearner } from '../../reference/cocoop-plain.ts';
import { SeededRandom } from '../../helpers/random.ts';
import { useTmpDir } from '../../helpers/tmp.ts';

const REAL_VOCAB = resolve(process.cwd(), 'models/clip-vocab');
const CTX_INIT = 'a photo of a';
const LABELS = ['cat', 'golden_retriever', 'sea lion', 'x'];
const N = 4;
const TOL = 1e-4;
const quiet = () => {};

const zeros = (n: number) => new Float32Array(n);
const maxAbs = (rows: number[][]) => Math.max(...rows.flat().map(Math.abs));
const rowsOf = (flat: Float32Array, c: number) => Array.from({ length: flat.length / c }, (_, i) => Array.from(flat.subarray(i * c, (i + 1) * c)));
const minus = (a: number[][], b: number[][]) => a.map((row, i) => row.map((v, k) => v - b[i][k]));

describe('CoCoOp instance conditioning: the meta-net π(x) moves the logits by what the reference predicts', () => {
  const dir = useTmpDir('cocoop-pi-');
  let model: ClipModel;
  let plain: PlainModel;
  let encoders: OrtClipEncoders;
  const engines: [string, CocoopInference][] = [];
  let features: Float32Array; // [N, P] image features (the same input for product and reference)
  let imageRows: Float64Array[];
  let promptIds: number[][];
  let ctx: AdapterParams['ctx'];
  let metaNet: MetaNet; // non-zero; hidden units large enough that π(x) clearly depends on x
  let d: number;

  beforeAll(async () => {
    makeModel({ preset: 'tiny', seed: 31, out: dir, vocabDir: REAL_VOCAB });
    model = loadClipModel(dir);
    plain = loadPlainModel(dir);
    encoders = new OrtClipEncoders(model, { provider: 'cpu', log: quiet });
    engines.push(['shared prefix', new CocoopInference(encoders, { provider: 'cpu', log: quiet })]);
    engines.push(['batched', new CocoopInference(encoders, { provider: 'cpu', log: quiet, sharePrefix: false })]);
    d = model.config.text.hiddenSize;
    const p = model.config.projectionDim;
    const v = model.config.vision;
    const rng = new SeededRandom(5);
    features = await encoders.encodePixels(rng.fillNormal(new Float32Array(N * v.numChannels * v.imageSize ** 2), 1), N);
    imageRows = Array.from({ length: N }, (_, i) => Float64Array.from(features.subarray(i * p, (i + 1) * p)));
    ctx = ctxFromPhrase(model.tokenizer, model.weights.text.tokenEmbedding, CTX_INIT);
    ctx.data = ctx.data.map((x) => x + 0.05 * rng.normal());
    // Official prompt ids: "<ctx words> <class name>." (the reference replaces the M context-word tokens).
    promptIds = LABELS.map((l) => model.tokenizer.encode(`${CTX_INIT} ${l.split('_').join(' ')}.`));
    const scaled = (l: ReturnType<typeof initLinear>, s: number) => ({
      weight: { shape: l.weight.shape, data: l.weight.data.map((x) => x * s) },
      bias: { shape: l.bias.shape, data: l.bias.data.map((x) => x * s) },
    });
    metaNet = { linear1: scaled(initLinear(rng, 4, p), 3), linear2: scaled(initLinear(rng, d, 4), 2) };
  });

  afterAll(async () => {
    for (const [, e] of engines) await e.release();
    await encoders?.release();
  });

  const cocoop = (net: MetaNet): AdapterParams => ({ method: 'cocoop', ctx, metaNet: net, ctxInit: CTX_INIT });
  /** The same meta-net with its last layer replaced: π(x) = b2 for every x. */
  const lastLayer = (b2: Float32Array): MetaNet => ({
    linear1: metaNet.linear1,
    linear2: { weight: { shape: metaNet.linear2.weight.shape, data: zeros(metaNet.linear2.weight.data.length) }, bias: { shape: [d], data: b2 } },
  });
  const f64 = (x: Float32Array) => Float64Array.from(x);
  const plainLogits = (learner: Omit<PlainLearner, 'nCtx'>) => plainCocoopLogits(plain, promptIds, { nCtx: ctx.shape[0], ...learner }, imageRows);
  const productLogits = async (engine: CocoopInference, adapter: AdapterParams) => rowsOf(await engine.logits(features, N, LABELS, adapter), LABELS.length);
  const plainNet = (net: MetaNet) => ({ w1: f64(net.linear1.weight.data), b1: f64(net.linear1.bias.data), w2: f64(net.linear2.weight.data), b2: f64(net.linear2.bias.data) });

  it('(a) W2 = 0, b2 = 0 (π(x) = 0): CoCoOp logits equal the reference static-context logits of the same ctx', async () => {
    const staticRef = plainLogits({ ctx: f64(ctx.data) }); // no meta-net: CoOp-style
    for (const [name, engine] of engines) {
      const got = await productLogits(engine, cocoop(lastLayer(zeros(d))));
      expect(maxAbs(minus(got, staticRef)), name).toBeLessThan(TOL);
    }
  });

  it('(b) a non-zero meta-net: logits(π) − logits(π = 0) equals the reference difference, per image', async () => {
    const refDelta = minus(plainLogits({ ctx: f64(ctx.data), metaNet: plainNet(metaNet) }), plainLogits({ ctx: f64(ctx.data) }));
    // The effect is large against the tolerance, and it is not one shift for all images.
    expect(maxAbs(refDelta)).toBeGreaterThan(1);
    expect(maxAbs(refDelta.slice(1).map((row) => row.map((v, k) => v - refDelta[0][k])))).toBeGreaterThan(1);
    for (const [name, engine] of engines) {
      const delta = minus(await productLogits(engine, cocoop(metaNet)), await productLogits(engine, cocoop(lastLayer(zeros(d)))));
      expect(maxAbs(minus(delta, refDelta)), name).toBeLessThan(TOL);
    }
  });

  it('(c) W2 = 0, b2 ≠ 0 (π(x) = b2 for every image): logits equal CoOp with ctx + b2, in the product and the reference', async () => {
    const rng = new SeededRandom(9);
    const b2 = Float32Array.from({ length: d }, () => 0.3 * rng.normal());
    const shifted = ctx.data.map((x, i) => x + b2[i % d]);
    const ref = plainLogits({ ctx: f64(shifted) });
    expect(maxAbs(minus(ref, plainLogits({ ctx: f64(ctx.data) })))).toBeGreaterThan(0.1); // b2 matters
    for (const [name, engine] of engines) {
      const got = await productLogits(engine, cocoop(lastLayer(b2)));
      expect(maxAbs(minus(got, ref)), name).toBeLessThan(TOL);
      const coop = await productLogits(engine, { method: 'coop', ctx: { shape: ctx.shape, data: shifted }, ctxInit: CTX_INIT });
      expect(maxAbs(minus(got, coop)), name).toBeLessThan(TOL);
    }
  });
});
