// Smoke run of `npm run bench:base2new` with the bundled toy CLIP: 2 seeds, 2 shots, 1 epoch, one
// selection seed, all 4 conditions and all methods, on 2 worker processes. Checks the whole pipeline
// (selection → evaluation → statistics → report files) and recomputes the report's statistics from the
// per-seed rows of the JSON.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Base2NewResult } from '../../lab/toyworld/base2new-report.ts';
import { REPO_ROOT } from '../helpers/cli.ts';
import { useTmpDir } from '../helpers/tmp.ts';

const TEST_PER_CLASS = 2;

describe('bench:base2new (smoke)', () => {
  const out = useTmpDir('base2new-');

  it('selects a crop scale on validation, runs every condition × seed × method, and reports intervals and paired tests', () => {
    const run = spawnSync(
      process.execPath,
      [
        'bin/run-ts.mjs',
        'scripts/bench-base2new.ts',
        ...['--seeds', '1,2', '--selection-seeds', '7', '--shots', '2', '--val-per-class', '1', '--test-per-class', String(TEST_PER_CLASS)],
        ...['--epochs', '1', '--official-epochs', '1', '--jobs', '2', '--out-dir', out],
      ],
      { cwd: REPO_ROOT, encoding: 'utf8', timeout: 300_000 },
    );
    expect(run.status, run.stderr).toBe(0);
    const r = JSON.parse(readFileSync(join(out, 'base2new.json'), 'utf8')) as Base2NewResult;

    // Settings and shape.
    expect(r.settings.seeds).toEqual([1, 2]);
    expect(r.run.engine).toBe('ort');
    expect(r.run.seconds).toBeGreaterThan(0);
    expect(r.conditions.map((c) => `${c.world}/${c.split}`)).toEqual(['night/name-sorted', 'night/balanced', 'mixed/name-sorted', 'mixed/balanced']);
    const methods = ['zero-shot', 'coop', 'coop-official', 'cocoop', 'cocoop-mean-pi'];
    expect(r.rows).toHaveLength(4 * 2 * methods.length);

    // Selection: 4 conditions × 1 seed × 2 candidates × 3 methods; the chosen crop is the best mean.
    expect(r.selection).toHaveLength(4 * 2 * 3);
    for (const choice of r.settings.cropChoice) {
      const meanOf = (lo: number) => {
        const vs = r.selection.filter((s) => s.method === choice.method && s.cropScale[0] === lo).map((s) => s.valAccuracy);
        return vs.reduce((a, b) => a + b, 0) / vs.length;
      };
      expect(choice.chosen[0]).toBe(meanOf(0.5) > meanOf(0.08) ? 0.5 : 0.08);
      for (const row of r.rows.filter((x) => x.method === choice.method)) expect(row.cropScale).toEqual(choice.chosen);
    }

    for (const row of r.rows) {
      for (const v of [row.base, row.new]) {
        expect(Number.isInteger(v * 32 * TEST_PER_CLASS)).toBe(true); // 32 classes × TEST_PER_CLASS images each
        expect(v).toBeLessThanOrEqual(1);
        // Floor: chance is 1/32. With these settings and training seeds 1–5 (one run, --seeds 1,2,3,4,5), every
        // method's base and new accuracy lay in 0.52–0.94 over the 4 conditions; 0.4 leaves 7 of 64 images of margin.
        expect(v).toBeGreaterThanOrEqual(0.4);
      }
      expect(row.h).toBeCloseTo(row.base + row.new === 0 ? 0 : (2 * row.base * row.new) / (row.base + row.new), 12);
      expect(row.attributes.baseColor).toBeGreaterThanOrEqual(row.base);
      expect(row.attributes.newShape).toBeGreaterThanOrEqual(row.new);
      if (row.method === 'cocoop') expect(row.piToContext).toBeGreaterThan(0);
    }
    // One epoch of 2 shots barely moves an adapter (seeds 1–5: CoOp equal to zero-shot on every row, CoCoOp at most
    // 0.125 below it on base and 0.016 above): CoCoOp's base accuracy is held to within 0.2 of zero-shot's.
    for (const row of r.rows.filter((x) => x.method === 'cocoop')) {
      const zs = r.rows.find((x) => x.world === row.world && x.split === row.split && x.method === 'zero-shot')!;
      expect(row.base).toBeGreaterThanOrEqual(zs.base - 0.2);
    }
    // Zero-shot does not depend on the seed: one fixed test set per world.
    for (const c of r.conditions) {
      const zs = r.rows.filter((x) => x.world === c.world && x.split === c.split && x.method === 'zero-shot');
      expect(zs[0].base).toBe(zs[1].base);
      expect(zs[0].new).toBe(zs[1].new);
    }

    for (const c of r.conditions) {
      const rows = r.rows.filter((x) => x.world === c.world && x.split === c.split);
      for (const s of c.summary) {
        const of = rows.filter((x) => x.method === s.method);
        for (const m of ['base', 'new', 'h'] as const) {
          expect(s[m].mean).toBeCloseTo(of.reduce((a, x) => a + x[m], 0) / of.length, 12);
          expect(s[m].ci95[0]).toBeLessThanOrEqual(s[m].mean + 1e-12);
          expect(s[m].ci95[1]).toBeGreaterThanOrEqual(s[m].mean - 1e-12);
        }
      }
      for (const p of c.paired) {
        const diffs = [1, 2].map((seed) => {
          const a = rows.find((x) => x.seed === seed && x.method === p.a)!;
          const b = rows.find((x) => x.seed === seed && x.method === p.b)!;
          return a[p.metric] - b[p.metric];
        });
        expect(p.mean_diff).toBeCloseTo((diffs[0] + diffs[1]) / 2, 12);
        expect(p.ci95[0]).toBeLessThanOrEqual(p.mean_diff + 1e-12);
        expect(p.ci95[1]).toBeGreaterThanOrEqual(p.mean_diff - 1e-12);
        expect(p.p_value).toBeGreaterThanOrEqual(0);
        expect(p.p_value).toBeLessThanOrEqual(1);
      }
      expect(c.paired.filter((p) => p.a === 'cocoop' && p.b === 'coop').map((p) => p.metric)).toEqual(['base', 'new', 'h']);
      expect(readFileSync(join(out, `base2new-${c.world}-${c.split}.svg`), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
    }

    const md = readFileSync(join(out, 'base2new.md'), 'utf8');
    expect(md).toContain('<!-- bench:base2new begin -->');
    expect(md).toContain('--seeds 1,2 --selection-seeds 7');
    const cocoop = r.conditions[0].summary.find((s) => s.method === 'cocoop')!;
    expect(md).toContain(`| CoCoOp | ${(cocoop.base.mean * 100).toFixed(1)} [`);
    expect(run.stdout).toMatch(/night\/balanced seed 2 cocoop +base [\d.]+% +new [\d.]+%/);
    expect(existsSync(join(out, 'base2new.svg'))).toBe(false);
  });
});
