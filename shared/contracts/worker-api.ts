// The internal worker API (edge ↔ GPU worker process; under /internal/v1, worker token only), as one set of
// zod schemas: the edge validates requests with them and documents its answers with them
// (edge/routes/trainer-api.ts); the trainer's client (gpu-worker/trainer/edge-client.ts) parses the
// edge's answers with them. The types below are inferred from the schemas, never written twice.
//
//   POST /leases                  LeaseRequest        → 200 Lease (kind training | evaluation) | 204 (nothing to do)
//   POST /jobs/{id}/heartbeat     HeartbeatRequest    → 200 HeartbeatResponse
//   POST /jobs/{id}/events        EventRequest        → 200 TrainingJob
//   POST /jobs/{id}/complete      CompleteRequest     → 200 TrainingJob         (training leases)
//   POST /jobs/{id}/result        ResultRequest       → 200 Evaluation          (evaluation leases)
//   POST /jobs/{id}/fail          FailRequest         → 200 TrainingJob
//   POST /jobs/{id}/cancelled     CancelledRequest    → 200 TrainingJob
// 409 on every /jobs call: the lease is not (or no longer) current, or the job left the leased states.
// An evaluation is leased, heartbeated, logged and failed through the same calls as a training job (one queue);
// only its final report differs (/result instead of /complete; it is never cancelled).
import { z } from 'zod';
import { Evaluation, Scores } from './evaluation.ts';
import { TrainingJob } from './training-job.ts';

export const DEFAULT_LEASE_SECONDS = 120;
export const MAX_LEASE_SECONDS = 3600;

const finite = z.number().refine(Number.isFinite, 'must be a finite number');

export const LeaseId = z.string().min(1).max(64).meta({ description: 'The lease_id from POST /internal/v1/leases.' });

export const LeaseSeconds = z
  .number()
  .int()
  .min(1)
  .max(MAX_LEASE_SECONDS)
  .optional()
  .meta({ description: `How long the lease lasts without a heartbeat (default ${DEFAULT_LEASE_SECONDS}).` });

export const LeaseRequest = z
  .strictObject({
    worker_id: z.string().min(1).max(128).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces').meta({ example: 'gpu-01#1234' }),
    lease_seconds: LeaseSeconds,
    request_id: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
      .optional()
      .meta({
        description:
          'Names this lease request: a retry with the same request_id and worker_id (its answer was lost) gets the same lease back while it is held, not a second job.',
        example: '6f1c2a4e-9b7d-4c1e-8f5a-2d3b4c5d6e7f',
      }),
  })
  .meta({ id: 'LeaseRequest' });
export type LeaseRequest = z.infer<typeof LeaseRequest>;

export const LeaseImage = z.object({
  id: z.string(),
  label: z.string(),
  object_key: z.string(),
  sha256: z
    .string()
    .nullable()
    .meta({ description: 'sha256 of the bytes the edge verified; the worker checks the download against it (null: not recorded).' }),
});
export type LeaseImage = z.infer<typeof LeaseImage>;

const LeasedDataset = z.object({ id: z.string(), images: z.array(LeaseImage) });

const LeaseCommon = {
  tenant_id: z.string(),
  attempts: z.number().int().meta({ description: '1 on the first lease; more when resumed after an expired lease.' }),
  lease_id: z.string(),
  lease_expires_at: z.string(),
};

export const TrainingLease = z
  .object({
    kind: z.literal('training'),
    job: TrainingJob,
    ...LeaseCommon,
    storage: z.object({
      checkpoint_prefix: z.string().meta({ description: "Where this attempt writes its checkpoints (its own prefix: a superseded attempt's writes never reach another's)." }),
      resume_prefixes: z
        .array(z.string())
        .meta({ description: "The earlier attempts' checkpoint prefixes, newest first: a resumed attempt continues from the newest checkpoint among them." }),
      artifact_key: z.string().meta({ description: "Where this attempt uploads the adapter before /complete (its own key)." }),
    }),
    dataset: LeasedDataset,
    validation_dataset: LeasedDataset.nullable().meta({
      description: 'The images of hyperparameters.validation_dataset_id (null: validate on a hold-out of `dataset`, or not at all).',
    }),
  })
  .meta({ id: 'TrainingLease' });
export type TrainingLease = z.infer<typeof TrainingLease>;

/** The published adapter an evaluation scores (null: zero-shot CLIP). */
export const LeasedModel = z.object({
  id: z.string(),
  method: z.enum(['cocoop', 'coop']),
  artifact_key: z.string(),
  sha256: z.string(),
});
export type LeasedModel = z.infer<typeof LeasedModel>;

export const EvaluationLease = z
  .object({
    kind: z.literal('evaluation'),
    evaluation: Evaluation,
    ...LeaseCommon,
    model: LeasedModel.nullable(),
    dataset: LeasedDataset,
  })
  .meta({ id: 'EvaluationLease' });
export type EvaluationLease = z.infer<typeof EvaluationLease>;

export const Lease = z.discriminatedUnion('kind', [TrainingLease, EvaluationLease]).meta({ id: 'Lease' });
export type Lease = z.infer<typeof Lease>;

export const Progress = z.strictObject({
  epoch: z.number().int().min(0).max(1_000_000).optional(),
  epochs: z.number().int().min(0).max(1_000_000).optional(),
  step: z.number().int().min(0).max(1_000_000_000).optional(),
  steps: z.number().int().min(0).max(1_000_000_000).optional(),
});
export type Progress = z.infer<typeof Progress>;

export const Metrics = z.record(z.string().min(1).max(64), finite).refine((r) => Object.keys(r).length <= 32, 'at most 32 metrics');
export type Metrics = z.infer<typeof Metrics>;

export const HeartbeatRequest = z
  .strictObject({ lease_id: LeaseId, lease_seconds: LeaseSeconds, progress: Progress.optional(), metrics: Metrics.optional() })
  .meta({ id: 'HeartbeatRequest' });
export type HeartbeatRequest = z.infer<typeof HeartbeatRequest>;

export const HeartbeatResponse = z.object({ cancel_requested: z.boolean(), lease_expires_at: z.string() }).meta({ id: 'HeartbeatResponse' });
export type HeartbeatResponse = z.infer<typeof HeartbeatResponse>;

export const EventRequest = z
  .strictObject({
    lease_id: LeaseId,
    level: z.enum(['info', 'warn', 'error']),
    type: z.enum(['message', 'metrics']),
    message: z.string().min(1).max(2000),
    data: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'WorkerEventRequest' });
export type EventRequest = z.infer<typeof EventRequest>;
/** An event as the trainer writes it (the client adds the lease). */
export type TrainerEvent = Omit<EventRequest, 'lease_id'>;

export const CompleteRequest = z
  .strictObject({
    lease_id: LeaseId,
    artifact: z.strictObject({
      key: z.string().min(1).max(512),
      bytes: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
      sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex digits'),
    }),
    base_model: z.string().min(1).max(200),
    classes: z.array(z.string().min(1).max(200)).min(1).max(10_000),
    metrics: Metrics,
    train: z
      .strictObject({ loss: finite, accuracy: z.number().min(0).max(1) })
      .optional()
      .meta({ description: "The last epoch's figures (default: from metrics.train_loss / train_accuracy)." }),
    validation: Scores.nullable().optional().meta({ description: 'The held-out figures; null or absent when nothing was held out.' }),
  })
  .meta({ id: 'CompleteRequest' });
export type CompleteRequest = z.infer<typeof CompleteRequest>;

export const ResultRequest = z.strictObject({ lease_id: LeaseId, result: Scores }).meta({ id: 'EvaluationResultRequest' });
export type ResultRequest = z.infer<typeof ResultRequest>;

/** What /events, /fail and the final reports answer: the job or the evaluation as it now is. */
export const LeasedWork = z.union([TrainingJob, Evaluation]).meta({ id: 'LeasedWork' });

export const FailRequest = z
  .strictObject({ lease_id: LeaseId, code: z.string().min(1).max(64), message: z.string().min(1).max(2000) })
  .meta({ id: 'FailRequest' });
export type FailRequest = z.infer<typeof FailRequest>;

export const CancelledRequest = z.strictObject({ lease_id: LeaseId }).meta({ id: 'CancelledRequest' });
export type CancelledRequest = z.infer<typeof CancelledRequest>;
