// The job's hyperparameters as the trainer sees them (trainOptionsOf): every field maps, crop_scale included (the
// lease contract requires it: a lease without it is refused by the client, edge-client.test.ts).
import { describe, expect, it } from 'vitest';
import { trainOptionsOf } from '../../../gpu-worker/trainer/run-job.ts';
import { testLease } from './lease-fixture.ts';

describe('trainOptionsOf', () => {
  it('maps every hyperparameter, crop_scale to cropScale', () => {
    const hyperparameters = { epochs: 3, learning_rate: 0.01, batch_size: 4, n_ctx: null, ctx_init: 'a photo of a', shots: 8, seed: 5, crop_scale: [0.5, 1] as [number, number], validation_split: 0.2, validation_dataset_id: null };
    expect(trainOptionsOf(testLease({ method: 'cocoop', hyperparameters }))).toEqual({
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

  it('n_ctx means a random initialisation (no phrase); no ctx_init and no n_ctx is the default phrase', () => {
    const hp = { epochs: 1, learning_rate: 0.002, batch_size: 1, n_ctx: 8, ctx_init: null, shots: 1, seed: 0, crop_scale: [0.08, 1] as [number, number], validation_split: 0, validation_dataset_id: null };
    expect(trainOptionsOf(testLease({ method: 'coop', hyperparameters: hp }))).toMatchObject({ method: 'coop', nCtx: 8, ctxInit: '' });
    expect(trainOptionsOf(testLease({ hyperparameters: { ...hp, n_ctx: null } })).ctxInit).toBe('a photo of a');
  });
});
