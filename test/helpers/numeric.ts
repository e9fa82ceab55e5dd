// Comparisons of computed vectors against a reference, shared by the test suites.
import { expect } from 'vitest';

/**
 * max_i |a_i − b_i| / max_i |b_i|, with `b` the reference: scale-free (features are un-normalised)
 * and not fooled by near-zero entries, as an elementwise relative error would be. NaN anywhere gives
 * NaN, which fails every `toBeLessThan`; an all-zero reference only admits an exact match.
 */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i])); // Math.max propagates NaN
    den = Math.max(den, Math.abs(b[i]));
  }
  if (den === 0) return num === 0 ? 0 : Infinity;
  return num / den;
}

/** The worst relErr over rows: `a` is flat [rows × P], `ref` one reference vector per row. */
export function relErrRows(a: ArrayLike<number>, ref: ArrayLike<number>[]): number {
  const p = ref.length === 0 ? 0 : ref[0].length;
  if (a.length !== ref.length * p) throw new Error(`length ${a.length} vs ${ref.length} rows of ${p}`);
  let worst = 0;
  for (let r = 0; r < ref.length; r++) {
    const row = Array.from({ length: p }, (_, i) => a[r * p + i]);
    worst = Math.max(worst, relErr(row, ref[r]));
  }
  return worst;
}

/** max_i |a_i − b_i| (lengths must agree). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Asserts that `actual` is finite and within rel · max|expected| of `expected`, entry by entry. */
export function expectRelClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number): void {
  expect(actual.length).toBe(expected.length);
  expect(Array.prototype.every.call(actual, Number.isFinite), 'non-finite values').toBe(true);
  expect(relErr(actual, expected)).toBeLessThanOrEqual(rel);
}
