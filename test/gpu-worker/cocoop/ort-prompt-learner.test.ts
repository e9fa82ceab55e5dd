// The ONNX Runtime learner (one training-step graph for the text tower, the meta-net on the host) against the
// Float64 official-style reference (test/reference/cocoop-plain.ts: 77-token prompts, straight loops): loss,
// logits, and gradients by central differences; and against the TF.js learner, step for step.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdapterMethod } from '../../../gpu-worker/cocoop/adapter.ts';
import { HostSgd } from '../../../gpu-worker/cocoop/host-sgd.ts';
import { OrtPromptLearner } from '../../../gpu-worker/cocoop/ort-prompt-learner.ts';
import { OrtTextTraining } from '../../../gpu-worker/cocoop/ort-text-training.ts';
import { Sgd } from '../../../gpu-worker/cocoop/sgd.ts';
import { TfPromptLearner } from '../../../gpu-worker/cocoop/tf-prompt-learner.ts';
import type { TextConfig } from '../../../gpu-worker/clip/config.ts';
import type { ClipModel } from '../../../gpu-worker/clip/model.ts';
import { TfTextTower } from '../../../gpu-worker/clip/tf/text-tower.ts';
import { plainCocoopLogits, plainCocoopLoss } from '../../reference/cocoop-plain.ts';
import { type LearnerFixture, learnerFixture, P, plainLearner, tokenizer } from '../../helpers/learner-fixture.ts';
import { relErr } from '../../helpers/numeric.ts';
import { randomTensor, SeededRandom } from '../../helpers/random.ts';
import { useTfWasm } from '../../helpers/tf-wasm.ts';
import { useTmpDir } from '../../helpers/tmp.ts';

useTfWasm();
const dir = useTmpDir('ort-learner-test-');

interface Setup extends LearnerFixture {
  runner: OrtTextTraining;
  textConfig: TextConfig;
}

const open: Setup[] = [];
afterAll(async () => {
  for (const s of open) await s.runner.release();
});

async function setup(seed: number, method: AdapterMethod): Promise<Setup> {
  const f = learnerFixture(seed, method);
  // The runner builds its graphs from the weights, cached under the model's directory by the hash given here.
  const model = { dir, config: f.config, weights: f.weights, tokenizer, weightsSha256: () => `tiny-${method}-${seed}` } as unknown as ClipModel;
  const s = { ...f, runner: new OrtTextTraining(model, { provider: 'cpu', threads: 1, log: () => {} }), textConfig: f.config.text };
  open.push(s);
  return s;
}

const rows = (flat: Float32Array, n: number) => Array.from({ length: n }, (_, i) => Float64Array.from(flat.subarray(i * P, (i + 1) * P)));

describe.each(['cocoop', 'coop'] as const)('OrtPromptLearner (%s)', (method) => {
  let s: Setup;
  beforeAll(async () => {
    s = await setup(method === 'cocoop' ? 1 : 4, method);
  });

  it('loss and logits equal the Float64 official-style reference (77-token prompts)', async () => {
    const b = 3;
    const x = randomTensor(new SeededRandom(22), [b, P], 1);
    const labels = [1, 3, 0];
    const learner = new OrtPromptLearner(s.runner, s.prompts, s.params, s.weights.logitScale, P);
    const { loss, logits, grads } = await learner.step(x.data, labels);
    const ref = plainCocoopLogits(s.plain, s.promptIds, plainLearner(s.params), rows(x.data, b));
    expect(relErr(logits, ref.flat())).toBeLessThan(1e-4);
    const refLoss = plainCocoopLoss(s.plain, s.promptIds, plainLearner(s.params), rows(x.data, b), labels);
    expect(Math.abs(loss - refLoss)).toBeLessThan(1e-4 * Math.max(1, refLoss));
    expect(grads.map((g) => g.length)).toEqual(learner.trainable.map((t) => t.data.length));
  });

  it('gradients equal Float64 central differences of the reference loss', async () => {
    const b = 2;
    const x = randomTensor(new SeededRandom(11), [b, P], 1);
    const labels = [1, 2];
    const learner = new OrtPromptLearner(s.runner, s.prompts, s.params, s.weights.logitScale, P);
    const { grads } = await learner.step(x.data, labels);
    const base = plainLearner(s.params);
    const keys = method === 'cocoop' ? (['ctx', 'w1', 'b1', 'w2', 'b2'] as const) : (['ctx'] as const);
    const eps = 1e-3;
    keys.forEach((key, t) => {
      const g = grads[t];
      const target = (key === 'ctx' ? base.ctx : base.metaNet![key]) as Float64Array;
      let scale = 0;
      let argmax = 0;
      g.forEach((v, i) => {
        if (Math.abs(v) > scale) [scale, argmax] = [Math.abs(v), i];
      });
      expect(scale, `${key}: all zero`).toBeGreaterThan(0);
      const live = Array.from(g.keys()).filter((i) => Math.abs(g[i]) > 0.05 * scale);
      const coords = [...new Set([argmax, ...[0, 1, 2, 3].map((k) => live[Math.floor((k * live.length) / 4)])])];
      for (const i of coords) {
        const at = (delta: number) => {
          const saved = target[i];
          target[i] = saved + delta;
          const v = plainCocoopLoss(s.plain, s.promptIds, base, rows(x.data, b), labels);
          target[i] = saved;
          return v;
        };
        const fd = (at(eps) - at(-eps)) / (2 * eps);
        expect(Math.abs(g[i] - fd), `${key}[${i}]: ort ${g[i]} vs fd ${fd}`).toBeLessThanOrEqual(2e-3 * scale + 1e-6);
      }
    });
  });

  it('ten SGD steps (momentum, weight decay) track the TF.js learner within 1e-4 relative', async () => {
    const b = 2;
    const rng = new SeededRandom(9);
    const ort = new OrtPromptLearner(s.runner, s.prompts, s.params, s.weights.logitScale, P);
    const osgd = new HostSgd(ort.trainable.map((t) => t.data), { momentum: 0.9, weightDecay: 5e-4 });
    const tower = new TfTextTower(s.weights.text, s.textConfig);
    const tfl = new TfPromptLearner(tower, s.prompts, s.params, s.weights.logitScale);
    const tsgd = new Sgd(tfl.trainable, { momentum: 0.9, weightDecay: 5e-4 });
    try {
      for (let step = 0; step < 10; step++) {
        const x = randomTensor(rng, [b, P], 1);
        const labels = [step % 4, (step + 1) % 4];
        const mine = await ort.step(x.data, labels);
        osgd.step(mine.grads, 0.05);
        const xT = tf.tensor2d(x.data, [b, P]);
        const theirs = tfl.lossAndGrads(xT, labels);
        tsgd.step(theirs.grads, 0.05);
        tf.dispose([xT, ...theirs.grads]);
        expect(Math.abs(mine.loss - theirs.loss)).toBeLessThan(1e-4 * Math.max(1, theirs.loss));
      }
      const a = ort.toParams();
      const t = tfl.toParams();
      expect(relErr(a.ctx.data, t.ctx.data)).toBeLessThan(1e-4);
      if (method === 'cocoop') {
        expect(relErr(a.metaNet!.linear1.weight.data, t.metaNet!.linear1.weight.data)).toBeLessThan(1e-4);
        expect(relErr(a.metaNet!.linear2.bias.data, t.metaNet!.linear2.bias.data)).toBeLessThan(1e-4);
      }
      // The parameters moved (the comparison is not between two untouched copies).
      expect(relErr(a.ctx.data, s.params.ctx.data)).toBeGreaterThan(1e-3);
    } finally {
      tsgd.dispose();
      tfl.dispose();
      tower.dispose();
    }
  });
});
