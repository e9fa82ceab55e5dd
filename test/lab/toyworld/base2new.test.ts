import { describe, expect, it } from 'vitest';
import { BASE2NEW_DEFAULTS, harmonicMean, type Base2NewMethod, type Base2NewRow, type SelectionRow } from '../../../lab/toyworld/base2new.ts';
import { base2newMarkdown, base2newSvg, pairedStatement, type Base2NewResult } from '../../../lab/toyworld/base2new-report.ts';
import { chooseCropScales, summarizeCondition } from '../../../lab/toyworld/base2new-summary.ts';

function row(seed: number, method: Base2NewMethod, base: number, novel: number, extra: Partial<Base2NewRow> = {}): Base2NewRow {
  return {
    world: 'mixed',
    split: 'balanced',
    seed,
    method,
    base,
    new: novel,
    h: (2 * base * novel) / (base + novel),
    trainSeconds: method === 'zero-shot' ? 0 : 1,
    cropScale: method === 'zero-shot' ? null : [0.5, 1],
    attributes: { baseColor: 1, baseShape: base, newColor: 1, newShape: novel },
    ...extra,
  };
}

// Three seeds; CoCoOp − CoOp on new = +0.10, +0.20, +0.60 (mean 0.30, the 2-df example of stats.test.ts).
const rows: Base2NewRow[] = [
  row(1, 'zero-shot', 0.5, 0.6),
  row(2, 'zero-shot', 0.4, 0.5),
  row(3, 'zero-shot', 0.45, 0.55),
  row(1, 'coop', 0.9, 0.4),
  row(2, 'coop', 0.8, 0.4),
  row(3, 'coop', 0.85, 0.3),
  row(1, 'cocoop', 0.85, 0.5, { piToContext: 0.2 }),
  row(2, 'cocoop', 0.8, 0.6, { piToContext: 0.3 }),
  row(3, 'cocoop', 0.8, 0.9, { piToContext: 0.4 }),
  row(1, 'cocoop-mean-pi', 0.85, 0.5),
  row(2, 'cocoop-mean-pi', 0.8, 0.6),
  row(3, 'cocoop-mean-pi', 0.8, 0.9),
  // Another condition: must not leak into this one.
  { ...row(1, 'coop', 0.1, 0.1), world: 'night' },
];

describe('base-to-new summary', () => {
  it('per method: mean and 95% CI over seeds, H as the mean of per-seed harmonic means', () => {
    const c = summarizeCondition('mixed', 'balanced', rows);
    expect(c.summary.map((s) => s.method)).toEqual(['zero-shot', 'coop', 'cocoop', 'cocoop-mean-pi']);
    const coop = c.summary[1];
    expect(coop.n).toBe(3);
    expect(coop.base.mean).toBeCloseTo(0.85, 12);
    // base 0.9, 0.8, 0.85: s = 0.05, half-width = 4.302653 · 0.05 / √3
    expect(coop.base.ci95[1] - coop.base.mean).toBeCloseTo((4.302653 * 0.05) / Math.sqrt(3), 5);
    const hs = [harmonicMean(0.9, 0.4), harmonicMean(0.8, 0.4), harmonicMean(0.85, 0.3)];
    expect(coop.h.mean).toBeCloseTo((hs[0] + hs[1] + hs[2]) / 3, 12);
    expect(c.pi_to_context!.mean).toBeCloseTo(0.3, 12);
  });

  it('paired CoCoOp differences: mean of the per-seed differences, CI and the two-sided p', () => {
    const c = summarizeCondition('mixed', 'balanced', rows);
    const d = c.paired.find((p) => p.a === 'cocoop' && p.b === 'coop' && p.metric === 'new')!;
    expect(d.n).toBe(3);
    expect(d.mean_diff).toBeCloseTo(0.3, 12);
    const t = 0.3 / (Math.sqrt(0.07) / Math.sqrt(3));
    expect(d.p_value).toBeCloseTo(2 * (0.5 - t / (2 * Math.sqrt(2 + t * t))), 6);
    const same = c.paired.find((p) => p.a === 'cocoop' && p.b === 'cocoop-mean-pi' && p.metric === 'h')!;
    expect(same.mean_diff).toBe(0);
    expect(same.p_value).toBe(1);
    // coop-official was not run: no comparison with it.
    expect(c.paired.some((p) => p.b === 'coop-official')).toBe(false);
  });

  it('chooses per method the crop scale with the higher mean validation accuracy', () => {
    const sel = (method: SelectionRow['method'], lo: number, seed: number, valAccuracy: number): SelectionRow => ({ world: 'night', split: 'balanced', seed, method, cropScale: [lo, 1], valAccuracy });
    const choice = chooseCropScales(
      [sel('coop', 0.08, 1, 0.5), sel('coop', 0.08, 2, 0.9), sel('coop', 0.5, 1, 0.8), sel('coop', 0.5, 2, 0.8), sel('cocoop', 0.08, 1, 0.9), sel('cocoop', 0.5, 1, 0.6)],
      ['coop', 'cocoop'],
      [
        [0.08, 1],
        [0.5, 1],
      ],
    );
    expect(choice[0].chosen).toEqual([0.5, 1]); // 0.8 > 0.7
    expect(choice[0].candidates[0]).toEqual({ cropScale: [0.08, 1], valAccuracy: expect.closeTo(0.7, 12), runs: 2 });
    expect(choice[1].chosen).toEqual([0.08, 1]);
    expect(() => chooseCropScales([], ['coop'], [[0.5, 1]])).toThrow(/no validation run/);
  });
});

describe('base-to-new report', () => {
  const base = { a: 'cocoop' as const, b: 'coop' as const, metric: 'new' as const, n: 10, p_value: 0.01 };
  it('states a difference only when the 95% CI excludes 0', () => {
    expect(pairedStatement({ ...base, mean_diff: 0.05, ci95: [0.01, 0.09] })).toMatch(/CoCoOp − CoOp on New: \+5\.0 points, 95% CI \[\+1\.0, \+9\.0\], p 0\.010 — CoCoOp higher/);
    expect(pairedStatement({ ...base, mean_diff: -0.05, ci95: [-0.09, -0.01] })).toMatch(/CoCoOp lower/);
    const none = pairedStatement({ ...base, mean_diff: 0.02, ci95: [-0.03, 0.07], p_value: 0.4 });
    expect(none).toMatch(/no difference shown .*larger than 7\.0 points are ruled out/);
    expect(none).not.toMatch(/higher|lower/);
  });

  it('draws one bar per method and metric with heights proportional to accuracy and CI whiskers', () => {
    const c = summarizeCondition('mixed', 'balanced', rows);
    const svg = base2newSvg(c);
    const bars = [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)" fill="#[0-9a-f]+"><title>([^<]+)<\/title>/g)];
    expect(bars).toHaveLength(12); // 4 methods × 3 metrics
    const height = (title: string) => Number(bars.find((b) => b[2].startsWith(title))![1]);
    expect(height('CoOp Base') / height('Zero-shot CLIP Base')).toBeCloseTo(0.85 / 0.45, 1);
    expect(svg.match(/<line x1="([\d.]+)" x2="\1"/g)).toHaveLength(12);
  });

  it('the markdown shows each condition with the numbers of the summary', () => {
    const c = summarizeCondition('mixed', 'balanced', rows);
    const result: Base2NewResult = {
      settings: { ...BASE2NEW_DEFAULTS, worlds: ['mixed'], splits: ['balanced'], seeds: [1, 2, 3], cropChoice: [{ method: 'coop', candidates: [], chosen: [0.5, 1] }] },
      run: { command: 'npm run bench:base2new', machine: 'test', date: '2026-12-05', seconds: 600, selectionSeconds: 60, jobs: 2, engine: 'ort', model: 'models/toy-clip', modelSha256: '0'.repeat(64) },
      conditions: [c],
      selection: [],
      rows,
    };
    const md = base2newMarkdown(result);
    expect(md).toContain('Total wall time **10.0 min**');
    expect(md).toContain('### mixed shifts');
    const coop = c.summary[1];
    expect(md).toContain(`| CoOp | ${(coop.base.mean * 100).toFixed(1)} [${(coop.base.ci95[0] * 100).toFixed(1)}, ${(coop.base.ci95[1] * 100).toFixed(1)}] |`);
    expect(md).toContain('| CoCoOp − CoOp | New | +30.0 |');
    expect(md).toContain('(base2new-mixed-balanced.svg)');
  });
});
