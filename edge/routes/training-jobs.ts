// Training jobs: POST /v1/training-jobs, GET /v1/training-jobs[/{id}], POST /v1/training-jobs/{id}/cancel,
// GET /v1/training-jobs/{id}/events. Trainers (GPU worker processes) drive the jobs through edge/routes/trainer-api.ts;
// every state change is a function of the job queue (edge/jobs/queue.ts), rows and objects are in edge/jobs/records.ts.
//
// States: queued → running → succeeded | failed | cancelled, with cancelling between a cancel request of a
// running job and its worker stopping. A queued job is cancelled at once.
import { createRoute, z } from '@hono/zod-openapi';
import { METHODS, TrainingJob } from '../../shared/contracts/training-job.ts';
import { requireTenant, tenantIdOf } from '../http/auth.ts';
import { PLAIN_TEXT_RULE, isPlainText } from '../http/text.ts';
import { idempotencyCommit, idempotent } from '../http/idempotency.ts';
import {
  IdempotencyHeaders,
  JSON_BODY_ERRORS,
  SECURITY,
  V1_ERRORS,
  errorResponses,
  jsonBody,
  jsonResponse,
  newRouter,
} from '../http/openapi.ts';
import { PaginationQuery, pageSchema } from '../http/pagination.ts';
import { cancelJob, enqueueJob } from '../jobs/queue.ts';
import { MAX_VALIDATION_SPLIT } from '../../shared/contracts/training-job.ts';
import { DEFAULT_HYPERPARAMETERS, jobObject, listJobEvents, listJobs, requireTenantJob, withDefaults } from '../jobs/records.ts';

// ---- schemas --------------------------------------------------------------------------------

const CropScaleInput = z
  .tuple([z.number().gt(0).max(1), z.number().gt(0).max(1)])
  .refine(([lo, hi]) => lo <= hi, 'the first number (smallest crop area) must not exceed the second')
  .openapi({
    description:
      'Area range [min, max] in (0, 1] of the random-resized-crop training views (default [0.08, 1], the official recipe). ' +
      'Raise min (e.g. [0.5, 1]) for small images whose object a small crop would cut away.',
    example: [0.5, 1],
    // A 3.1 tuple is `prefixItems`; `items` too, for tools that read only that (generators, linters).
    items: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
  });

const HyperparametersInput = z
  .strictObject({
    epochs: z.number().int().min(1).max(100).optional().openapi({ description: `Training epochs, 1..100 (default ${DEFAULT_HYPERPARAMETERS.epochs}).` }),
    learning_rate: z
      .number()
      .gt(0)
      .max(1)
      .optional()
      .openapi({ description: `SGD learning rate, in (0, 1] (default ${DEFAULT_HYPERPARAMETERS.learning_rate}).` }),
    batch_size: z.number().int().min(1).max(64).optional().openapi({ description: `Images per step, 1..64 (default ${DEFAULT_HYPERPARAMETERS.batch_size}).` }),
    n_ctx: z
      .number()
      .int()
      .min(1)
      .max(16)
      .optional()
      .openapi({ description: 'Context vectors with a random initialisation, 1..16. Give either n_ctx or ctx_init, not both.' }),
    ctx_init: z
      .string()
      .min(1)
      .max(200)
      .refine((s) => s.trim().length > 0, 'must contain a non-space character')
      .refine(isPlainText, PLAIN_TEXT_RULE)
      .optional()
      .openapi({ description: `The phrase the context vectors start from (default "${DEFAULT_HYPERPARAMETERS.ctx_init}"); one vector per token.` }),
    shots: z.number().int().min(1).max(1000).optional().openapi({ description: `Training images per class, 1..1000 (default ${DEFAULT_HYPERPARAMETERS.shots}).` }),
    seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional().openapi({ description: `Random seed, an integer ≥ 0 (default ${DEFAULT_HYPERPARAMETERS.seed}).` }),
    crop_scale: CropScaleInput.optional(),
    validation_split: z
      .number()
      .min(0)
      .max(MAX_VALIDATION_SPLIT)
      .optional()
      .openapi({
        description:
          `Share of each class's images held out for validation, in [0, ${MAX_VALIDATION_SPLIT}] (default ${DEFAULT_HYPERPARAMETERS.validation_split}): ` +
          'floor(n × split) per class, at least 1 when the class has 2 or more images; 0 holds nothing out. ' +
          'The hold-out and the shots are drawn at random with `seed`.',
        example: 0.2,
      }),
    validation_dataset_id: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .openapi({
        description:
          'Validate on this ready dataset of your tenant instead of a hold-out (its labels must all be training labels; nothing is held out). ' +
          'Give either validation_dataset_id or validation_split, not both.',
        example: 'ds_0m3k9x2qa4f7hz81kd0p3r',
      }),
  })
  .openapi('HyperparametersInput');

const Metadata = z
  .record(z.string().min(1).max(40).refine(isPlainText, PLAIN_TEXT_RULE), z.string().max(500).refine(isPlainText, PLAIN_TEXT_RULE))
  .refine((r) => Object.keys(r).length <= 16, 'at most 16 keys are allowed')
  .openapi({ description: 'Your own key → value strings (at most 16 keys of ≤ 40 characters, values ≤ 500).', example: { project: 'birds' } });

const CreateJobRequest = z
  .strictObject({
    dataset_id: z.string().min(1).max(128).openapi({ description: 'A ready dataset of your tenant.', example: 'ds_0m3k9x2qa4f7hz81kd0p3q' }),
    method: z.enum(METHODS).openapi({ description: '`cocoop` (image-conditioned prompts) or `coop` (static prompts).' }),
    hyperparameters: HyperparametersInput.optional(),
    metadata: Metadata.optional(),
  })
  .superRefine((v, ctx) => {
    if (v.hyperparameters?.n_ctx !== undefined && v.hyperparameters.ctx_init !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['hyperparameters', 'n_ctx'],
        message: 'give either n_ctx (random initialisation) or ctx_init (initialisation from a phrase), not both',
      });
    }
    if (v.hyperparameters?.validation_split !== undefined && v.hyperparameters.validation_dataset_id !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['hyperparameters', 'validation_split'],
        message: 'give either validation_split (a hold-out of the dataset) or validation_dataset_id (another dataset), not both',
      });
    }
  })
  .openapi('CreateTrainingJobRequest');

const JobEventSchema = z
  .object({
    id: z.string(),
    created_at: z.string(),
    level: z.enum(['info', 'warn', 'error']),
    type: z.enum(['message', 'metrics']),
    message: z.string(),
    data: z.unknown().optional(),
  })
  .openapi('TrainingJobEvent');

const JobParams = z.object({
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, description: 'The job id (`job_…`).', example: 'job_0m3k9x2qa4f7hz81kd0p3q' }),
});

// ---- routes ---------------------------------------------------------------------------------

const tags = ['Training jobs'];

const createJobRoute = createRoute({
  method: 'post',
  path: '/v1/training-jobs',
  operationId: 'createTrainingJob',
  tags,
  summary: 'Create a training job',
  description:
    'Queues a job that adapts CLIP to a ready dataset. Missing hyperparameters get their defaults (stored on the job). ' +
    'By default 20% of each class is held out for validation; a succeeded job reports `result.validation`. ' +
    '404 unknown dataset or validation dataset, 409 a dataset not ready or the tenant already has its quota of queued/running jobs, ' +
    '422 a validation dataset with labels the training dataset lacks.',
  security: SECURITY.tenant,
  middleware: [
    requireTenant,
    idempotent({
      // A retry whose first request committed the job but never stored its answer gets the job.
      atomic: { replay: async (c, id) => ({ status: 201, body: jobObject(await requireTenantJob(c.var.ports.db, tenantIdOf(c), id)) }) },
    }),
  ] as const,
  request: { headers: IdempotencyHeaders, body: jsonBody(CreateJobRequest) },
  responses: {
    201: jsonResponse(TrainingJob, 'The queued job.'),
    ...errorResponses(...V1_ERRORS, ...JSON_BODY_ERRORS, 404, 409),
  },
});

const getJobRoute = createRoute({
  method: 'get',
  path: '/v1/training-jobs/{id}',
  operationId: 'getTrainingJob',
  tags,
  summary: 'Get a training job',
  description: 'The job with its status, hyperparameters, progress (epoch, step, ETA while running), `result` when succeeded and `error` when failed.',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { params: JobParams },
  responses: { 200: jsonResponse(TrainingJob, 'The job.'), ...errorResponses(...V1_ERRORS, 404) },
});

const listJobsRoute = createRoute({
  method: 'get',
  path: '/v1/training-jobs',
  operationId: 'listTrainingJobs',
  tags,
  summary: 'List training jobs',
  description: 'Newest first.',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { query: PaginationQuery },
  responses: { 200: jsonResponse(pageSchema(TrainingJob, 'TrainingJobList'), 'A page of jobs.'), ...errorResponses(...V1_ERRORS, 422) },
});

const cancelJobRoute = createRoute({
  method: 'post',
  path: '/v1/training-jobs/{id}/cancel',
  operationId: 'cancelTrainingJob',
  tags,
  summary: 'Cancel a training job',
  description:
    'A queued job is cancelled at once; a running job becomes `cancelling` until its worker stops. 409 when the job is already final.',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { params: JobParams },
  responses: { 200: jsonResponse(TrainingJob, 'The job after the request.'), ...errorResponses(...V1_ERRORS, 404, 409) },
});

const listEventsRoute = createRoute({
  method: 'get',
  path: '/v1/training-jobs/{id}/events',
  operationId: 'listTrainingJobEvents',
  tags,
  summary: 'List the events of a training job',
  description: 'Oldest first.',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { params: JobParams, query: PaginationQuery },
  responses: {
    200: jsonResponse(pageSchema(JobEventSchema, 'TrainingJobEventList'), 'A page of events.'),
    ...errorResponses(...V1_ERRORS, 404, 422),
  },
});

// ---- handlers -------------------------------------------------------------------------------

export function trainingJobRoutes() {
  const app = newRouter();

  app.openapi(createJobRoute, async (c) => {
    const body = c.req.valid('json');
    const job = await enqueueJob(
      c.var.ports.db,
      {
        tenantId: c.var.tenant.tenantId,
        datasetId: body.dataset_id,
        method: body.method,
        hyperparameters: withDefaults(body.hyperparameters ?? {}),
        metadata: body.metadata ?? {},
        maxConcurrent: c.var.config.quotas.concurrent_jobs,
      },
      idempotencyCommit(c, (id: string) => ({ status: 201, resourceId: id })),
    );
    return c.json(job, 201);
  });

  app.openapi(getJobRoute, async (c) => {
    const row = await requireTenantJob(c.var.ports.db, c.var.tenant.tenantId, c.req.valid('param').id);
    return c.json(jobObject(row), 200);
  });

  app.openapi(listJobsRoute, async (c) => c.json(await listJobs(c.var.ports.db, c.var.tenant.tenantId, c.req.valid('query')), 200));

  app.openapi(cancelJobRoute, async (c) => c.json(await cancelJob(c.var.ports.db, { tenantId: c.var.tenant.tenantId, jobId: c.req.valid('param').id }), 200));

  app.openapi(listEventsRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { tenantId } = c.var.tenant;
    const { db } = c.var.ports;
    await requireTenantJob(db, tenantId, id);
    return c.json(await listJobEvents(db, tenantId, id, c.req.valid('query')), 200);
  });

  return app;
}
