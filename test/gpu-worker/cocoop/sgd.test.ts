import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { Sgd } from '../../../gpu-worker/cocoop/sgd.ts';
import { maxAbsDiff } from '../../helpers/numeric.ts';
import { useTfWasm } from '../../helpers/tf-wasm.ts';

useTfWasm();

const OPTS = { momentum: 0.9, weightDecay: 5e-4 };

describe('Sgd (torch.optim.SGD, dampening 0, nesterov false)', () => {
  it('three steps match a hand computation', () => {
    const p0 = [1, -2, 0.5];
    const q0 = [[0.25, 4], [-1, 0]];
    const gradsP = [[0.1, 0.2, -0.3], [-0.5, 0, 1], [2, -1, 0.25]];
    const gradsQ = [[[1, 1], [0, -2]], [[0.5, -0.5], [3, 0]], [[0, 0], [-1, 1]]];
    const lrs = [0.1, 0.05, 0.2];

    // By hand (Float64): d = g + wd·p; buf = d (step 1) or 0.9·buf + d; p -= lr·buf.
    // p[0]: step 1: d = 0.1 + 0.0005·1 = 0.1005, buf = 0.1005, p = 1 − 0.01005 = 0.98995
    //       step 2: d = −0.5 + 0.0005·0.98995 = −0.499505025, buf = 0.09045 − 0.499505025 = −0.409055025,
    //               p = 0.98995 + 0.02045275125 = 1.01040275125
    //       step 3: d = 2 + 0.0005·1.01040275125 = 2.000505201375625,
    //               buf = −0.3681495225 + 2.000505201375625 = 1.632355678875625,
    //               p = 1.01040275125 − 0.326471135775125 = 0.683931615474875
    const handP0 = 0.683931615474875;
    const hand = (p: number[], gs: number[][]): number[] => {
      const x = [...p];
      let buf: number[] | null = null;
      gs.forEach((g, s) => {
        const d = g.map((gi, i) => gi + 5e-4 * x[i]);
        buf = buf ? buf.map((b, i) => 0.9 * b + d[i]) : d;
        for (let i = 0; i < x.length; i++) x[i] -= lrs[s] * buf[i];
      });
      return x;
    };
    const expP = hand(p0, gradsP);
    const expQ = hand(q0.flat(), gradsQ.map((g) => g.flat()));
    expect(expP[0]).toBeCloseTo(handP0, 14);

    const p = tf.variable(tf.tensor1d(p0));
    const q = tf.variable(tf.tensor2d(q0));
    const sgd = new Sgd([p, q], OPTS);
    expect(sgd.state()).toEqual([]);
    for (let s = 0; s < 3; s++) {
      const g = [tf.tensor1d(gradsP[s]), tf.tensor2d(gradsQ[s])];
      sgd.step(g, lrs[s]);
      tf.dispose(g); // the optimizer must not hold on to the caller's gradients
    }
    expect(maxAbsDiff(p.dataSync(), expP)).toBeLessThan(1e-6);
    expect(maxAbsDiff(q.dataSync(), expQ)).toBeLessThan(1e-6);
    // buf after step 3 for p[0] (see above).
    expect(sgd.state()[0][0]).toBeCloseTo(1.632355678875625, 5);
    sgd.dispose();
    tf.dispose([p, q]);
  });

  it('first step uses buf = d_p (no momentum decay of a zero buffer) and state round-trips', () => {
    const v = tf.variable(tf.tensor1d([2, 3]));
    const sgd = new Sgd([v], { momentum: 0.9, weightDecay: 0 });
    const g = tf.tensor1d([1, -1]);
    sgd.step([g], 0.5);
    expect(Array.from(v.dataSync())).toEqual([1.5, 3.5]);
    const saved = sgd.state();
    expect(Array.from(saved[0])).toEqual([1, -1]);

    // A second optimizer restored from the state continues identically.
    const w = tf.variable(tf.tensor1d([1.5, 3.5]));
    const restored = new Sgd([w], { momentum: 0.9, weightDecay: 0 });
    restored.setState(saved);
    sgd.step([g], 0.5);
    restored.step([g], 0.5);
    expect(Array.from(w.dataSync())).toEqual(Array.from(v.dataSync()));
    expect(Array.from(v.dataSync())).toEqual([1.5 - 0.5 * 1.9, 3.5 + 0.5 * 1.9].map((x) => Math.fround(x)));

    // Reset: the next step is a first step again.
    restored.setState(null);
    expect(restored.state()).toEqual([]);
    expect(() => restored.setState([new Float32Array(3)])).toThrow(/values/);
    expect(() => restored.step([g, g], 0.1)).toThrow(/2 gradients/);
    tf.dispose([g, v, w]);
    sgd.dispose();
    restored.dispose();
  });

  it('momentum 0 is plain SGD with weight decay', () => {
    const v = tf.variable(tf.tensor1d([1, -1]));
    const sgd = new Sgd([v], { momentum: 0, weightDecay: 0.1 });
    const g = tf.tensor1d([0.5, 0.5]);
    sgd.step([g], 1);
    expect(maxAbsDiff(v.dataSync(), [1 - 0.6, -1 - 0.4])).toBeLessThan(1e-7);
    expect(sgd.state()).toEqual([]);
    tf.dispose([g, v]);
    sgd.dispose();
  });

  it('does not leak tensors, also inside a caller tf.tidy', () => {
    const v = tf.variable(tf.tensor2d([[1, 2], [3, 4]]));
    const sgd = new Sgd([v], OPTS);
    const g = tf.ones([2, 2]);
    sgd.step([g], 0.1); // creates the buffer
    const before = tf.memory().numTensors;
    tf.tidy(() => sgd.step([g], 0.1));
    sgd.step([g], 0.1);
    expect(tf.memory().numTensors).toBe(before);
    expect(sgd.state()).toHaveLength(1); // the buffer survived the caller's tidy
    sgd.dispose();
    expect(tf.memory().numTensors).toBe(before - 1);
    tf.dispose([g, v]);
  });
});
