// Smoke run of `npm run bench:base2new` with the bundled toy CLIP: one seed, 1 shot, 1 epoch. Checks
// the whole pipeline (few-shot folders → trainer → inference → report files) and that the report's
// numbers are the ones in the JSON.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Base2NewResult } from '../../lab/toyworld/base2new-report.ts';
import { REPO_ROOT } from '../helpers/cli.ts';
import { useTmpDir } from '../helpers/tmp.ts';

describe('bench:base2new (smoke)', () => {
  const out = useTmpDir('base2new-');

  it('trains CoOp and CoCoOp on base classes and reports Base / New / H for all three methods', () => {
    const run = spawnSync(
      process.execPath,
      ['bin/run-ts.mjs', 'scripts/bench-base2new.ts', '--seeds', '1', '--shots', '1', '--test-per-class', '2', '--epochs', '1', '--out-dir', out],
      { cwd: REPO_ROOT, encoding: 'utf8', timeout: 240_000 },
    );
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(readFileSync(join(out, 'base2new.json'), 'utf8')) as Base2NewResult;
    expect(result.rows.map((r) => r.method)).toEqual(['zero-shot', 'coop', 'cocoop']);
    for (const r of result.rows) {
      for (const v of [r.base, r.novel]) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
        expect(Number.isInteger(v * 64)).toBe(true); // 32 classes × 2 test images each
      }
      // A right class has the right color and the right shape: both shares are at least the accuracy.
      const a = r.attributes;
      expect(a.baseColor).toBeGreaterThanOrEqual(r.base);
      expect(a.baseShape).toBeGreaterThanOrEqual(r.base);
      expect(a.novelColor).toBeGreaterThanOrEqual(r.novel);
      expect(a.novelShape).toBeGreaterThanOrEqual(r.novel);
      expect(r.h).toBeCloseTo(r.base + r.novel === 0 ? 0 : (2 * r.base * r.novel) / (r.base + r.novel), 12);
    }
    expect(result.rows[1].trainSeconds).toBeGreaterThan(0);
    const md = readFileSync(join(out, 'base2new.md'), 'utf8');
    expect(md).toContain('<!-- bench:base2new begin -->');
    expect(md).toContain('--seeds 1 --shots 1');
    const cocoop = result.summary.find((s) => s.method === 'cocoop')!;
    expect(md).toContain(`| CoCoOp | ${(cocoop.base.mean * 100).toFixed(1)} `);
    expect(readFileSync(join(out, 'base2new.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
    expect(run.stdout).toMatch(/seed 1 cocoop +base [\d.]+% +new [\d.]+%/);
  });
});
