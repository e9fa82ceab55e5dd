// A lease as the edge sends it (it parses with shared/contracts/worker-api.ts Lease), for the trainer's unit tests.
import type { TrainingLease } from '../../../shared/contracts/worker-api.ts';

/** A valid lease of job_1 with `job` fields and top-level fields overridden. */
export function testLease(job: Partial<TrainingLease['job']> = {}, extra: Partial<Omit<TrainingLease, 'job'>> = {}): TrainingLease {
  const now = new Date().toISOString();
  return {
    kind: 'training',
    job: {
      id: 'job_1',
      dataset_id: 'ds_1',
      method: 'cocoop',
      status: 'running',
      hyperparameters: { epochs: 2, learning_rate: 0.002, batch_size: 1, n_ctx: null, ctx_init: 'a photo of a', shots: 16, seed: 1, crop_scale: [0.08, 1], validation_split: 0, validation_dataset_id: null },
      metadata: {},
      progress: { epoch: 0, epochs: 2, step: 0, steps: 0 },
      metrics: {},
      model_id: null,
      result: null,
      error: null,
      created_at: now,
      started_at: now,
      finished_at: null,
      ...job,
    },
    tenant_id: 'ten_1',
    attempts: 1,
    lease_id: 'lse_1',
    lease_expires_at: now,
    storage: {
      checkpoint_prefix: 'tenants/ten_1/jobs/job_1/attempts/1/checkpoints/',
      resume_prefixes: [],
      artifact_key: 'tenants/ten_1/models/mdl_1/attempts/1/adapter.safetensors',
    },
    dataset: { id: 'ds_1', images: [] },
    validation_dataset: null,
    ...extra,
  };
}
