// The diagnostic "π(x) replaced by a constant" must be exactly CoCoOp with that constant: checked through
// the product's inference path with the bundled toy CLIP. The norms and the mean are recomputed here by
// a plain loop over the meta-net's definition (Linear → ReLU → Linear on the L2-normalised feature).
import { afterAll, describe, expect, it } from 'vitest';
import { loadClipModel } from '../../../gpu-worker/clip/model.ts';
import { OrtClipEncoders } from '../../../gpu-worker/clip/ort-encoders.ts';
import { SeededRandom } from '../../../gpu-worker/clip/random.ts';
import { initMetaNet, type AdapterParams, type MetaNet } from '../../../gpu-worker/cocoop/adapter.ts';
import { CocoopInference } from '../../../gpu-worker/cocoop/ort-inference.ts';
import { ctxFromPhrase } from '../../../gpu-worker/cocoop/prompts.ts';
import { constantPiAdapter, meanMetaNetOutput, piToContextRatio } from '../../../lab/toyworld/meta-net-diagnostics.ts';
import { REPO_ROOT } from '../../helpers/cli.ts';

const model = loadClipModel(`${REPO_ROOT}/models/toy-clip`);
const encoders = new OrtClipEncoders(model, { log: () => {} });
const inference = new CocoopInference(encoders, { log: () => {} });
afterAll(() => encoders.release());

const P = model.config.projectionDim;
const D = model.config.text.hiddenSize;
const LABELS = ['red circle', 'blue square', 'white star', 'green ring', 'black cross'];

function cocoop(net: MetaNet): AdapterParams {
  return { method: 'cocoop', ctx: ctxFromPhrase(model.tokenizer, model.weights.text.tokenEmbedding, 'a photo of a'), metaNet: net, ctxInit: 'a photo of a' };
}

/** π(x) by the definition, in float64. */
function plainPi(net: MetaNet, x: Float32Array): number[] {
  const norm = Math.sqrt(x.reduce((a, v) => a + v * v, 0));
  const xn = Array.from(x, (v) => v / norm);
  const [h, vis] = net.linear1.weight.shape;
  const hidden = Array.from({ length: h }, (_, o) => Math.max(0, net.linear1.bias.data[o] + xn.reduce((a, v, i) => a + net.linear1.weight.data[o * vis + i] * v, 0)));
  return Array.from({ length: D }, (_, o) => net.linear2.bias.data[o] + hidden.reduce((a, v, i) => a + net.linear2.weight.data[o * h + i] * v, 0));
}

function randomFeatures(seed: number, n: number): Float32Array {
  return new SeededRandom(seed).fillNormal(new Float32Array(n * P), 1);
}

describe('meta-net diagnostics', () => {
  it('CoCoOp with a meta-net whose output is a constant m classifies exactly as the CoOp adapter ctx + m', async () => {
    // linear1 = 0 with bias 1 → hidden = ReLU(1) = 1 for every image, so π(x) = linear2.weight · 1 + linear2.bias.
    const net = initMetaNet(new SeededRandom(4), P, D);
    net.linear1.weight.data.fill(0);
    net.linear1.bias.data.fill(1);
    const adapter = cocoop(net);
    const x = randomFeatures(5, 6);
    const m = meanMetaNetOutput(adapter, x, 6);
    const expected = plainPi(net, x.subarray(0, P));
    m.forEach((v, j) => expect(v).toBeCloseTo(expected[j], 5));
    const a = await inference.logits(x, 6, LABELS, adapter);
    const b = await inference.logits(x, 6, LABELS, constantPiAdapter(adapter, m));
    a.forEach((v, i) => expect(b[i]).toBeCloseTo(v, 3));
  });

  it('for a trained-like meta-net, image i under CoCoOp = image i under the CoOp adapter ctx + π(x_i)', async () => {
    const adapter = cocoop(initMetaNet(new SeededRandom(9), P, D));
    const x = randomFeatures(10, 3);
    const all = await inference.logits(x, 3, LABELS, adapter);
    for (let i = 0; i < 3; i++) {
      const xi = x.slice(i * P, (i + 1) * P);
      const pi = Float32Array.from(plainPi(adapter.metaNet!, xi));
      const one = await inference.logits(xi, 1, LABELS, constantPiAdapter(adapter, pi));
      one.forEach((v, j) => expect(v).toBeCloseTo(all[i * LABELS.length + j], 3));
    }
    // A non-constant π: the mean replaces it by something else, and the logits then differ.
    const meanAdapter = constantPiAdapter(adapter, meanMetaNetOutput(adapter, x, 3));
    const withMean = await inference.logits(x, 3, LABELS, meanAdapter);
    expect(Math.max(...Array.from(withMean, (v, k) => Math.abs(v - all[k])))).toBeGreaterThan(1e-3);
  });

  it('‖π(x)‖ / ‖ctx row‖ and the mean of π, against the definition', () => {
    const adapter = cocoop(initMetaNet(new SeededRandom(12), P, D));
    const n = 7;
    const x = randomFeatures(13, n);
    const pis = Array.from({ length: n }, (_, i) => plainPi(adapter.metaNet!, x.subarray(i * P, (i + 1) * P)));
    const meanPiNorm = pis.reduce((a, v) => a + Math.hypot(...v), 0) / n;
    const M = adapter.ctx.shape[0];
    let rowNorms = 0;
    for (let r = 0; r < M; r++) rowNorms += Math.hypot(...adapter.ctx.data.subarray(r * D, (r + 1) * D));
    expect(piToContextRatio(adapter, x, n)).toBeCloseTo(meanPiNorm / (rowNorms / M), 4);
    const m = meanMetaNetOutput(adapter, x, n);
    for (let j = 0; j < D; j++) expect(m[j]).toBeCloseTo(pis.reduce((a, v) => a + v[j], 0) / n, 5);
    const c = constantPiAdapter(adapter, m);
    expect(c.method).toBe('coop');
    expect(c.metaNet).toBeUndefined();
    expect(c.ctx.data[D + 3]).toBeCloseTo(adapter.ctx.data[D + 3] + m[3], 6); // row 1, column 3
  });

  it('refuses adapters without a meta-net and constants of the wrong width', () => {
    const coop: AdapterParams = { method: 'coop', ctx: { shape: [1, D], data: new Float32Array(D) }, ctxInit: '' };
    expect(() => piToContextRatio(coop, randomFeatures(1, 1), 1)).toThrow(/CoCoOp/);
    expect(() => constantPiAdapter(cocoop(initMetaNet(new SeededRandom(1), P, D)), new Float32Array(D - 1))).toThrow(/context rows/);
  });
});
