// The final transition of a leased row of the worker queue (a training job or an evaluation), shared by the job
// queue (edge/jobs/queue.ts) and the evaluations (edge/evaluations/queue.ts): one guarded batch of the UPDATE, its
// event, the statements that go with it (the model row), the webhook outbox rows of the row's kind and the row's
// usage record (its running time, edge/usage/record.ts).
import { quoteId } from '../../shared/util/quote.ts';
import { evaluationObject, evaluationWebhookData } from '../evaluations/records.ts';
import { conflict } from '../http/errors.ts';
import type { SqlDatabase, SqlStatement, SqlValue } from '../ports.ts';
import { endedWorkStatements } from '../usage/record.ts';
import { type JobRow, guardedEventStatement, isConstraintError, jobById, jobObject, webhookData } from './records.ts';
import { type WorkEventType, jobWebhookStatements } from './webhook-events.ts';

export interface Transition {
  /** The lease the UPDATE requires to be still current. */
  leaseId: string;
  to: 'succeeded' | 'failed' | 'cancelled';
  /** Columns to change besides status and finished_at (JSON text). */
  set?: { model_id?: string; metrics?: string; error?: string; progress?: string; result?: string };
  event: { level: 'info' | 'error'; message: string; data?: unknown };
  /** More statements of the same batch (the model row). */
  extra?: SqlStatement[];
  /** The states the job may be in. */
  from: readonly JobRow['status'][];
  /** One more condition of the guarded UPDATE (e.g. the lease still expired), with its binds. */
  guard?: { sql: string; binds: SqlValue[] };
}

/**
 * A final transition of a leased job in one batch: the guarded UPDATE, its event, the extra statements and
 * the webhook outbox rows. 409 when the lease or state changed meanwhile (nothing is written then).
 */
export async function finishLeased(db: SqlDatabase, row: JobRow, t: Transition): Promise<JobRow> {
  const { leaseId, to, event } = t;
  const set = t.set ?? {};
  const guard = t.guard ?? { sql: '1 = 1', binds: [] };
  const now = new Date();
  const after: JobRow = {
    ...row,
    status: to,
    finished_at: now.toISOString(),
    model_id: set.model_id ?? row.model_id,
    metrics: set.metrics ?? row.metrics,
    error: set.error ?? row.error,
    progress: set.progress ?? row.progress,
    result: set.result ?? row.result,
    lease_expires_at: null,
  };
  const webhook = webhookOf(after);
  const fromSql = t.from.map((s) => `'${s}'`).join(', ');
  try {
    await db.batch([
      db
        .prepare(
          `UPDATE training_jobs SET status = ?, finished_at = ?, model_id = ?, metrics = ?, error = ?, progress = ?, result = ?, lease_expires_at = NULL
           WHERE id = ? AND lease_id = ? AND status IN (${fromSql}) AND (${guard.sql})`,
        )
        .bind(to, after.finished_at, after.model_id, after.metrics, after.error, after.progress, after.result, row.id, leaseId, ...guard.binds),
      guardedEventStatement(db, { jobId: row.id, tenantId: row.tenant_id, level: event.level, type: 'message', message: event.message, data: event.data, now }),
      ...(t.extra ?? []),
      ...(webhook ? await jobWebhookStatements(db, row.tenant_id, webhook.type, webhook.data, now) : []),
      ...endedWorkStatements(db, after),
    ]);
  } catch (err) {
    if (!isConstraintError(err)) throw err;
    const current = await jobById(db, row.id);
    throw conflict(
      `Job ${row.id} is ${current?.status ?? 'gone'} and lease ${quoteId(leaseId)} is ${current?.lease_id === leaseId ? 'still' : 'no longer'} current; it was not changed.`,
      current?.lease_id === leaseId ? undefined : 'lease_id',
    );
  }
  return after;
}

/** The webhook event of a row's final state (evaluations have no `cancelled`). */
function webhookOf(row: JobRow): { type: WorkEventType; data: Record<string, unknown> } | null {
  if (row.kind === 'evaluation') {
    if (row.status !== 'succeeded' && row.status !== 'failed') return null;
    return { type: `evaluation.${row.status}`, data: evaluationWebhookData(evaluationObject(row)) };
  }
  const status = row.status as 'succeeded' | 'failed' | 'cancelled';
  return { type: `training_job.${status}`, data: webhookData(jobObject(row)) };
}

/** How a failure event of the row starts. */
export function failedWord(row: JobRow): string {
  return row.kind === 'evaluation' ? 'Evaluation failed:' : 'Training failed:';
}
