// The inference server's metrics registry (gpu-worker/serve/metrics.ts) on its own: the trainer figures follow the
// trainer's state (busy while it holds a job; finished work counted by outcome), the adapter-cache counters follow the
// cache's figures, and the exposition parses as strict Prometheus text.
import { describe, expect, it } from 'vitest';
import { InferenceMetrics, type TrainerStatus } from '../../../gpu-worker/serve/metrics.ts';
import { parsePrometheusText, sampleValue } from '../../helpers/prometheus-text.ts';

describe('InferenceMetrics', () => {
  it('reports the trainer it watches and the adapter cache, at each scrape', async () => {
    const cache = { hits: 3, misses: 1, size: 1 };
    const metrics = new InferenceMetrics(() => cache);
    const trainer: { current: string | null; outcomes: TrainerStatus['outcomes'][number][] } = { current: 'job_1', outcomes: [] };
    metrics.watchTrainer(trainer);
    let m = parsePrometheusText(await metrics.render());
    expect(sampleValue(m, 'worker_trainer_busy')).toBe(1);
    expect(sampleValue(m, 'worker_trainer_jobs_total', { outcome: 'succeeded' })).toBe(0);
    expect([sampleValue(m, 'inference_adapter_cache_hits_total'), sampleValue(m, 'inference_adapter_cache_misses_total')]).toEqual([3, 1]);

    trainer.current = null;
    trainer.outcomes.push({ outcome: 'succeeded' }, { outcome: 'failed' }, { outcome: 'succeeded' }, { outcome: 'lease_lost' });
    cache.hits = 5;
    m = parsePrometheusText(await metrics.render());
    expect(sampleValue(m, 'worker_trainer_busy')).toBe(0);
    expect(
      Object.fromEntries(['succeeded', 'failed', 'cancelled', 'lease_lost', 'abandoned'].map((o) => [o, sampleValue(m, 'worker_trainer_jobs_total', { outcome: o })])),
    ).toEqual({ succeeded: 2, failed: 1, cancelled: 0, lease_lost: 1, abandoned: 0 });
    expect(sampleValue(m, 'inference_adapter_cache_hits_total')).toBe(5);
    expect(m.get('worker_trainer_jobs_total')?.type).toBe('counter');
  });

  it('observes batch sizes and batch times as histograms', async () => {
    const metrics = new InferenceMetrics(() => ({ hits: 0, misses: 0, size: 0 }));
    metrics.imageBatch.observe(4);
    metrics.imageBatch.observe(32);
    metrics.batchLatency.observe(0.2);
    const m = parsePrometheusText(await metrics.render());
    expect(sampleValue(m, 'inference_image_batch_size_bucket', { le: '4' })).toBe(1);
    expect(sampleValue(m, 'inference_image_batch_size_bucket', { le: '32' })).toBe(2);
    expect(sampleValue(m, 'inference_image_batch_size_sum')).toBe(36);
    expect(sampleValue(m, 'inference_batch_duration_seconds_bucket', { le: '0.25' })).toBe(1);
    expect(sampleValue(m, 'inference_batch_duration_seconds_bucket', { le: '0.1' })).toBe(0);
  });
});
