// Smoke run of `cocoop bench` on the tiny preset: both paths are timed and they computed the same logits.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeModel } from '../../../gpu-worker/clip/make-model.ts';
import { loadClipModel } from '../../../gpu-worker/clip/model.ts';
import { OrtClipEncoders } from '../../../gpu-worker/clip/ort-encoders.ts';
import { benchLabels, runCocoopBench } from '../../../gpu-worker/cocoop/bench.ts';
import { initTfBackend } from '../../../gpu-worker/runtime/tf-backend.ts';
import { CLIP_VOCAB } from '../../helpers/cli.ts';
import { useTmpDir } from '../../helpers/tmp.ts';

const dir = join(useTmpDir('cocoop-bench-'), 'model');

describe('cocoop bench (smoke, tiny preset)', () => {
  let encoders: OrtClipEncoders | undefined;
  afterAll(async () => encoders?.release());

  it('times optimized and naive paths whose logits agree', async () => {
    await initTfBackend({ log: () => {} });
    makeModel({ preset: 'tiny', seed: 4, out: dir, vocabDir: CLIP_VOCAB });
    encoders = new OrtClipEncoders(loadClipModel(dir), { log: () => {} });
    const r = await runCocoopBench(encoders.model, encoders, { classes: 6, images: 3, naive: true, trainSteps: 1, log: () => {} });
    expect(r.logits_max_rel_diff).toBeLessThan(1e-4);
    for (const path of [r.optimized, r.naive!]) {
      expect(path.infer_images_per_s).toBeGreaterThan(0);
      expect(path.train_s_per_step).toBeGreaterThan(0);
      expect(path.peak_rss_mb).toBeGreaterThan(10);
    }
  }, 120_000);

  it('makes distinct synthetic labels for any class count', () => {
    for (const c of [2, 10, 100, 250]) expect(new Set(benchLabels(c)).size).toBe(c);
  });
});
