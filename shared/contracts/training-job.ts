// The training job object, as the public API returns it (GET /v1/training-jobs/{id}) and as a lease hands
// it to a trainer (shared/contracts/worker-api.ts). Plain zod with `.meta()` (read by the edge's OpenAPI
// generator: `id` names the component), so the GPU worker process can parse with it without Hono.
import { z } from 'zod';
import { TrainingResult } from './evaluation.ts';

export const JOB_STATES = ['queued', 'running', 'cancelling', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATES)[number];

export const METHODS = ['cocoop', 'coop'] as const;

/** Largest validation_split: at least half of every class stays for training (gpu-worker/cocoop/sampling.ts). */
export const MAX_VALIDATION_SPLIT = 0.5;
export type Method = (typeof METHODS)[number];

/** Complete hyperparameters, with the defaults applied by the edge when the job was created. */
export const Hyperparameters = z
  .object({
    epochs: z.number().int(),
    learning_rate: z.number(),
    batch_size: z.number().int(),
    /** Random initialisation with this many context vectors; null = initialised from ctx_init. */
    n_ctx: z.number().int().nullable(),
    /** The phrase the context vectors start from; null when n_ctx is given. */
    ctx_init: z.string().nullable(),
    shots: z.number().int(),
    seed: z.number().int(),
    /** RandomResizedCrop area range of the training views, [min, max] in (0, 1]. */
    crop_scale: z.tuple([z.number(), z.number()]).meta({ items: { type: 'number' } }),
    /** Share of each class's images held out for validation (0: none; ignored with validation_dataset_id). */
    validation_split: z.number(),
    /** A ready dataset of the tenant validated on instead of a hold-out; null: the hold-out. */
    validation_dataset_id: z.string().nullable(),
  })
  .meta({ id: 'Hyperparameters', description: 'Complete, with the defaults applied.' });
export type Hyperparameters = z.infer<typeof Hyperparameters>;

export const TrainingJob = z
  .object({
    id: z.string().meta({ example: 'job_0m3k9x2qa4f7hz81kd0p3q' }),
    dataset_id: z.string(),
    method: z.enum(METHODS),
    status: z.enum(JOB_STATES),
    hyperparameters: Hyperparameters,
    metadata: z.record(z.string(), z.string()),
    progress: z.object({ epoch: z.number().int(), epochs: z.number().int(), step: z.number().int(), steps: z.number().int() }),
    metrics: z.record(z.string(), z.number()).meta({ description: 'train_loss, train_accuracy, val_accuracy when known.' }),
    model_id: z.string().nullable(),
    result: TrainingResult.nullable().meta({ description: 'Set when the job succeeded: last-epoch training figures and the validation block.' }),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    created_at: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
  })
  .meta({ id: 'TrainingJob' });
export type TrainingJob = z.infer<typeof TrainingJob>;
