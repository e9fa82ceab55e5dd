// Smoke run of `npm run bench:clip` on the tiny preset: the report's numbers are present and
// consistent, and the two backends it times computed the same features.
import { describe, expect, it } from 'vitest';
import { benchMarkdown, runClipBench } from '../../scripts/bench-clip.ts';

describe('bench:clip (smoke, tiny preset)', () => {
  it('times both backends against a measured ceiling, and they agree on the benchmarked inputs', async () => {
    const r = await runClipBench({ preset: 'tiny', quick: true, threads: 2, textBatch: 8, log: () => {} });
    expect(r.settings.preset).toBe('tiny');
    expect(r.agreement.text_max_rel_diff).toBeLessThan(1e-4);
    expect(r.agreement.image_max_rel_diff).toBeLessThan(1e-4);
    for (const rate of [r.ort.image_b1, r.ort.image_b4, r.ort.text_l10, r.ort.text_l77, r.tf.image_b1, r.tf.text_l10, r.tf.text_l77]) {
      expect(rate.per_s).toBeGreaterThan(0);
      expect(rate.median_per_s).toBeLessThanOrEqual(rate.per_s); // best ≥ median by construction
    }
    expect(r.ceiling.ort_matmul_gflops).toBeGreaterThan(0);
    const md = benchMarkdown(r, 'npm run bench:clip -- --preset tiny');
    expect(md).toContain('npm run bench:clip -- --preset tiny');
    expect(md).toContain(r.settings.machine);
    expect(md.split('\n').filter((l) => l.startsWith('| ORT') || l.startsWith('| TF.js') || l.startsWith('| same'))).toHaveLength(9);
    expect(r.tf.text_l10_train_step_builtin_grads.per_s).toBeGreaterThan(0);
  });
});
