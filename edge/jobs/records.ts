// Training jobs and their events as rows and as API objects, and the statements and reads shared by the
// job queue (edge/jobs/queue.ts) and the public job routes. The shapes of the API objects are the shared
// contract (shared/contracts/training-job.ts); the types here are inferred from it.
//
// Guarded transitions: a final state change runs in one db.batch as
//   [UPDATE training_jobs … WHERE <expected state>, guardedEventStatement(…), …the rest]
// The event INSERT writes NULL into a NOT NULL column when the UPDATE just before it changed no row
// (SQLite `changes()`), which aborts and rolls back the whole batch: a transition that lost a race
// never leaves a model, an event or a webhook delivery behind.
import type { TrainingResult } from '../../shared/contracts/evaluation.ts';
import type { Hyperparameters, JobStatus, Method, TrainingJob } from '../../shared/contracts/training-job.ts';
import { adapterKey, checkpointPrefix } from '../../shared/storage/keys.ts';
import { notFound } from '../http/errors.ts';
import { type Pagination, listPage } from '../http/pagination.ts';
import type { SqlDatabase, SqlStatement, SqlValue } from '../ports.ts';
import { newId } from '../ids.ts';
import { quoteId } from '../../shared/util/quote.ts';

export const FINAL_JOB_STATES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];
/** States in which a worker holds (or held) a lease. */
export const LEASED_STATES_SQL = `('running', 'cancelling')`;

/** A row of the worker queue: a training job, or an evaluation (edge/evaluations/records.ts; migration 0004). */
export type WorkKind = 'training' | 'evaluation';

export interface JobRow {
  id: string;
  tenant_id: string;
  kind: WorkKind;
  dataset_id: string;
  /** A training job's method; an evaluation's model's method, or 'zero-shot'. */
  method: Method | 'zero-shot';
  status: JobStatus;
  hyperparameters: string;
  metadata: string;
  progress: string;
  metrics: string;
  model_id: string | null;
  /** JSON: a training job's TrainingResult or an evaluation's Scores, once succeeded. */
  result: string | null;
  error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  lease_id: string | null;
  lease_worker: string | null;
  lease_expires_at: number | null;
  attempts: number;
  /** The request_id of the lease request that took the current lease (migration 0005). */
  lease_request: string | null;
  /** Unix ms of the last progress (lease or a heartbeat whose progress moved; migration 0008). */
  progress_at: number | null;
}

/** The official recipe's crop range (Dassl's RandomResizedCrop default), for jobs stored before crop_scale existed. */
export const DEFAULT_CROP_SCALE: [number, number] = [0.08, 1];

/** What a job gets for each hyperparameter its creator left out (stored on the job). */
export const DEFAULT_HYPERPARAMETERS = {
  epochs: 10,
  learning_rate: 0.002,
  batch_size: 1,
  ctx_init: 'a photo of a',
  shots: 16,
  seed: 1,
  crop_scale: DEFAULT_CROP_SCALE,
  validation_split: 0.2,
} as const;

/** The complete hyperparameters of a new job: the given ones, the defaults for the rest (ctx_init only without n_ctx). */
export function withDefaults(
  hp: Partial<Omit<Hyperparameters, 'n_ctx' | 'ctx_init' | 'validation_dataset_id'>> & { n_ctx?: number; ctx_init?: string; validation_dataset_id?: string },
): Hyperparameters {
  return {
    epochs: hp.epochs ?? DEFAULT_HYPERPARAMETERS.epochs,
    learning_rate: hp.learning_rate ?? DEFAULT_HYPERPARAMETERS.learning_rate,
    batch_size: hp.batch_size ?? DEFAULT_HYPERPARAMETERS.batch_size,
    n_ctx: hp.n_ctx ?? null,
    ctx_init: hp.n_ctx !== undefined ? null : (hp.ctx_init ?? DEFAULT_HYPERPARAMETERS.ctx_init),
    shots: hp.shots ?? DEFAULT_HYPERPARAMETERS.shots,
    seed: hp.seed ?? DEFAULT_HYPERPARAMETERS.seed,
    crop_scale: hp.crop_scale ?? [...DEFAULT_HYPERPARAMETERS.crop_scale],
    // A validation dataset replaces the hold-out.
    validation_split: hp.validation_dataset_id !== undefined ? 0 : (hp.validation_split ?? DEFAULT_HYPERPARAMETERS.validation_split),
    validation_dataset_id: hp.validation_dataset_id ?? null,
  };
}

function parseObject<T>(text: string | null, fallback: T): T {
  if (!text) return fallback;
  try {
    const v = JSON.parse(text) as unknown;
    return v !== null && typeof v === 'object' ? (v as T) : fallback;
  } catch {
    return fallback;
  }
}

export function jobObject(row: JobRow): TrainingJob {
  const stored = parseObject<Partial<Hyperparameters>>(row.hyperparameters, {});
  // Jobs stored before crop_scale / validation existed: the recipe they ran with.
  const hp = {
    ...stored,
    crop_scale: stored.crop_scale ?? DEFAULT_CROP_SCALE,
    validation_split: stored.validation_split ?? 0,
    validation_dataset_id: stored.validation_dataset_id ?? null,
  } as Hyperparameters;
  const p = parseObject<Partial<TrainingJob['progress']>>(row.progress, {});
  return {
    id: row.id,
    dataset_id: row.dataset_id,
    method: row.method as Method,
    status: row.status,
    hyperparameters: hp,
    metadata: parseObject<Record<string, string>>(row.metadata, {}),
    progress: { epoch: p.epoch ?? 0, epochs: p.epochs ?? hp.epochs ?? 0, step: p.step ?? 0, steps: p.steps ?? 0 },
    metrics: parseObject<Record<string, number>>(row.metrics, {}),
    model_id: row.model_id,
    result: parseObject<TrainingResult | null>(row.result, null),
    error: parseObject<{ code: string; message: string } | null>(row.error, null),
    created_at: row.created_at,
    started_at: row.started_at,
    finished_at: row.finished_at,
  };
}

/** The model a job publishes has the job's time-ordered id body: one job, at most one model id. */
export function modelIdOf(jobId: string): string {
  return `mdl_${jobId.slice(jobId.indexOf('_') + 1)}`;
}

/** The training job that publishes (or published) `modelId`: the inverse of modelIdOf. */
export function jobIdOfModel(modelId: string): string {
  return `job_${modelId.slice(modelId.indexOf('_') + 1)}`;
}

/**
 * Storage keys of attempt `attempt` of a job (key layout: shared/storage/keys.ts; server-generated only): its own
 * checkpoint prefix and artifact key, and the earlier attempts' checkpoint prefixes (newest first) to resume from.
 */
export function jobStorage(tenantId: string, jobId: string, attempt: number) {
  return {
    checkpoint_prefix: checkpointPrefix(tenantId, jobId, attempt),
    resume_prefixes: Array.from({ length: attempt - 1 }, (_, i) => checkpointPrefix(tenantId, jobId, attempt - 1 - i)),
    artifact_key: adapterKey(tenantId, modelIdOf(jobId), attempt),
  };
}

export type EventLevel = 'info' | 'warn' | 'error';
export type EventType = 'message' | 'metrics';

export interface JobEventInput {
  jobId: string;
  tenantId: string;
  level: EventLevel;
  type: EventType;
  message: string;
  data?: unknown;
  now: Date;
}

/** A plain event INSERT. */
export function eventStatement(db: SqlDatabase, e: JobEventInput): SqlStatement {
  return db
    .prepare('INSERT INTO job_events (id, job_id, tenant_id, created_at, level, type, message, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
    .bind(newId('event'), e.jobId, e.tenantId, e.now.toISOString(), e.level, e.type, e.message, eventData(e.data));
}

/**
 * An event INSERT that must directly follow an UPDATE in a db.batch: it fails (NOT NULL on
 * `message`) when that UPDATE changed no row, so the batch rolls back. See the file comment.
 */
export function guardedEventStatement(db: SqlDatabase, e: JobEventInput): SqlStatement {
  return db
    .prepare(
      `INSERT INTO job_events (id, job_id, tenant_id, created_at, level, type, message, data)
       SELECT ?, ?, ?, ?, ?, ?, CASE WHEN changes() > 0 THEN ? ELSE NULL END, ?`,
    )
    .bind(newId('event'), e.jobId, e.tenantId, e.now.toISOString(), e.level, e.type, e.message, eventData(e.data));
}

function eventData(data: unknown): SqlValue {
  return data === undefined ? null : JSON.stringify(data);
}

/** True when the error is the guard of guardedEventStatement (or another constraint) failing. */
export function isConstraintError(err: unknown): boolean {
  return err instanceof Error && /constraint/i.test(err.message);
}

export async function jobById(db: SqlDatabase, id: string): Promise<JobRow | null> {
  return db.prepare('SELECT * FROM training_jobs WHERE id = ?').bind(id).first<JobRow>();
}

export async function tenantJob(db: SqlDatabase, tenantId: string, id: string): Promise<JobRow | null> {
  return db.prepare(`SELECT * FROM training_jobs WHERE id = ? AND tenant_id = ? AND kind = 'training'`).bind(id, tenantId).first<JobRow>();
}

/** The tenant's job, or 404 (another tenant's job is "not found" too). */
export async function requireTenantJob(db: SqlDatabase, tenantId: string, id: string): Promise<JobRow> {
  const row = await tenantJob(db, tenantId, id);
  if (!row) throw noJob(id);
  return row;
}

export const noJob = (id: string) => notFound(`No training job with id ${quoteId(id)} in your tenant.`, 'id');

/** A page of the tenant's jobs, newest first. */
export async function listJobs(db: SqlDatabase, tenantId: string, page: Pagination) {
  const rows = await listPage<JobRow>(db, { from: 'training_jobs', where: `tenant_id = ? AND kind = 'training'`, binds: [tenantId], order: 'desc' }, page);
  return { data: rows.data.map(jobObject), has_more: rows.has_more };
}

export interface EventRow {
  id: string;
  created_at: string;
  level: EventLevel;
  type: EventType;
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

/** A page of a job's events, oldest first (the caller has checked the job is the tenant's). */
export async function listJobEvents(db: SqlDatabase, tenantId: string, jobId: string, page: Pagination) {
  const rows = await listPage<EventRow>(
    db,
    { from: 'job_events', columns: 'id, created_at, level, type, message, data', where: 'job_id = ? AND tenant_id = ?', binds: [jobId, tenantId], order: 'asc' },
    page,
  );
  return { data: rows.data.map(eventObject), has_more: rows.has_more };
}

/** The webhook `data` of a job event (API.md, Webhooks). */
export function webhookData(job: { id: string; status: JobStatus; model_id: string | null; metrics: Record<string, number> }) {
  return { id: job.id, status: job.status, model_id: job.model_id, metrics: job.metrics };
}

/** The progress of a job that succeeded: every epoch and step done (heartbeats may not have reported the last ones). */
export function completedProgress(row: JobRow): string {
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

/** The JSON object `text` with the keys of `patch` set (a column of progress or metrics). */
export function mergeJson(text: string, patch: Record<string, unknown> | undefined): string {
  if (!patch) return text;
  let base: Record<string, unknown> = {};
  try {
    base = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // keep {}
  }
  return JSON.stringify({ ...base, ...patch });
}
