import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { cloneAdapter, type AdapterMethod } from '../../../gpu-worker/cocoop/adapter.ts';
import { Sgd } from '../../../gpu-worker/cocoop/sgd.ts';
import { TfPromptLearner } from '../../../gpu-worker/cocoop/tf-prompt-learner.ts';
import { TfTextTower } from '../../../gpu-worker/clip/tf/text-tower.ts';
import { plainCocoopLogits, plainCocoopLoss } from '../../reference/cocoop-plain.ts';
import { type LearnerFixture, learnerFixture, NAMES, P, plainLearner } from '../../helpers/learner-fixture.ts';
import { relErr } from '../../helpers/numeric.ts';
import { randomTensor, SeededRandom } from '../../helpers/random.ts';
import { useTfWasm } from '../../helpers/tf-wasm.ts';

useTfWasm();

interface Setup extends LearnerFixture {
  tower: TfTextTower;
}

function setup(seed: number, method: AdapterMethod): Setup {
  const f = learnerFixture(seed, method);
  return { ...f, tower: new TfTextTower(f.weights.text, f.config.text) };
}

function rows(flat: Float32Array, n: number, p: number): Float64Array[] {
  return Array.from({ length: n }, (_, i) => Float64Array.from(flat.subarray(i * p, (i + 1) * p)));
}

describe('TfPromptLearner', () => {
  it('the setup exercises multi-token names and a 4-token context', () => {
    const { prompts, promptIds, tower } = setup(1, 'cocoop');
    expect(prompts.nCtx).toBe(4);
    expect(prompts.suffixIds.map((s) => s.length)).toEqual([3, 4, 10, 3]); // "zebra fish." is 9 BPE tokens
    expect(prompts.length).toBe(15);
    // Official prompts agree with the product's layout: [SOT] [4 ctx words] [suffix].
    promptIds.forEach((ids, c) => expect(ids.slice(1 + 4)).toEqual(prompts.suffixIds[c]));
    tower.dispose();
  });

  for (const method of ['cocoop', 'coop'] as const) {
    it(`${method}: logits match the Float64 official-style reference (77-token prompts)`, () => {
      const s = setup(2, method);
      const b = method === 'cocoop' ? 2 : 3;
      const x = randomTensor(new SeededRandom(22), [b, P], 1);
      const learner = new TfPromptLearner(s.tower, s.prompts, s.params, s.weights.logitScale);
      expect(learner.trainable).toHaveLength(method === 'cocoop' ? 5 : 1);
      const xT = tf.tensor2d(x.data, [b, P]);
      const logits = learner.logits(xT);
      expect(logits.shape).toEqual([b, NAMES.length]);
      const ref = plainCocoopLogits(s.plain, s.promptIds, plainLearner(s.params), rows(x.data, b, P));
      expect(relErr(logits.dataSync(), ref.flat())).toBeLessThan(1e-4);
      // The loss is the mean cross-entropy of those logits.
      const labels = Array.from({ length: b }, (_, i) => (i * 3 + 1) % NAMES.length);
      const loss = learner.loss(xT, labels);
      const refLoss = plainCocoopLoss(s.plain, s.promptIds, plainLearner(s.params), rows(x.data, b, P), labels);
      expect(Math.abs(loss.dataSync()[0] - refLoss)).toBeLessThan(1e-4 * Math.max(1, refLoss));
      if (method === 'cocoop') {
        // The meta-net makes the logits image-dependent beyond cos(x, ·): a non-zero π changes them.
        const { metaNet, ...rest } = s.params;
        const zeroPi = cloneAdapter({ ...rest, metaNet });
        zeroPi.metaNet!.linear2.weight.data.fill(0);
        zeroPi.metaNet!.linear2.bias.data.fill(0);
        const coopRef = plainCocoopLogits(s.plain, s.promptIds, { ...plainLearner(s.params), metaNet: undefined }, rows(x.data, b, P));
        learner.setParams(zeroPi);
        expect(relErr(learner.logits(xT).dataSync(), coopRef.flat())).toBeLessThan(1e-4);
        expect(relErr(ref.flat(), coopRef.flat())).toBeGreaterThan(1e-2);
      }
      tf.dispose([xT, logits, loss]);
      learner.dispose();
      s.tower.dispose();
    });
  }

  it('cocoop: gradients w.r.t. ctx and the meta-net match Float64 central differences', () => {
    // Seeds where every hidden unit of the meta-net is active for at least one of the two images,
    // and some unit is inactive for one of them.
    const s = setup(1, 'cocoop');
    const b = 2;
    const labels = [1, 2];
    const x = randomTensor(new SeededRandom(11), [b, P], 1);
    const xRows = rows(x.data, b, P);
    const learner = new TfPromptLearner(s.tower, s.prompts, s.params, s.weights.logitScale);
    const xT = tf.tensor2d(x.data, [b, P]);
    const { loss, grads } = learner.lossAndGrads(xT, labels);
    const base = plainLearner(s.params);
    expect(Math.abs(loss - plainCocoopLoss(s.plain, s.promptIds, base, xRows, labels))).toBeLessThan(1e-4);

    // The ReLU has active and inactive units on these images (both branches are exercised).
    const w1 = s.params.metaNet!.linear1;
    const h = w1.bias.shape[0];
    const signs = new Set<boolean>();
    for (const xr of xRows) {
      const norm = Math.hypot(...xr);
      for (let o = 0; o < h; o++) {
        let a = w1.bias.data[o];
        for (let i = 0; i < P; i++) a += w1.weight.data[o * P + i] * (xr[i] / norm);
        signs.add(a > 0);
      }
    }
    expect(signs).toEqual(new Set([true, false]));

    type Key = 'ctx' | 'w1' | 'b1' | 'w2' | 'b2';
    const keys: Key[] = ['ctx', 'w1', 'b1', 'w2', 'b2'];
    const eps = 1e-3;
    keys.forEach((key, t) => {
      const g = grads[t].dataSync();
      const target = (key === 'ctx' ? base.ctx : base.metaNet![key]) as Float64Array;
      expect(g.length).toBe(target.length);
      let scale = 0;
      let argmax = 0;
      for (let i = 0; i < g.length; i++) {
        if (Math.abs(g[i]) > scale) {
          scale = Math.abs(g[i]);
          argmax = i;
        }
      }
      expect(scale, `${key}: gradient is all zero`).toBeGreaterThan(0);
      // 4 coordinates spread over the clearly non-zero entries, the largest one, and one exact zero
      // if there is one (the difference quotient must then be 0 too).
      const live = Array.from(g.keys()).filter((i) => Math.abs(g[i]) > 0.05 * scale);
      const dead = Array.from(g.keys()).filter((i) => g[i] === 0);
      const coords = [...new Set([...[0, 1, 2, 3].map((k) => live[Math.floor((k * live.length) / 4)]), argmax, ...dead.slice(0, 1)])];
      for (const i of coords) {
        const at = (delta: number): number => {
          const saved = target[i];
          target[i] = saved + delta;
          const v = plainCocoopLoss(s.plain, s.promptIds, base, xRows, labels);
          target[i] = saved;
          return v;
        };
        const fd = (at(eps) - at(-eps)) / (2 * eps);
        expect(Math.abs(g[i] - fd), `${key}[${i}]: tf ${g[i]} vs fd ${fd} (max |g| ${scale})`).toBeLessThanOrEqual(2e-3 * scale + 1e-6);
      }
    });
    tf.dispose([xT, ...grads]);
    learner.dispose();
    s.tower.dispose();
  });

  it('coop: gradient w.r.t. ctx matches Float64 central differences', () => {
    const s = setup(4, 'coop');
    const b = 3;
    const labels = [0, 3, 1];
    const x = randomTensor(new SeededRandom(44), [b, P], 1);
    const xRows = rows(x.data, b, P);
    const learner = new TfPromptLearner(s.tower, s.prompts, s.params, s.weights.logitScale);
    const xT = tf.tensor2d(x.data, [b, P]);
    const { grads } = learner.lossAndGrads(xT, labels);
    expect(grads).toHaveLength(1);
    const g = grads[0].dataSync();
    const base = plainLearner(s.params);
    const ctx = base.ctx as Float64Array;
    let scale = 0;
    for (const v of g) scale = Math.max(scale, Math.abs(v));
    const eps = 1e-3;
    for (const i of [0, 37, 64, 101, ctx.length - 1]) {
      const at = (delta: number): number => {
        const saved = ctx[i];
        ctx[i] = saved + delta;
        const v = plainCocoopLoss(s.plain, s.promptIds, base, xRows, labels);
        ctx[i] = saved;
        return v;
      };
      const fd = (at(eps) - at(-eps)) / (2 * eps);
      expect(Math.abs(g[i] - fd), `ctx[${i}]: tf ${g[i]} vs fd ${fd}`).toBeLessThanOrEqual(2e-3 * scale + 1e-6);
    }
    tf.dispose([xT, ...grads]);
    learner.dispose();
    s.tower.dispose();
  });

  it('a few SGD steps on a separable synthetic task lower the loss and raise the accuracy', () => {
    const s = setup(5, 'cocoop');
    const c = NAMES.length;
    const rng = new SeededRandom(55);
    // Image features: one random prototype per class plus noise, 4 images per class.
    const protos = Array.from({ length: c }, () => randomTensor(rng, [P], 1).data);
    const perClass = 4;
    const n = c * perClass;
    const feats = new Float32Array(n * P);
    const labels: number[] = [];
    for (let i = 0; i < n; i++) {
      const y = i % c;
      labels.push(y);
      for (let k = 0; k < P; k++) feats[i * P + k] = protos[y][k] + 0.3 * rng.normal();
    }
    const xT = tf.tensor2d(feats, [n, P]);
    const learner = new TfPromptLearner(s.tower, s.prompts, s.params, s.weights.logitScale);
    const evaluate = (): { loss: number; acc: number } =>
      tf.tidy(() => {
        const logits = learner.logits(xT);
        const pred = Array.from(tf.argMax(logits, 1).dataSync());
        const loss = learner.loss(xT, labels).dataSync()[0];
        return { loss, acc: pred.filter((p, i) => p === labels[i]).length / n };
      });
    const before = evaluate();
    const sgd = new Sgd(learner.trainable, { momentum: 0.9, weightDecay: 5e-4 });
    for (let step = 0; step < 45; step++) {
      const { grads } = learner.lossAndGrads(xT, labels);
      sgd.step(grads, 0.05);
      tf.dispose(grads);
    }
    const after = evaluate();
    expect(before.acc).toBeLessThanOrEqual(0.5);
    expect(after.loss).toBeLessThan(0.25 * before.loss);
    expect(after.acc).toBeGreaterThanOrEqual(0.9);
    sgd.dispose();
    xT.dispose();
    learner.dispose();
    s.tower.dispose();
  });

  it('toParams / setParams round trip, and checks what it loads', () => {
    const s = setup(6, 'cocoop');
    const learner = new TfPromptLearner(s.tower, s.prompts, s.params, s.weights.logitScale);
    const p0 = learner.toParams();
    expect(p0).toEqual(s.params); // fp32 host copy, same layout ([out, in] linears)
    expect(p0.metaNet!.linear1.weight.shape).toEqual([4, P]);
    expect(p0.metaNet!.linear2.weight.shape).toEqual([32, 4]);

    const p1 = cloneAdapter(p0);
    const rng = new SeededRandom(66);
    for (const t of [p1.ctx, p1.metaNet!.linear1.weight, p1.metaNet!.linear1.bias, p1.metaNet!.linear2.weight, p1.metaNet!.linear2.bias]) {
      rng.fillNormal(t.data, 0.1);
    }
    p1.ctxInit = '';
    learner.setParams(p1);
    expect(learner.toParams()).toEqual(p1);
    // The returned copy is detached from the variables.
    const copy = learner.toParams();
    copy.ctx.data[0] += 1;
    expect(learner.toParams().ctx.data[0]).toBe(p1.ctx.data[0]);

    expect(() => learner.setParams({ ...p1, method: 'coop', metaNet: undefined })).toThrow(/coop/);
    expect(() => learner.setParams({ ...p1, ctx: { shape: [3, 32], data: new Float32Array(96) } })).toThrow(/ctx/);
    const bad = cloneAdapter(p1);
    bad.metaNet!.linear2.bias = { shape: [31], data: new Float32Array(31) };
    expect(() => learner.setParams(bad)).toThrow(/linear2.bias/);
    expect(() => new TfPromptLearner(s.tower, s.prompts, { ...p1, metaNet: undefined }, 0)).toThrow(/meta-net/);
    learner.dispose();
    s.tower.dispose();
  });

  it('rejects bad inputs and leaks no tensors', () => {
    const s = setup(7, 'cocoop');
    const learner = new TfPromptLearner(s.tower, s.prompts, s.params, s.weights.logitScale);
    const xT = tf.tensor2d(randomTensor(new SeededRandom(77), [2, P], 1).data, [2, P]);
    const sgd = new Sgd(learner.trainable, { momentum: 0.9, weightDecay: 5e-4 });
    // Warm-up: the tower caches its causal mask for this L; Sgd creates its buffers.
    const warm = learner.lossAndGrads(xT, [0, 1]).grads;
    sgd.step(warm, 0.01);
    tf.dispose(warm);
    const before = tf.memory().numTensors;
    learner.logits(xT).dispose();
    learner.loss(xT, [2, 3]).dispose();
    const { grads } = learner.lossAndGrads(xT, [3, 0]);
    sgd.step(grads, 0.01);
    tf.dispose(grads);
    tf.tidy(() => {
      learner.logits(xT);
    });
    expect(tf.memory().numTensors).toBe(before);

    expect(() => learner.loss(xT, [0])).toThrow(/1 labels for 2 images/);
    expect(() => learner.loss(xT, [0, 4])).toThrow(/label 4/);
    const wrong = tf.zeros([2, P + 1]) as tf.Tensor2D;
    expect(() => learner.logits(wrong)).toThrow(/image features/);
    wrong.dispose();
    expect(tf.memory().numTensors).toBe(before);

    const nTrainable = learner.trainable.length;
    sgd.dispose();
    learner.dispose();
    // Variables (5) and the prompt constants (prefix, suffix, class zeros) are freed; the Sgd's 5 buffers too.
    expect(tf.memory().numTensors).toBe(before - nTrainable - 3 - nTrainable);
    expect(() => learner.logits(xT)).toThrow(/dispose/);
    xT.dispose();
    s.tower.dispose();
  });
});
