import { describe, expect, it } from 'vitest';
import { learningRate } from '../../../gpu-worker/cocoop/lr-schedule.ts';

const RECIPE = { baseLr: 0.002, maxEpochs: 10, warmupEpochs: 1, warmupLr: 1e-5 };

describe('learningRate (Dassl ConstantWarmupScheduler + CosineAnnealingLR)', () => {
  it('gives the official 10-epoch CoCoOp sequence', () => {
    // Written out by hand: epoch 0 warm-up, epoch 1 the successor's epoch 0 (cos 0 = 1), then
    // 0.002 · (1 + cos(π k / 10)) / 2 for k = 1..8.
    const expected = [
      1e-5,
      0.002,
      0.0019510565162951536, // k = 1: 0.001 · (1 + 0.9510565162951535)
      0.0018090169943749475, // k = 2: 0.001 · (1 + 0.8090169943749475)
      0.0015877852522924731, // k = 3: 0.001 · (1 + 0.5877852522924731)
      0.0013090169943749475, // k = 4: 0.001 · (1 + 0.30901699437494745)
      0.001, // k = 5: cos(π/2) = 0
      0.0006909830056250527, // k = 6: 0.001 · (1 − 0.30901699437494734)
      0.0004122147477075268, // k = 7: 0.001 · (1 − 0.587785252292473)
      0.00019098300562505265, // k = 8: 0.001 · (1 − 0.8090169943749473)
    ];
    const got = expected.map((_, e) => learningRate(e, RECIPE));
    got.forEach((lr, e) => expect(lr, `epoch ${e}`).toBeCloseTo(expected[e], 15));
    // Monotone non-increasing after the warm-up, never reaching 0 within the run.
    for (let e = 2; e < 10; e++) expect(got[e]).toBeLessThan(got[e - 1]);
    expect(got[9]).toBeGreaterThan(0);
  });

  it('longer warm-up and no warm-up', () => {
    const opts = { baseLr: 0.01, maxEpochs: 5, warmupEpochs: 2, warmupLr: 1e-4 };
    expect([0, 1, 2, 3].map((e) => learningRate(e, opts))).toEqual([1e-4, 1e-4, 0.01, 0.5 * 0.01 * (1 + Math.cos(Math.PI / 5))]);
    // Without warm-up Dassl uses the cosine scheduler alone: epoch e has cos(π e / T).
    const plain = { ...opts, warmupEpochs: 0 };
    expect(learningRate(0, plain)).toBe(0.01);
    expect(learningRate(1, plain)).toBeCloseTo(0.5 * 0.01 * (1 + Math.cos(Math.PI / 5)), 15);
  });

  it('rejects bad arguments', () => {
    expect(() => learningRate(-1, RECIPE)).toThrow(/epoch/);
    expect(() => learningRate(1.5, RECIPE)).toThrow(/epoch/);
    expect(() => learningRate(0, { ...RECIPE, maxEpochs: 0 })).toThrow(/maxEpochs/);
    expect(() => learningRate(0, { ...RECIPE, warmupEpochs: -1 })).toThrow(/warmupEpochs/);
  });
});
