// Training jobs and their events as rows and as API objects, plus the SQL statements shared by the
// public job routes (edge/routes/training-jobs.ts) and the worker routes (edge/routes/trainer-api.ts).
//
// Guarded transitions: a final state change runs in one db.batch as
//   [UPDATE training_jobs … WHERE <expected state>, guardedEventStatement(…), …the rest]
// The event INSERT writes NULL into a NOT NULL column when the UPDATE just before it changed no row
// (SQLite `changes()`), which aborts and rolls back the whole batch: a transition that lost a race
// never leaves a model, an event or a webhook delivery behind.
import type { SqlDatabase, SqlStatement, SqlValue } from '../ports.ts';
import { newId } from '../ids.ts';

export const JOB_STATES = ['queued', 'running', 'cancelling', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATES)[number];
export const FINAL_JOB_STATES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];
/** States in which a worker holds (or held) a lease. */
export const LEASED_STATES_SQL = `('running', 'cancelling')`;

export interface JobRow {
  id: string;
  tenant_id: string;
  dataset_id: string;
  method: 'cocoop' | 'coop';
  status: JobStatus;
  hyperparameters: string;
  metadata: string;
  progress: string;
  metrics: string;
  model_id: string | null;
  error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  lease_id: string | null;
  lease_worker: string | null;
  lease_expires_at: number | null;
  attempts: number;
}

export interface Hyperparameters {
  epochs: number;
  learning_rate: number;
  batch_size: number;
  /** Random initialisation with this many context vectors; null = initialised from ctx_init. */
  n_ctx: number | null;
  /** The phrase the context vectors start from; null when n_ctx is given. */
  ctx_init: string | null;
  shots: number;
  seed: number;
  /** RandomResizedCrop area range of the training views, [min, max] in (0, 1]. */
  crop_scale: [number, number];
}

/** The official recipe's crop range (Dassl's RandomResizedCrop default), for jobs stored before crop_scale existed. */
export const DEFAULT_CROP_SCALE: [number, number] = [0.08, 1];

export interface JobObject {
  id: string;
  dataset_id: string;
  method: 'cocoop' | 'coop';
  status: JobStatus;
  hyperparameters: Hyperparameters;
  metadata: Record<string, string>;
  progress: { epoch: number; epochs: number; step: number; steps: number };
  metrics: Record<string, number>;
  model_id: string | null;
  error: { code: string; message: string } | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
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

export function jobObject(row: JobRow): JobObject {
  const stored = parseObject<Partial<Hyperparameters>>(row.hyperparameters, {});
  const hp = { ...stored, crop_scale: stored.crop_scale ?? DEFAULT_CROP_SCALE } as Hyperparameters;
  const p = parseObject<Partial<JobObject['progress']>>(row.progress, {});
  return {
    id: row.id,
    dataset_id: row.dataset_id,
    method: row.method,
    status: row.status,
    hyperparameters: hp,
    metadata: parseObject<Record<string, string>>(row.metadata, {}),
    progress: { epoch: p.epoch ?? 0, epochs: p.epochs ?? hp.epochs ?? 0, step: p.step ?? 0, steps: p.steps ?? 0 },
    metrics: parseObject<Record<string, number>>(row.metrics, {}),
    model_id: row.model_id,
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

/** Storage keys of a job (ARCHITECTURE.md, "Storage layout"); server-generated only. */
export function jobStorage(tenantId: string, jobId: string) {
  return {
    checkpoint_prefix: `tenants/${tenantId}/jobs/${jobId}/checkpoints/`,
    artifact_key: `tenants/${tenantId}/models/${modelIdOf(jobId)}/adapter.safetensors`,
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
  return db.prepare('SELECT * FROM training_jobs WHERE id = ? AND tenant_id = ?').bind(id, tenantId).first<JobRow>();
}

/** The webhook `data` of a job event (API.md, Webhooks). */
export function webhookData(job: { id: string; status: JobStatus; model_id: string | null; metrics: Record<string, number> }) {
  return { id: job.id, status: job.status, model_id: job.model_id, metrics: job.metrics };
}
