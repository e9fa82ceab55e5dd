import { describe, expect, it } from 'vitest';
import { harmonicMean, summarize, type Base2NewRow } from '../../../lab/toyworld/base2new.ts';
import { base2newSvg, verdict, type Base2NewResult } from '../../../lab/toyworld/base2new-report.ts';

function row(seed: number, method: Base2NewRow['method'], base: number, novel: number): Base2NewRow {
  return { seed, method, base, novel, h: (2 * base * novel) / (base + novel), trainSeconds: 1, attributes: { baseColor: 1, baseShape: base, novelColor: 1, novelShape: novel } };
}

const rows: Base2NewRow[] = [
  row(1, 'zero-shot', 0.5, 0.6),
  row(2, 'zero-shot', 0.4, 0.5),
  row(1, 'coop', 0.9, 0.4),
  row(2, 'coop', 0.8, 0.5),
  row(1, 'cocoop', 0.85, 0.55),
  row(2, 'cocoop', 0.8, 0.45),
];

function result(rs: Base2NewRow[]): Base2NewResult {
  return {
    command: 'npm run bench:base2new',
    machine: 'test',
    model: 'models/toy-clip',
    modelSha256: '0'.repeat(64),
    settings: { seeds: [1, 2], shots: 16, testPerClass: 25, domain: 'night', epochs: 10, lr: 0.002, batchSize: 1, ctxInit: 'a photo of a', cropScale: [0.08, 1] },
    rows: rs,
    summary: summarize(rs),
    seconds: 1,
    date: '2026-11-27',
  };
}

describe('base-to-new summary and report', () => {
  it('harmonic mean', () => {
    expect(harmonicMean(0.8, 0.6)).toBeCloseTo(0.685714, 6);
    expect(harmonicMean(0, 0)).toBe(0);
  });

  it('summarizes per method: means, ranges, and H of the means (as the paper does)', () => {
    const s = summarize(rows);
    expect(s.map((x) => x.method)).toEqual(['zero-shot', 'coop', 'cocoop']);
    const coop = s[1];
    expect(coop.base.mean).toBeCloseTo(0.85, 12);
    expect(coop.novel).toEqual({ mean: expect.closeTo(0.45, 12), min: 0.4, max: 0.5 });
    expect(coop.h.mean).toBeCloseTo((2 * 0.85 * 0.45) / 1.3, 12);
    expect(coop.h.min).toBeCloseTo(Math.min(rows[2].h, rows[3].h), 12);
  });

  it('states from the numbers whether CoCoOp beat CoOp, by how much and in how many seeds', () => {
    const v = verdict(result(rows));
    // new: cocoop 0.50 vs coop 0.45 → +5.0; seeds +15.0, −5.0
    expect(v).toMatch(/On \*\*new classes\*\*, CoCoOp beat CoOp: 50\.0% vs 45\.0% \(\+5\.0 points on the mean; per seed \+15\.0, −5\.0; CoCoOp ahead in 1 of 2 seeds\)/);
    // base: cocoop 0.825 vs coop 0.85 → −2.5
    expect(v).toMatch(/On \*\*base classes\*\*, CoCoOp did not beat CoOp: 82\.5% vs 85\.0% \(−2\.5 points/);
    const flipped = rows.map((r) => (r.method === 'cocoop' ? { ...r, novel: 0.3, h: harmonicMean(r.base, 0.3) } : r));
    expect(verdict(result(flipped))).toMatch(/On \*\*new classes\*\*, CoCoOp did not beat CoOp/);
  });

  it('draws one bar per method and metric, with heights proportional to accuracy', () => {
    const svg = base2newSvg(summarize(rows));
    expect(svg.startsWith('<svg')).toBe(true);
    const bars = [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)" fill="#[0-9a-f]+"><title>([^<]+)<\/title>/g)];
    expect(bars).toHaveLength(9);
    const height = (title: string) => Number(bars.find((b) => b[2].startsWith(title))![1]);
    expect(height('CoOp Base') / height('Zero-shot CLIP Base')).toBeCloseTo(0.85 / 0.45, 1);
  });
});
