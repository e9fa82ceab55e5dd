import { describe, expect, it } from 'vitest';
import { mean, meanCI95, pairedTTest, sampleStd, tCritical95 } from '../../../lab/toyworld/stats.ts';

// Closed forms used as the independent reference:
//   1 degree of freedom (Cauchy):  F(t) = 1/2 + atan(t)/π,  quantile(p) = tan(π (p − 1/2))
//   2 degrees of freedom:          F(t) = 1/2 + t / (2 √(2 + t²)),  quantile(p) = (2p − 1) / √(2 p (1 − p))
const cauchyQuantile = (p: number) => Math.tan(Math.PI * (p - 0.5));
const t2Quantile = (p: number) => (2 * p - 1) / Math.sqrt(2 * p * (1 - p));

describe('statistics over seeds', () => {
  it('t critical values: tables (9 df = 2.262157, 29 df = 2.045230) and the closed forms for 1 and 2 df', () => {
    expect(tCritical95(9)).toBeCloseTo(2.262157, 6);
    expect(tCritical95(29)).toBeCloseTo(2.04523, 5);
    expect(tCritical95(1)).toBeCloseTo(cauchyQuantile(0.975), 6); // 12.7062
    expect(tCritical95(2)).toBeCloseTo(t2Quantile(0.975), 6); // 4.302653
    expect(tCritical95(100000)).toBeCloseTo(1.959964, 3);
  });

  it('mean and sample standard deviation', () => {
    expect(mean([1, 2, 3, 4])).toBe(2.5);
    expect(sampleStd([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(Number.isNaN(sampleStd([1]))).toBe(true);
  });

  it('95% CI of a mean: mean ± t(0.975, n−1)·s/√n, by hand for 3 values', () => {
    // [0.7, 0.8, 0.9]: mean 0.8, s = 0.1, n = 3, t(0.975, 2) = 4.302653 → half-width 0.248414
    const { mean: m, ci95 } = meanCI95([0.7, 0.8, 0.9]);
    expect(m).toBeCloseTo(0.8, 12);
    const half = (t2Quantile(0.975) * 0.1) / Math.sqrt(3);
    expect(half).toBeCloseTo(0.248414, 5);
    expect(ci95[0]).toBeCloseTo(0.8 - half, 6);
    expect(ci95[1]).toBeCloseTo(0.8 + half, 6);
    expect(meanCI95([0.5]).ci95.every(Number.isNaN)).toBe(true);
  });

  it('paired t-test with 2 pairs against the Cauchy closed form', () => {
    // differences 0.3 and 0.1: mean 0.2, s = 0.1·√2, se = 0.1, t = 2 → p = 1 − 2·atan(2)/π = 0.295167
    const r = pairedTTest([0.9, 0.6], [0.6, 0.5]);
    expect(r.n).toBe(2);
    expect(r.meanDiff).toBeCloseTo(0.2, 12);
    expect(r.pValue).toBeCloseTo(1 - (2 * Math.atan(2)) / Math.PI, 6);
    expect(r.pValue).toBeCloseTo(0.295167, 5);
    expect(r.ci95[0]).toBeCloseTo(0.2 - cauchyQuantile(0.975) * 0.1, 6);
    expect(r.ci95[1]).toBeCloseTo(0.2 + cauchyQuantile(0.975) * 0.1, 6);
  });

  it('paired t-test with 3 pairs against the 2-df closed form, sign-symmetric', () => {
    // differences 0.1, 0.2, 0.6: mean 0.3, s = √((0.04 + 0.01 + 0.09)/2) = √0.07, t = 0.3 / (√0.07/√3)
    const a = [0.5, 0.6, 0.9];
    const b = [0.4, 0.4, 0.3];
    const t = 0.3 / (Math.sqrt(0.07) / Math.sqrt(3));
    const p = 2 * (1 - (0.5 + t / (2 * Math.sqrt(2 + t * t))));
    const r = pairedTTest(a, b);
    expect(r.meanDiff).toBeCloseTo(0.3, 12);
    expect(r.pValue).toBeCloseTo(p, 6);
    const flipped = pairedTTest(b, a);
    expect(flipped.meanDiff).toBeCloseTo(-0.3, 12);
    expect(flipped.pValue).toBeCloseTo(p, 12);
    expect(flipped.ci95[0]).toBeCloseTo(-r.ci95[1], 12);
  });

  it('degenerate cases: no spread, fewer than 2 pairs, unequal lengths', () => {
    expect(pairedTTest([0.5, 0.6], [0.5, 0.6]).pValue).toBe(1);
    expect(pairedTTest([0.6, 0.7], [0.5, 0.6]).pValue).toBe(0);
    expect(Number.isNaN(pairedTTest([0.6], [0.5]).pValue)).toBe(true);
    expect(() => pairedTTest([0.6], [0.5, 0.4])).toThrow(/paired/);
  });
});
