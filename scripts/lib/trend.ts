// A least-squares line through a time series (memory per minute in the soak of scripts/bench-load.ts) with a 95%
// confidence interval for its slope. Memory samples a minute apart are not independent (a high garbage-collection
// phase lasts several minutes), so the interval uses the usual correction for lag-1 autocorrelation of the
// residuals: the effective number of points n_eff = n (1 − r1) / (1 + r1) when r1 > 0, in both the residual variance
// (n_eff − 2 degrees of freedom) and Student's t quantile. With r1 ≤ 0 it is the ordinary OLS interval.
import { tCritical95 } from '../../lab/toyworld/stats.ts';

export interface SlopeFit {
  /** Number of points fitted. */
  n: number;
  /** Units of y per unit of x. */
  slope: number;
  intercept: number;
  /** 95% interval of the slope; [NaN, NaN] when there are too few (effective) points. */
  ci95: [number, number];
  /** Lag-1 autocorrelation of the residuals. */
  r1: number;
  /** Effective number of points the interval uses. */
  nEff: number;
}

/** The fit of y = intercept + slope · x; null with fewer than 3 points or when every x is the same. */
export function fitSlope(xs: readonly number[], ys: readonly number[]): SlopeFit | null {
  if (xs.length !== ys.length) throw new Error('fitSlope: xs and ys differ in length');
  const n = xs.length;
  if (n < 3) return null;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i]! - mx) ** 2;
    sxy += (xs[i]! - mx) * (ys[i]! - my);
  }
  if (sxx === 0) return null;
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  const e = xs.map((x, i) => ys[i]! - (intercept + slope * x));
  const sse = e.reduce((a, r) => a + r * r, 0);
  let num = 0;
  for (let i = 1; i < n; i++) num += e[i]! * e[i - 1]!;
  const r1 = sse > 0 ? num / sse : 0;
  const nEff = r1 > 0 ? (n * (1 - r1)) / (1 + r1) : n;
  if (nEff <= 2) return { n, slope, intercept, ci95: [NaN, NaN], r1, nEff };
  const se = Math.sqrt(sse / (nEff - 2) / sxx);
  const half = tCritical95(nEff - 2) * se;
  return { n, slope, intercept, ci95: [slope - half, slope + half], r1, nEff };
}

/** Whether the 95% interval lies wholly above or below zero (false when it has no interval). */
export function excludesZero(fit: SlopeFit | null): boolean {
  return !!fit && Number.isFinite(fit.ci95[0]) && (fit.ci95[0] > 0 || fit.ci95[1] < 0);
}
