// Leases of the worker queue (training jobs and evaluations alike):
//   leaseNextJob     a worker takes the oldest queued row, or a leased one whose lease expired (attempts + 1); a
//                    retried request (same request_id) gets the lease it already took
//   retireExhausted  finishes expired rows that had their last attempt (run by leaseNextJob first)
//   requireLease     the row under a lease the caller must still hold (404 / 409)
// A lease expires by time alone: leaseNextJob treats a running row whose lease_expires_at has passed as free (and gives
// it to the next worker) while it has attempts left; retireExhausted fails it once it has none, and cancels a
// cancelling row whose lease expired at once (its user asked it to stop: it is never trained again).
import { DEFAULT_LEASE_SECONDS, type Lease } from '../../shared/contracts/worker-api.ts';
import { quoteId } from '../../shared/util/quote.ts';
import { randomString } from '../crypto.ts';
import { storedImagesOf } from '../datasets/store.ts';
import { evaluationLease } from '../evaluations/lease.ts';
import { ApiError, conflict, notFound } from '../http/errors.ts';
import { newId } from '../ids.ts';
import type { SqlDatabase } from '../ports.ts';
import { type JobRow, LEASED_STATES_SQL, jobById, jobObject, jobStorage, webhookData } from './records.ts';
import { failedWord, finishLeased } from './transitions.ts';
import { jobWebhookStatements } from './webhook-events.ts';

export interface LeaseOptions {
  workerId: string;
  /** How long the lease lasts without a heartbeat (default DEFAULT_LEASE_SECONDS). */
  leaseSeconds?: number;
  /** config.maxJobAttempts: a job is leased at most this many times. */
  maxAttempts: number;
  /** The worker's name for this request: a retry of it gets the lease it already took. */
  requestId?: string;
  /** The time of the request (config.clock); default the system clock. */
  now?: Date;
}

/** Leases the next job to a worker (null: nothing to do). A retried request (same requestId and worker) gets its lease again. */
export async function leaseNextJob(db: SqlDatabase, o: LeaseOptions): Promise<Lease | null> {
  const now = o.now ?? new Date();
  const nowMs = now.getTime();
  if (o.requestId !== undefined) {
    const held = await db
      .prepare(`SELECT * FROM training_jobs WHERE lease_request = ? AND lease_worker = ? AND status IN ${LEASED_STATES_SQL} AND lease_expires_at >= ?`)
      .bind(o.requestId, o.workerId, nowMs)
      .first<JobRow>();
    if (held) return leaseOf(db, held, held.lease_id!, held.lease_expires_at!);
  }
  const leaseId = `lse_${randomString(24, '0123456789abcdefghijklmnopqrstuvwxyz')}`;
  const expires = nowMs + (o.leaseSeconds ?? DEFAULT_LEASE_SECONDS) * 1000;
  const { maxAttempts } = o;
  await retireExhausted(db, { maxAttempts, nowMs });
  // One UPDATE picks and takes the job, so two workers racing never get the same one; the event is
  // written in the same transaction from the row that now carries this lease. An expired job that had
  // its last attempt, or that is cancelling, is never picked (retireExhausted finishes it, here or on the next request), nor anything of a
  // suspended tenant (its queued evaluations wait; suspension cancels its training jobs).
  await db.batch([
    db
      .prepare(
        `UPDATE training_jobs
           SET lease_id = ?, lease_worker = ?, lease_expires_at = ?, lease_request = ?, progress_at = ?, attempts = attempts + 1,
               status = CASE WHEN status = 'queued' THEN 'running' ELSE status END,
               started_at = COALESCE(started_at, ?)
         WHERE id = (SELECT id FROM training_jobs
                      WHERE (status = 'queued' OR (status = 'running' AND lease_expires_at < ? AND attempts < ?))
                        AND NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = training_jobs.tenant_id AND t.suspended_at IS NOT NULL)
                      ORDER BY created_at, id LIMIT 1)`,
      )
      .bind(leaseId, o.workerId, expires, o.requestId ?? null, nowMs, now.toISOString(), nowMs, maxAttempts),
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
  if (!row) return null;

  if (row.kind === 'training' && row.attempts === 1) {
    // Optional event; outside the lease transaction (its target rows depend on the job picked).
    const statements = await jobWebhookStatements(db, row.tenant_id, 'training_job.started', webhookData(jobObject(row)), now);
    if (statements.length > 0) await db.batch(statements);
  }
  return leaseOf(db, row, leaseId, expires);
}

/** The lease `leaseId` (expiring at `expires`, unix ms) of the row, as the worker API answers it. */
async function leaseOf(db: SqlDatabase, row: JobRow, leaseId: string, expires: number): Promise<Lease> {
  if (row.kind === 'evaluation') return evaluationLease(db, row, leaseId, expires);
  const job = jobObject(row);
  const validationId = job.hyperparameters.validation_dataset_id;
  return {
    kind: 'training',
    job,
    tenant_id: row.tenant_id,
    attempts: row.attempts,
    lease_id: leaseId,
    lease_expires_at: new Date(expires).toISOString(),
    storage: jobStorage(row.tenant_id, row.id, row.attempts),
    dataset: { id: row.dataset_id, images: await storedImagesOf(db, row.tenant_id, row.dataset_id) },
    validation_dataset: validationId ? { id: validationId, images: await storedImagesOf(db, row.tenant_id, validationId) } : null,
  };
}

/**
 * Finishes the jobs whose lease expired after their last allowed attempt, so no lease starts attempt
 * maxAttempts + 1 (a running job fails with `too_many_attempts`), and the cancelling ones whose lease expired,
 * whatever attempts they have left (they are cancelled: a cancel is never trained again). Each in its
 * own guarded batch (job, event, webhook rows), conditional on the lease being still the expired one, so a
 * heartbeat or another edge instance that got there first wins and the job is left alone.
 */
export async function retireExhausted(db: SqlDatabase, o: { maxAttempts: number; nowMs: number }): Promise<void> {
  const { maxAttempts, nowMs } = o;
  const rows = await db
    .prepare(
      `SELECT * FROM training_jobs
        WHERE status IN ${LEASED_STATES_SQL} AND lease_expires_at < ? AND (attempts >= ? OR status = 'cancelling')
        ORDER BY created_at, id LIMIT 10`,
    )
    .bind(nowMs, maxAttempts)
    .all<JobRow>();
  for (const row of rows) {
    const guard = { sql: 'lease_expires_at < ? AND attempts = ?', binds: [nowMs, row.attempts] };
    const times = row.attempts === 1 ? 'once' : `${row.attempts} times`;
    const leaseId = row.lease_id ?? '';
    try {
      if (row.status === 'cancelling') {
        await finishLeased(db, row, {
          leaseId,
          to: 'cancelled',
          event: { level: 'info', message: 'Job cancelled; its worker stopped without confirming the cancel (its lease expired).' },
          from: ['cancelling'],
          guard,
        });
      } else {
        const what = row.kind === 'evaluation' ? 'evaluation' : 'job';
        const message =
          `The ${what}'s worker stopped ${times} without finishing (its lease expired with no heartbeat), the most ` +
          `attempts ${what === 'job' ? 'a job gets' : 'an evaluation gets'}; it is not retried again. ` +
          (what === 'job' ? `The job's events show how far each attempt got; create a new job to try again.` : 'Create a new evaluation to try again.');
        await finishLeased(db, row, {
          leaseId,
          to: 'failed',
          set: { error: JSON.stringify({ code: 'too_many_attempts', message }) },
          event: { level: 'error', message: `${failedWord(row)} ${message}`, data: { code: 'too_many_attempts', attempts: row.attempts } },
          from: ['running'],
          guard,
        });
      }
    } catch (err) {
      // 409 from finishLeased: the job changed meanwhile (heartbeat, cancel, another edge instance); leave it.
      if (!(err instanceof ApiError && err.status === 409)) throw err;
    }
  }
}

/** The job under a lease the caller must still hold: 404 unknown job, 409 lease not current / job not in `allowed`. */
export async function requireLease(
  db: SqlDatabase,
  id: string,
  leaseId: string,
  allowed: readonly JobRow['status'][] = ['running', 'cancelling'],
): Promise<JobRow> {
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
