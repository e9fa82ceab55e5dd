// The internal worker API (worker token only), under /internal/v1:
//   POST /internal/v1/leases                    take the oldest queued job (or one whose lease expired)
//   POST /internal/v1/jobs/{id}/heartbeat       extend the lease, report progress; answers cancel_requested
//   POST /internal/v1/jobs/{id}/events          append an event to the job's log
//   POST /internal/v1/jobs/{id}/complete        publish the model: job succeeded + model row + webhooks, one batch
//   POST /internal/v1/jobs/{id}/fail            job failed (+ webhooks)
//   POST /internal/v1/jobs/{id}/cancelled       the worker stopped after a cancel request (+ webhooks)
// Every call after the lease names its lease_id; a lease that is no longer the job's current one is 409,
// so a worker whose lease expired (and whose job another worker resumed) can never finish the job.
// A job gets at most config.maxJobAttempts leases: when its lease expires after the last one, the next
// lease request finishes it instead (failed with `too_many_attempts`, or cancelled when a cancel was pending).
import { createRoute, z } from '@hono/zod-openapi';
import { requireWorker } from '../http/auth.ts';
import { randomString } from '../crypto.ts';
import { ApiError, conflict, notFound, validationFailed } from '../http/errors.ts';
import { jsonBodyGuard } from '../http/json-body.ts';
import { SECURITY, errorResponses, jsonBody, jsonResponse, newRouter } from '../http/openapi.ts';
import { newId } from '../ids.ts';
import type { SqlDatabase, SqlValue } from '../ports.ts';
import {
  type JobObject,
  type JobRow,
  type JobStatus,
  LEASED_STATES_SQL,
  eventStatement,
  guardedEventStatement,
  isConstraintError,
  jobById,
  jobObject,
  jobStorage,
  modelIdOf,
  webhookData,
} from '../jobs/records.ts';
import { type JobEventType, jobWebhookStatements } from '../jobs/webhook-events.ts';
import { JobSchema } from './training-jobs.ts';

export const DEFAULT_LEASE_SECONDS = 120;
export const MAX_LEASE_SECONDS = 3600;

// ---- schemas --------------------------------------------------------------------------------

const LeaseId = z.string().min(1).max(64).openapi({ description: 'The lease_id from POST /internal/v1/leases.' });

const LeaseSeconds = z
  .number()
  .int()
  .min(1)
  .max(MAX_LEASE_SECONDS)
  .optional()
  .openapi({ description: `How long the lease lasts without a heartbeat (default ${DEFAULT_LEASE_SECONDS}).` });

const LeaseRequest = z
  .strictObject({
    worker_id: z.string().min(1).max(128).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces').openapi({ example: 'gpu-01#1234' }),
    lease_seconds: LeaseSeconds,
  })
  .openapi('LeaseRequest');

const Lease = z
  .object({
    job: JobSchema,
    tenant_id: z.string(),
    attempts: z.number().int().openapi({ description: '1 on the first lease; more when resumed after an expired lease.' }),
    lease_id: z.string(),
    lease_expires_at: z.string(),
    storage: z.object({
      checkpoint_prefix: z.string().openapi({ description: 'Where to write (and on resume, read) checkpoints.' }),
      artifact_key: z.string().openapi({ description: 'Where to upload the adapter before /complete.' }),
    }),
    dataset: z.object({
      id: z.string(),
      images: z.array(
        z.object({
          id: z.string(),
          label: z.string(),
          object_key: z.string(),
          sha256: z.string().nullable().openapi({ description: 'sha256 of the bytes the edge verified; the worker checks the download against it (null: not recorded).' }),
        }),
      ),
    }),
  })
  .openapi('Lease');

const finite = z.number().refine(Number.isFinite, 'must be a finite number');

const Progress = z.strictObject({
  epoch: z.number().int().min(0).max(1_000_000).optional(),
  epochs: z.number().int().min(0).max(1_000_000).optional(),
  step: z.number().int().min(0).max(1_000_000_000).optional(),
  steps: z.number().int().min(0).max(1_000_000_000).optional(),
});

const Metrics = z.record(z.string().min(1).max(64), finite).refine((r) => Object.keys(r).length <= 32, 'at most 32 metrics');

const HeartbeatRequest = z
  .strictObject({ lease_id: LeaseId, lease_seconds: LeaseSeconds, progress: Progress.optional(), metrics: Metrics.optional() })
  .openapi('HeartbeatRequest');

const HeartbeatResponse = z
  .object({ cancel_requested: z.boolean(), lease_expires_at: z.string() })
  .openapi('HeartbeatResponse');

const WorkerEventRequest = z
  .strictObject({
    lease_id: LeaseId,
    level: z.enum(['info', 'warn', 'error']),
    type: z.enum(['message', 'metrics']),
    message: z.string().min(1).max(2000),
    data: z.record(z.string(), z.unknown()).optional(),
  })
  .openapi('WorkerEventRequest');

const CompleteRequest = z
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
  })
  .openapi('CompleteRequest');

const FailRequest = z
  .strictObject({ lease_id: LeaseId, code: z.string().min(1).max(64), message: z.string().min(1).max(2000) })
  .openapi('FailRequest');

const CancelledRequest = z.strictObject({ lease_id: LeaseId }).openapi('CancelledRequest');

const JobParams = z.object({
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, example: 'job_0m3k9x2qa4f7hz81kd0p3q' }),
});

// ---- routes ---------------------------------------------------------------------------------

const tags = ['Internal: workers'];
const ERRORS = [400, 401, 413, 415, 422, 500] as const;

const leaseRoute = createRoute({
  method: 'post',
  path: '/internal/v1/leases',
  tags,
  summary: 'Lease the next job',
  description:
    'Atomically takes the oldest queued job, or a running job whose lease expired (resumed: attempts + 1). 204 when there is none. ' +
    'A job whose lease expired after its last allowed attempt (MAX_JOB_ATTEMPTS) is not leased again: it fails with `too_many_attempts`.',
  security: SECURITY.worker,
  middleware: [requireWorker] as const,
  request: { body: jsonBody(LeaseRequest) },
  responses: { 200: jsonResponse(Lease, 'The leased job.'), 204: { description: 'Nothing to do.' }, ...errorResponses(...ERRORS) },
});

function jobRoute<S extends z.ZodType>(path: string, summary: string, body: S) {
  return createRoute({
    method: 'post',
    path: `/internal/v1/jobs/{id}/${path}`,
    tags,
    summary,
    security: SECURITY.worker,
    middleware: [requireWorker] as const,
    request: { params: JobParams, body: jsonBody(body) },
    responses: {
      200: jsonResponse(path === 'heartbeat' ? HeartbeatResponse : JobSchema, 'OK.'),
      ...errorResponses(...ERRORS, 404, 409),
    },
  });
}

const heartbeatRoute = jobRoute('heartbeat', 'Heartbeat: extend the lease, report progress', HeartbeatRequest);
const eventRoute = jobRoute('events', 'Append an event to the job log', WorkerEventRequest);
const completeRoute = jobRoute('complete', 'Publish the model; the job succeeded', CompleteRequest);
const failRoute = jobRoute('fail', 'The job failed', FailRequest);
const cancelledRoute = jobRoute('cancelled', 'The worker stopped after a cancel request', CancelledRequest);

// ---- handlers -------------------------------------------------------------------------------

function quoteId(id: string): string {
  return JSON.stringify(id.length > 64 ? `${id.slice(0, 64)}…` : id);
}

/** The job under a lease the caller must still hold: 404 unknown job, 409 lease not current / job not running. */
async function leasedJob(db: SqlDatabase, id: string, leaseId: string, allowed: readonly JobStatus[] = ['running', 'cancelling']): Promise<JobRow> {
  const row = await jobById(db, id);
  if (!row) throw notFound(`No training job with id ${quoteId(id)}.`, 'id');
  if (row.lease_id !== leaseId) {
    throw conflict(`Lease ${quoteId(leaseId)} is not the current lease of job ${row.id} (it expired and the job was leased again, or it never was); stop working on it.`, 'lease_id');
  }
  if (!allowed.includes(row.status)) {
    throw conflict(`Job ${row.id} is ${row.status}; this call needs it to be ${allowed.join(' or ')}.`);
  }
  return row;
}

/** The progress of a job that succeeded: every epoch and step done (heartbeats may not have reported the last ones). */
function completedProgress(row: JobRow): string {
  const p = parseJsonObject(row.progress);
  const hp = parseJsonObject(row.hyperparameters);
  const epochs = typeof p.epochs === 'number' ? p.epochs : typeof hp.epochs === 'number' ? hp.epochs : undefined;
  const done: Record<string, unknown> = { ...p };
  if (epochs !== undefined) Object.assign(done, { epoch: epochs, epochs });
  if (typeof p.steps === 'number') done.step = p.steps;
  return JSON.stringify(done);
}

function parseJsonObject(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function mergeJson(text: string, patch: Record<string, unknown> | undefined): string {
  if (!patch) return text;
  let base: Record<string, unknown> = {};
  try {
    base = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // keep {}
  }
  return JSON.stringify({ ...base, ...patch });
}

/**
 * A final transition of a leased job in one batch: the guarded UPDATE, its event, extra statements
 * (the model row) and the webhook outbox rows. 409 when the lease or state changed meanwhile.
 */
async function finish(
  db: SqlDatabase,
  row: JobRow,
  leaseId: string,
  to: 'succeeded' | 'failed' | 'cancelled',
  set: { model_id?: string; metrics?: string; error?: string; progress?: string },
  event: { level: 'info' | 'error'; message: string; data?: unknown },
  extra: ReturnType<SqlDatabase['prepare']>[],
  from: readonly JobStatus[],
  /** One more condition of the guarded UPDATE (e.g. the lease still expired), with its binds. */
  guard: { sql: string; binds: SqlValue[] } = { sql: '1 = 1', binds: [] },
): Promise<JobObject> {
  const now = new Date();
  const after: JobRow = {
    ...row,
    status: to,
    finished_at: now.toISOString(),
    model_id: set.model_id ?? row.model_id,
    metrics: set.metrics ?? row.metrics,
    error: set.error ?? row.error,
    progress: set.progress ?? row.progress,
    lease_expires_at: null,
  };
  const webhook: JobEventType = `training_job.${to}`;
  const fromSql = from.map((s) => `'${s}'`).join(', ');
  try {
    await db.batch([
      db
        .prepare(
          `UPDATE training_jobs SET status = ?, finished_at = ?, model_id = ?, metrics = ?, error = ?, progress = ?, lease_expires_at = NULL
           WHERE id = ? AND lease_id = ? AND status IN (${fromSql}) AND (${guard.sql})`,
        )
        .bind(to, after.finished_at, after.model_id, after.metrics, after.error, after.progress, row.id, leaseId, ...guard.binds),
      guardedEventStatement(db, { jobId: row.id, tenantId: row.tenant_id, level: event.level, type: 'message', message: event.message, data: event.data, now }),
      ...extra,
      ...(await jobWebhookStatements(db, row.tenant_id, webhook, webhookData(jobObject(after)), now)),
    ]);
  } catch (err) {
    if (!isConstraintError(err)) throw err;
    const current = await jobById(db, row.id);
    throw conflict(
      `Job ${row.id} is ${current?.status ?? 'gone'} and lease ${quoteId(leaseId)} is ${current?.lease_id === leaseId ? 'still' : 'no longer'} current; it was not changed.`,
      current?.lease_id === leaseId ? undefined : 'lease_id',
    );
  }
  return jobObject(after);
}

/**
 * Finishes the jobs whose lease expired after their last allowed attempt, so no lease starts attempt
 * maxAttempts + 1: a running job fails with `too_many_attempts`, a cancelling one is cancelled. Each in its
 * own guarded batch (job, event, webhook rows), conditional on the lease being still the expired one, so a
 * heartbeat or another edge instance that got there first wins and the job is left alone.
 */
async function retireExhaustedJobs(db: SqlDatabase, maxAttempts: number, nowMs: number): Promise<void> {
  const rows = await db
    .prepare(
      `SELECT * FROM training_jobs
        WHERE status IN ${LEASED_STATES_SQL} AND lease_expires_at < ? AND attempts >= ?
        ORDER BY created_at, id LIMIT 10`,
    )
    .bind(nowMs, maxAttempts)
    .all<JobRow>();
  for (const row of rows) {
    const guard = { sql: 'lease_expires_at < ? AND attempts = ?', binds: [nowMs, row.attempts] };
    const times = row.attempts === 1 ? 'once' : `${row.attempts} times`;
    try {
      if (row.status === 'cancelling') {
        await finish(
          db,
          row,
          row.lease_id ?? '',
          'cancelled',
          {},
          { level: 'info', message: `Job cancelled; its worker stopped ${times} without confirming the cancel.` },
          [],
          ['cancelling'],
          guard,
        );
      } else {
        const message =
          `The job's worker stopped ${times} without finishing (its lease expired with no heartbeat), the most ` +
          `attempts a job gets; it is not retried again. The job's events show how far each attempt got; create a new job to try again.`;
        await finish(
          db,
          row,
          row.lease_id ?? '',
          'failed',
          { error: JSON.stringify({ code: 'too_many_attempts', message }) },
          { level: 'error', message: `Training failed: ${message}`, data: { code: 'too_many_attempts', attempts: row.attempts } },
          [],
          ['running'],
          guard,
        );
      }
    } catch (err) {
      // 409 from finish: the job changed meanwhile (heartbeat, cancel, another edge instance); leave it.
      if (!(err instanceof ApiError && err.status === 409)) throw err;
    }
  }
}

export function workerRoutes() {
  const app = newRouter();
  // Outside /v1, so the app's authenticate and body guard do not run here: the worker token first,
  // then the same bounded JSON body reading.
  app.use('/internal/v1/*', requireWorker, jsonBodyGuard);

  app.openapi(leaseRoute, async (c) => {
    const { worker_id, lease_seconds } = c.req.valid('json');
    const { db } = c.var.ports;
    const now = new Date();
    const nowMs = now.getTime();
    const leaseId = `lse_${randomString(24, '0123456789abcdefghijklmnopqrstuvwxyz')}`;
    const expires = nowMs + (lease_seconds ?? DEFAULT_LEASE_SECONDS) * 1000;
    const maxAttempts = c.var.config.maxJobAttempts;
    await retireExhaustedJobs(db, maxAttempts, nowMs);
    // One UPDATE picks and takes the job, so two workers racing never get the same one; the event is
    // written in the same transaction from the row that now carries this lease. An expired job that had
    // its last attempt is never picked (retireExhaustedJobs finishes it, here or on the next request).
    await db.batch([
      db
        .prepare(
          `UPDATE training_jobs
             SET lease_id = ?, lease_worker = ?, lease_expires_at = ?, attempts = attempts + 1,
                 status = CASE WHEN status = 'queued' THEN 'running' ELSE status END,
                 started_at = COALESCE(started_at, ?)
           WHERE id = (SELECT id FROM training_jobs
                        WHERE status = 'queued' OR (status IN ${LEASED_STATES_SQL} AND lease_expires_at < ? AND attempts < ?)
                        ORDER BY created_at, id LIMIT 1)`,
        )
        .bind(leaseId, worker_id, expires, now.toISOString(), nowMs, maxAttempts),
      db
        .prepare(
          `INSERT INTO job_events (id, job_id, tenant_id, created_at, level, type, message, data)
           SELECT ?, id, tenant_id, ?, 'info', 'message',
                  CASE WHEN attempts > 1
                       THEN 'Resumed by worker ' || lease_worker || ' (attempt ' || attempts || ') after the previous lease expired.'
                       ELSE 'Started by worker ' || lease_worker || '.' END,
                  NULL
             FROM training_jobs WHERE lease_id = ?`,
        )
        .bind(newId('event'), now.toISOString(), leaseId),
    ]);
    const row = await db.prepare('SELECT * FROM training_jobs WHERE lease_id = ?').bind(leaseId).first<JobRow>();
    if (!row) return c.body(null, 204);

    if (row.attempts === 1) {
      // Optional event; outside the lease transaction (its target rows depend on the job picked).
      const statements = await jobWebhookStatements(db, row.tenant_id, 'training_job.started', webhookData(jobObject(row)), now);
      if (statements.length > 0) await db.batch(statements);
    }
    const images = await db
      .prepare(`SELECT id, label, object_key, sha256 FROM images WHERE dataset_id = ? AND tenant_id = ? AND status = 'stored' ORDER BY label, id`)
      .bind(row.dataset_id, row.tenant_id)
      .all<{ id: string; label: string; object_key: string; sha256: string | null }>();
    return c.json(
      {
        job: jobObject(row),
        tenant_id: row.tenant_id,
        attempts: row.attempts,
        lease_id: leaseId,
        lease_expires_at: new Date(expires).toISOString(),
        storage: jobStorage(row.tenant_id, row.id),
        dataset: { id: row.dataset_id, images },
      },
      200,
    );
  });

  app.openapi(heartbeatRoute, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const { db } = c.var.ports;
    const row = await leasedJob(db, id, body.lease_id);
    const expires = Date.now() + (body.lease_seconds ?? DEFAULT_LEASE_SECONDS) * 1000;
    const { changes } = await db
      .prepare(
        `UPDATE training_jobs SET lease_expires_at = ?, progress = ?, metrics = ?
         WHERE id = ? AND lease_id = ? AND status IN ${LEASED_STATES_SQL}`,
      )
      .bind(expires, mergeJson(row.progress, body.progress), mergeJson(row.metrics, body.metrics), id, body.lease_id)
      .run();
    if (changes === 0) await leasedJob(db, id, body.lease_id); // throws the right 404/409
    const now = await jobById(db, id);
    return c.json({ cancel_requested: now?.status === 'cancelling', lease_expires_at: new Date(expires).toISOString() }, 200);
  });

  app.openapi(eventRoute, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const { db } = c.var.ports;
    const row = await leasedJob(db, id, body.lease_id);
    await eventStatement(db, {
      jobId: row.id,
      tenantId: row.tenant_id,
      level: body.level,
      type: body.type,
      message: body.message,
      data: body.data,
      now: new Date(),
    }).run();
    return c.json(jobObject(row), 200);
  });

  app.openapi(completeRoute, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const { db, blobs } = c.var.ports;
    const row = await leasedJob(db, id, body.lease_id);
    const storage = jobStorage(row.tenant_id, row.id);
    if (body.artifact.key !== storage.artifact_key) {
      throw validationFailed(`Field "artifact.key" must be the artifact_key of the lease (${storage.artifact_key}).`, 'artifact.key');
    }
    const head = await blobs.head(body.artifact.key);
    if (!head) throw validationFailed(`No object at "${body.artifact.key}": upload the artifact before completing the job.`, 'artifact.key');
    if (head.size !== body.artifact.bytes) {
      throw validationFailed(`The stored artifact has ${head.size} bytes, not ${body.artifact.bytes}; upload it again or fix "artifact.bytes".`, 'artifact.bytes');
    }
    const modelId = modelIdOf(row.id);
    const now = new Date().toISOString();
    const model = db
      .prepare(
        `INSERT INTO models (id, tenant_id, job_id, method, base_model, classes, metrics, artifact_key, artifact_bytes, artifact_sha256, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .bind(
        modelId,
        row.tenant_id,
        row.id,
        row.method,
        body.base_model,
        JSON.stringify(body.classes),
        JSON.stringify(body.metrics),
        body.artifact.key,
        body.artifact.bytes,
        body.artifact.sha256,
        now,
      );
    const job = await finish(
      db,
      row,
      body.lease_id,
      'succeeded',
      { model_id: modelId, metrics: mergeJson(row.metrics, body.metrics), progress: completedProgress(row) },
      { level: 'info', message: `Training succeeded; published model ${modelId}.` },
      [model],
      ['running', 'cancelling'],
    );
    return c.json(job, 200);
  });

  app.openapi(failRoute, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const { db } = c.var.ports;
    const row = await leasedJob(db, id, body.lease_id);
    const job = await finish(
      db,
      row,
      body.lease_id,
      'failed',
      { error: JSON.stringify({ code: body.code, message: body.message }) },
      { level: 'error', message: `Training failed: ${body.message}`, data: { code: body.code } },
      [],
      ['running', 'cancelling'],
    );
    return c.json(job, 200);
  });

  app.openapi(cancelledRoute, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const { db } = c.var.ports;
    const row = await leasedJob(db, id, body.lease_id, ['cancelling']);
    const job = await finish(db, row, body.lease_id, 'cancelled', {}, { level: 'info', message: 'Job cancelled; the worker stopped.' }, [], ['cancelling']);
    return c.json(job, 200);
  });

  return app;
}
