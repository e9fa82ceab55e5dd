// The soak's statistics (scripts/bench-load.ts, scripts/lib/trend.ts): per-minute rows from the 5-s RSS samples and
// the once-a-minute heap samples, and least-squares slopes with their 95% intervals.
import { describe, expect, it } from 'vitest';
import { minuteRows, seriesFits, type HeapSample, type SoakResult } from '../../scripts/bench-load.ts';
import { excludesZero, fitSlope } from '../../scripts/lib/trend.ts';

/** A deterministic pseudo-random sequence in [−1, 1). */
function noise(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 31 - 1;
  };
}

describe('fitSlope', () => {
  it('recovers the slope and intercept of an exact line, with a zero-width interval', () => {
    const xs = [2, 3, 4, 5, 6];
    const f = fitSlope(xs, xs.map((x) => 10 + 1.5 * x))!;
    expect(f.slope).toBeCloseTo(1.5, 12);
    expect(f.intercept).toBeCloseTo(10, 12);
    expect(f.ci95[0]).toBeCloseTo(1.5, 9);
    expect(f.ci95[1]).toBeCloseTo(1.5, 9);
  });

  it('matches a hand-computed OLS interval when residuals are not autocorrelated', () => {
    // y = 1, 3, 2, 4 at x = 0..3: slope 0.8, intercept 1.3, residuals −0.3, 0.9, −0.9, 0.3 (r1 < 0: plain OLS)
    const f = fitSlope([0, 1, 2, 3], [1, 3, 2, 4])!;
    expect(f.slope).toBeCloseTo(0.8, 12);
    expect(f.intercept).toBeCloseTo(1.3, 12);
    expect(f.r1).toBeLessThan(0);
    expect(f.nEff).toBe(4);
    // SSE = 1.8, Sxx = 5, se = √(1.8 / 2 / 5) = 0.42426; t(0.975, 2) = 4.30265
    const half = 4.302653 * Math.sqrt(1.8 / 2 / 5);
    expect(f.ci95[0]).toBeCloseTo(0.8 - half, 4);
    expect(f.ci95[1]).toBeCloseTo(0.8 + half, 4);
    expect(excludesZero(f)).toBe(false);
  });

  it('a trend under noise: the interval covers the true slope and excludes zero; flat noise: it covers zero', () => {
    const r = noise(7);
    const xs = Array.from({ length: 29 }, (_, i) => i + 2);
    const rising = fitSlope(xs, xs.map((x) => 150 + 2 * x + 5 * r()))!;
    expect(rising.ci95[0]).toBeLessThan(2);
    expect(rising.ci95[1]).toBeGreaterThan(2);
    expect(excludesZero(rising)).toBe(true);
    const flat = fitSlope(xs, xs.map(() => 150 + 5 * r()))!;
    expect(flat.ci95[0]).toBeLessThan(0);
    expect(flat.ci95[1]).toBeGreaterThan(0);
    expect(excludesZero(flat)).toBe(false);
  });

  it('widens the interval for positively autocorrelated residuals (slow GC phases)', () => {
    // A flat series with a slow square wave (5 minutes high, 5 low): neighbours are alike.
    const xs = Array.from({ length: 30 }, (_, i) => i);
    const ys = xs.map((x) => (Math.floor(x / 5) % 2 ? 40 : 0));
    const f = fitSlope(xs, ys)!;
    expect(f.r1).toBeGreaterThan(0.5);
    expect(f.nEff).toBeLessThan(10);
    const naiveHalf = 2.048 * Math.sqrt(xs.reduce((a, x, i) => a + (ys[i]! - (f.intercept + f.slope * x)) ** 2, 0) / 28 / xs.reduce((a, x) => a + (x - 14.5) ** 2, 0));
    expect(f.ci95[1] - f.slope).toBeGreaterThan(1.5 * naiveHalf);
  });

  it('needs three points and more than one x', () => {
    expect(fitSlope([1, 2], [1, 2])).toBeNull();
    expect(fitSlope([1, 1, 1], [1, 2, 3])).toBeNull();
    expect(() => fitSlope([1, 2, 3], [1, 2])).toThrow();
    expect(excludesZero(null)).toBe(false);
  });
});

describe('soak minutes and fits', () => {
  // 4 minutes of 5-s RSS samples: edge rises 10 MB a minute, s3 flat, worker absent in minute 2 (restarting).
  const samples: SoakResult['samples'] = [];
  for (let t = 0; t <= 240; t += 5) samples.push([t, 100 + (10 * t) / 60, 50, t >= 60 && t < 120 ? null : 300]);
  const heap: HeapSample[] = [0, 61, 119, 181, 240].map((t) => ({ t, edge_heap_mb: 20 + t / 60, edge_rss_mb: 1, edge_heap_total_mb: 30, edge_external_mb: 2, s3_heap_mb: 8, s3_rss_mb: 1 }));

  it('takes each full minute\'s RSS median and the heap sampled at its end', () => {
    const rows = minuteRows(samples, heap, 240);
    expect(rows.map((r) => r.minute)).toEqual([1, 2, 3, 4]);
    // minute 1: t = 0..55 → edge 100..109.17, median (nearest rank, 12 samples: the 6th) at t = 25
    expect(rows[0]!.edge_rss_mb).toBeCloseTo(100 + (10 * 25) / 60, 9);
    expect(rows[1]!.worker_rss_mb).toBeNull();
    expect(rows[2]!.worker_rss_mb).toBe(300);
    expect(rows.map((r) => r.edge_heap_mb)).toEqual([20 + 61 / 60, 20 + 119 / 60, 20 + 181 / 60, 24]);
    expect(rows.every((r) => r.s3_rss_mb === 50)).toBe(true);
  });

  it('fits only the minutes after warm-up', () => {
    const fits = seriesFits(minuteRows(samples, heap, 240), 60);
    expect(fits.edge_rss.all!.n).toBe(3); // minutes 2, 3, 4
    expect(fits.edge_rss.all!.slope).toBeCloseTo(10, 9);
    expect(fits.s3_rss.all!.slope).toBe(0);
    expect(fits.worker_rss.all).toBeNull(); // two minutes with a value
    expect(fits.edge_heap.all!.slope).toBeGreaterThan(0.9);
    expect(fits.edge_heap.all!.slope).toBeLessThan(1.1);
    expect(fits.edge_rss.second_half).toBeNull(); // 2 points
    expect(seriesFits(minuteRows(samples, heap, 240), 0).edge_rss.all!.n).toBe(4);
  });
});
