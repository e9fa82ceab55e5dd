// Statistics over seeds: mean with a 95% confidence interval from Student's t distribution (n − 1
// degrees of freedom), and the paired t-test of two methods run on the same seeds (two-sided).
import jstat from 'jstat';

const { studentt } = jstat.jStat;

export interface MeanCI {
  mean: number;
  /** [lo, hi]; [NaN, NaN] with fewer than 2 values. */
  ci95: [number, number];
}

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('mean of no values');
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Sample standard deviation (n − 1 in the denominator). */
export function sampleStd(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

/** The two-sided 95% critical value of Student's t with `dof` degrees of freedom. */
export function tCritical95(dof: number): number {
  return studentt.inv(0.975, dof);
}

/** mean ± t(0.975, n−1) · s / √n. */
export function meanCI95(xs: readonly number[]): MeanCI {
  const m = mean(xs);
  if (xs.length < 2) return { mean: m, ci95: [NaN, NaN] };
  const half = (tCritical95(xs.length - 1) * sampleStd(xs)) / Math.sqrt(xs.length);
  return { mean: m, ci95: [m - half, m + half] };
}

export interface PairedTest {
  n: number;
  /** mean of a[i] − b[i] */
  meanDiff: number;
  ci95: [number, number];
  /** Two-sided p-value of the paired t-test (H0: mean difference 0); NaN with fewer than 2 pairs. */
  pValue: number;
}

/** Paired t-test of a against b (a[i] and b[i] from the same seed). */
export function pairedTTest(a: readonly number[], b: readonly number[]): PairedTest {
  if (a.length !== b.length) throw new Error(`paired test: ${a.length} vs ${b.length} values`);
  const d = a.map((x, i) => x - b[i]);
  const { mean: meanDiff, ci95 } = meanCI95(d);
  const n = d.length;
  if (n < 2) return { n, meanDiff, ci95, pValue: NaN };
  const se = sampleStd(d) / Math.sqrt(n);
  // All differences equal: no spread, the test degenerates (p = 1 when they are all 0, else 0).
  if (se === 0) return { n, meanDiff, ci95, pValue: meanDiff === 0 ? 1 : 0 };
  const t = meanDiff / se;
  const pValue = Math.min(1, 2 * studentt.cdf(-Math.abs(t), n - 1));
  return { n, meanDiff, ci95, pValue };
}
