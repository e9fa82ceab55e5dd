// The job's hyperparameters as the trainer sees them (trainOptionsOf): every field maps, crop_scale included,
// and a job stored before crop_scale existed trains with the trainer's own (official) crop range.
import { describe, expect, it } from 'vitest';
import type { Lease } from '../../../gpu-worker/trainer/edge-client.ts';
import { trainOptionsOf } from '../../../gpu-worker/trainer/run-job.ts';

function lease(method: 'cocoop' | 'coop', hyperparameters: Record<string, unknown>): Lease {
  return { job: { id: 'job_1', status: 'running', dataset_id: 'ds_1', method, hyperparameters } } as unknown as Lease;
}

describe('trainOptionsOf', () => {
  it('maps every hyperparameter, crop_scale to cropScale', () => {
    const hp = { epochs: 3, learning_rate: 0.01, batch_size: 4, n_ctx: null, ctx_init: 'a photo of a', shots: 8, seed: 5, crop_scale: [0.5, 1] };
    expect(trainOptionsOf(lease('cocoop', hp))).toEqual({
      method: 'cocoop',
      epochs: 3,
      shots: 8,
      lr: 0.01,
      batchSize: 4,
      nCtx: undefined,
      ctxInit: 'a photo of a',
      seed: 5,
      cropScale: [0.5, 1],
    });
  });

  it('n_ctx means a random initialisation (no phrase); a missing crop_scale leaves the trainer default', () => {
    const hp = { epochs: 1, learning_rate: 0.002, batch_size: 1, n_ctx: 8, ctx_init: null, shots: 1, seed: 0 };
    const opts = trainOptionsOf(lease('coop', hp));
    expect(opts).toMatchObject({ method: 'coop', nCtx: 8, ctxInit: '' });
    expect(opts.cropScale).toBeUndefined();
  });
});
