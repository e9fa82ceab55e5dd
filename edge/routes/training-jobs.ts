// Training jobs: POST /v1/training-jobs, GET /v1/training-jobs[/{id}], POST /v1/training-jobs/{id}/cancel,
// GET /v1/training-jobs/{id}/events. Trainers (GPU worker processes) drive the jobs through edge/routes/trainer-api.ts.
//
// States: queued → running → succeeded | failed | cancelled, with cancelling between a cancel request of a
// running job and its worker stopping. A queued job is cancelled at once.
import { createRoute, z } from '@hono/zod-openapi';
import { requireTenant } from '../http/auth.ts';
import { PLAIN_TEXT_RULE, isPlainText } from '../http/text.ts';
import { conflict, notFound } from '../http/errors.ts';
import { idempotent } from '../http/idempotency.ts';
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
import { PaginationQuery, listPage, pageSchema } from '../http/pagination.ts';
import { newId } from '../ids.ts';
import {
  DEFAULT_CROP_SCALE,
  FINAL_JOB_STATES,
  type Hyperparameters,
  type JobRow,
  JOB_STATES,
  guardedEventStatement,
  isConstraintError,
  jobObject,
  tenantJob,
  webhookData,
} from '../jobs/records.ts';
import { jobWebhookStatements } from '../jobs/webhook-events.ts';
import { ACTIVE_JOB_STATES } from '../tenants/usage.ts';

// ---- schemas --------------------------------------------------------------------------------

export const DEFAULT_HYPERPARAMETERS = {
  epochs: 10,
  learning_rate: 0.002,
  batch_size: 1,
  ctx_init: 'a photo of a',
  shots: 16,
  seed: 1,
  crop_scale: DEFAULT_CROP_SCALE,
} as const;

const CropScaleInput = z
  .tuple([z.number().gt(0).max(1), z.number().gt(0).max(1)])
  .refine(([lo, hi]) => lo <= hi, 'the first number (smallest crop area) must not exceed the second')
  .openapi({
    description:
      'Area range [min, max] in (0, 1] of the random-resized-crop training views (default [0.08, 1], the official recipe). ' +
      'Raise min (e.g. [0.5, 1]) for small images whose object a small crop would cut away.',
    example: [0.5, 1],
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
  })
  .openapi('HyperparametersInput');

const Metadata = z
  .record(z.string().min(1).max(40).refine(isPlainText, PLAIN_TEXT_RULE), z.string().max(500).refine(isPlainText, PLAIN_TEXT_RULE))
  .refine((r) => Object.keys(r).length <= 16, 'at most 16 keys are allowed')
  .openapi({ description: 'Your own key → value strings (at most 16 keys of ≤ 40 characters, values ≤ 500).', example: { project: 'birds' } });

const CreateJobRequest = z
  .strictObject({
    dataset_id: z.string().min(1).max(128).openapi({ description: 'A ready dataset of your tenant.', example: 'ds_0m3k9x2qa4f7hz81kd0p3q' }),
    method: z.enum(['cocoop', 'coop']).openapi({ description: '`cocoop` (image-conditioned prompts) or `coop` (static prompts).' }),
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
  })
  .openapi('CreateTrainingJobRequest');

const HyperparametersSchema = z
  .object({
    epochs: z.number().int(),
    learning_rate: z.number(),
    batch_size: z.number().int(),
    n_ctx: z.number().int().nullable(),
    ctx_init: z.string().nullable(),
    shots: z.number().int(),
    seed: z.number().int(),
    crop_scale: z.tuple([z.number(), z.number()]),
  })
  .openapi('Hyperparameters', { description: 'Complete, with the defaults applied.' });

export const JobSchema = z
  .object({
    id: z.string().openapi({ example: 'job_0m3k9x2qa4f7hz81kd0p3q' }),
    dataset_id: z.string(),
    method: z.enum(['cocoop', 'coop']),
    status: z.enum(JOB_STATES),
    hyperparameters: HyperparametersSchema,
    metadata: z.record(z.string(), z.string()),
    progress: z.object({ epoch: z.number().int(), epochs: z.number().int(), step: z.number().int(), steps: z.number().int() }),
    metrics: z.record(z.string(), z.number()).openapi({ description: 'train_loss, train_accuracy, val_accuracy when known.' }),
    model_id: z.string().nullable(),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    created_at: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
  })
  .openapi('TrainingJob');

export const JobEventSchema = z
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
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, example: 'job_0m3k9x2qa4f7hz81kd0p3q' }),
});

// ---- routes ---------------------------------------------------------------------------------

const tags = ['Training jobs'];

const createJob = createRoute({
  method: 'post',
  path: '/v1/training-jobs',
  tags,
  summary: 'Create a training job',
  description:
    'Queues a job that adapts CLIP to a ready dataset. Missing hyperparameters get their defaults (stored on the job). ' +
    '409 when the dataset is not ready or the tenant already has its quota of queued/running jobs.',
  security: SECURITY.tenant,
  middleware: [requireTenant, idempotent()] as const,
  request: { headers: IdempotencyHeaders, body: jsonBody(CreateJobRequest) },
  responses: {
    201: jsonResponse(JobSchema, 'The queued job.'),
    ...errorResponses(...V1_ERRORS, ...JSON_BODY_ERRORS, 404, 409),
  },
});

const getJob = createRoute({
  method: 'get',
  path: '/v1/training-jobs/{id}',
  tags,
  summary: 'Get a training job',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { params: JobParams },
  responses: { 200: jsonResponse(JobSchema, 'The job.'), ...errorResponses(...V1_ERRORS, 404) },
});

const listJobs = createRoute({
  method: 'get',
  path: '/v1/training-jobs',
  tags,
  summary: 'List training jobs',
  description: 'Newest first.',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { query: PaginationQuery },
  responses: { 200: jsonResponse(pageSchema(JobSchema, 'TrainingJobList'), 'A page of jobs.'), ...errorResponses(...V1_ERRORS, 422) },
});

const cancelJob = createRoute({
  method: 'post',
  path: '/v1/training-jobs/{id}/cancel',
  tags,
  summary: 'Cancel a training job',
  description:
    'A queued job is cancelled at once; a running job becomes `cancelling` until its worker stops. 409 when the job is already final.',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { params: JobParams },
  responses: { 200: jsonResponse(JobSchema, 'The job after the request.'), ...errorResponses(...V1_ERRORS, 404, 409) },
});

const listEvents = createRoute({
  method: 'get',
  path: '/v1/training-jobs/{id}/events',
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

function quoteId(id: string): string {
  return JSON.stringify(id.length > 64 ? `${id.slice(0, 64)}…` : id);
}

const noJob = (id: string) => notFound(`No training job with id ${quoteId(id)} in your tenant.`, 'id');

export interface EventRow {
  id: string;
  created_at: string;
  level: 'info' | 'warn' | 'error';
  type: 'message' | 'metrics';
  message: string;
  data: string | null;
}

export function eventObject(row: EventRow) {
  return {
    id: row.id,
    created_at: row.created_at,
    level: row.level,
    type: row.type,
    message: row.message,
    ...(row.data !== null ? { data: JSON.parse(row.data) as unknown } : {}),
  };
}

export function trainingJobRoutes() {
  const app = newRouter();

  app.openapi(createJob, async (c) => {
    const body = c.req.valid('json');
    const { tenantId } = c.var.tenant;
    const { db } = c.var.ports;
    const quota = c.var.config.quotas.concurrent_jobs;

    const dataset = await db
      .prepare('SELECT status FROM datasets WHERE id = ? AND tenant_id = ?')
      .bind(body.dataset_id, tenantId)
      .first<{ status: string }>();
    if (!dataset) throw notFound(`No dataset with id ${quoteId(body.dataset_id)} in your tenant.`, 'dataset_id');
    if (dataset.status !== 'ready') {
      throw conflict(`Dataset ${quoteId(body.dataset_id)} is still "${dataset.status}"; finalize it (POST /v1/datasets/{id}/finalize) before training.`, 'dataset_id');
    }

    const hp = body.hyperparameters ?? {};
    const hyperparameters: Hyperparameters = {
      epochs: hp.epochs ?? DEFAULT_HYPERPARAMETERS.epochs,
      learning_rate: hp.learning_rate ?? DEFAULT_HYPERPARAMETERS.learning_rate,
      batch_size: hp.batch_size ?? DEFAULT_HYPERPARAMETERS.batch_size,
      n_ctx: hp.n_ctx ?? null,
      ctx_init: hp.n_ctx !== undefined ? null : (hp.ctx_init ?? DEFAULT_HYPERPARAMETERS.ctx_init),
      shots: hp.shots ?? DEFAULT_HYPERPARAMETERS.shots,
      seed: hp.seed ?? DEFAULT_HYPERPARAMETERS.seed,
      crop_scale: hp.crop_scale ?? [...DEFAULT_HYPERPARAMETERS.crop_scale],
    };

    const id = newId('job');
    const now = new Date();
    const active = ACTIVE_JOB_STATES.map((s) => `'${s}'`).join(', ');
    // One guarded INSERT: the quota and the dataset state are checked in the same statement, so two
    // concurrent creates cannot both pass the quota.
    const insert = db
      .prepare(
        `INSERT INTO training_jobs (id, tenant_id, dataset_id, method, status, hyperparameters, metadata, progress, metrics, created_at)
         SELECT ?, ?, ?, ?, 'queued', ?, ?, ?, '{}', ?
         WHERE (SELECT COUNT(*) FROM training_jobs WHERE tenant_id = ? AND status IN (${active})) < ?
           AND EXISTS (SELECT 1 FROM datasets WHERE id = ? AND tenant_id = ? AND status = 'ready')`,
      )
      .bind(
        id,
        tenantId,
        body.dataset_id,
        body.method,
        JSON.stringify(hyperparameters),
        JSON.stringify(body.metadata ?? {}),
        JSON.stringify({ epoch: 0, epochs: hyperparameters.epochs, step: 0, steps: 0 }),
        now.toISOString(),
        tenantId,
        quota,
        body.dataset_id,
        tenantId,
      );
    try {
      await db.batch([
        insert,
        guardedEventStatement(db, { jobId: id, tenantId, level: 'info', type: 'message', message: `Job queued (${body.method}).`, now }),
      ]);
    } catch (err) {
      if (!isConstraintError(err)) throw err;
      throw conflict(
        `Your tenant already has ${quota} training job${quota === 1 ? '' : 's'} queued or running (the concurrent_jobs quota); ` +
          'wait for one to finish or cancel one, then retry.',
      );
    }
    const row = await tenantJob(db, tenantId, id);
    return c.json(jobObject(row!), 201);
  });

  app.openapi(getJob, async (c) => {
    const { id } = c.req.valid('param');
    const row = await tenantJob(c.var.ports.db, c.var.tenant.tenantId, id);
    if (!row) throw noJob(id);
    return c.json(jobObject(row), 200);
  });

  app.openapi(listJobs, async (c) => {
    const page = await listPage<JobRow>(
      c.var.ports.db,
      { from: 'training_jobs', where: 'tenant_id = ?', binds: [c.var.tenant.tenantId], order: 'desc' },
      c.req.valid('query'),
    );
    return c.json({ data: page.data.map(jobObject), has_more: page.has_more }, 200);
  });

  app.openapi(cancelJob, async (c) => {
    const { id } = c.req.valid('param');
    const { tenantId } = c.var.tenant;
    const { db } = c.var.ports;
    // A few rounds: the state may move (a worker leasing the queued job) between reading and writing.
    for (let round = 0; round < 5; round++) {
      const row = await tenantJob(db, tenantId, id);
      if (!row) throw noJob(id);
      if (FINAL_JOB_STATES.includes(row.status)) {
        throw conflict(`Training job ${quoteId(id)} is already ${row.status}; only queued or running jobs can be cancelled.`);
      }
      if (row.status === 'cancelling') return c.json(jobObject(row), 200);
      const now = new Date();
      try {
        if (row.status === 'queued') {
          const after = jobObject({ ...row, status: 'cancelled', finished_at: now.toISOString() });
          await db.batch([
            db
              .prepare(`UPDATE training_jobs SET status = 'cancelled', finished_at = ? WHERE id = ? AND tenant_id = ? AND status = 'queued'`)
              .bind(now.toISOString(), id, tenantId),
            guardedEventStatement(db, { jobId: id, tenantId, level: 'info', type: 'message', message: 'Job cancelled before it started.', now }),
            ...(await jobWebhookStatements(db, tenantId, 'training_job.cancelled', webhookData(after), now)),
          ]);
        } else {
          await db.batch([
            db.prepare(`UPDATE training_jobs SET status = 'cancelling' WHERE id = ? AND tenant_id = ? AND status = 'running'`).bind(id, tenantId),
            guardedEventStatement(db, { jobId: id, tenantId, level: 'info', type: 'message', message: 'Cancel requested; waiting for the worker to stop.', now }),
          ]);
        }
      } catch (err) {
        if (!isConstraintError(err)) throw err;
        continue; // the job moved on: look again
      }
      return c.json(jobObject((await tenantJob(db, tenantId, id))!), 200);
    }
    throw conflict(`Training job ${quoteId(id)} is changing state; retry the cancel.`);
  });

  app.openapi(listEvents, async (c) => {
    const { id } = c.req.valid('param');
    const { tenantId } = c.var.tenant;
    const { db } = c.var.ports;
    const row = await tenantJob(db, tenantId, id);
    if (!row) throw noJob(id);
    const page = await listPage<EventRow>(
      db,
      { from: 'job_events', columns: 'id, created_at, level, type, message, data', where: 'job_id = ? AND tenant_id = ?', binds: [id, tenantId], order: 'asc' },
      c.req.valid('query'),
    );
    return c.json({ data: page.data.map(eventObject), has_more: page.has_more }, 200);
  });

  return app;
}
