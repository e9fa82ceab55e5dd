// Heartbeats of leased work (training jobs and evaluations): each extends the lease and records progress and metrics;
// it answers whether a cancel was requested. Work whose progress has not moved for config.jobStallSeconds, or that has
// run longer than config.jobMaxSeconds, is failed here instead (`stalled` / `timed_out`) and the worker gets 409.
import { DEFAULT_LEASE_SECONDS, type HeartbeatResponse, type Metrics, type Progress } from '../../shared/contracts/worker-api.ts';
import { ApiError, conflict } from '../http/errors.ts';
import type { SqlDatabase } from '../ports.ts';
import { requireLease } from './lease.ts';
import { type JobRow, LEASED_STATES_SQL, jobById, mergeJson } from './records.ts';
import { failedWord, finishLeased } from './transitions.ts';

export interface HeartbeatOptions {
  jobId: string;
  leaseId: string;
  leaseSeconds?: number;
  /** Merged into the stored progress / metrics (keys given replace stored ones). */
  progress?: Progress;
  metrics?: Metrics;
  /** config.jobStallSeconds / jobMaxSeconds: a job without progress for this long, or running this long, fails. */
  stallSeconds: number;
  maxSeconds: number;
  /** The time of the request (config.clock); default the system clock. */
  now?: Date;
}

/** True when `patch` sets a progress field to another value than the stored one. */
function progressMoved(stored: string, patch: Progress | undefined): boolean {
  if (!patch) return false;
  let before: Record<string, unknown> = {};
  try {
    before = JSON.parse(stored) as Record<string, unknown>;
  } catch {
    // nothing stored: any progress moved
  }
  return Object.entries(patch).some(([k, v]) => v !== undefined && before[k] !== v);
}

/**
 * Extends the lease and records progress; `cancel_requested` when the job is cancelling. A job whose progress has not
 * moved for `stallSeconds`, or that started more than `maxSeconds` ago, is failed here instead (`stalled` /
 * `timed_out`, + webhooks) and the worker gets 409: its lease is over.
 */
export async function heartbeat(db: SqlDatabase, o: HeartbeatOptions): Promise<HeartbeatResponse> {
  const { jobId: id, leaseId } = o;
  const row = await requireLease(db, id, leaseId);
  const nowMs = (o.now ?? new Date()).getTime();
  const moved = progressMoved(row.progress, o.progress);
  const progressAt = moved ? nowMs : (row.progress_at ?? nowMs);
  const startedMs = row.started_at ? Date.parse(row.started_at) : nowMs;
  const what = row.kind === 'evaluation' ? 'evaluation' : 'job';
  if (nowMs - startedMs > o.maxSeconds * 1000) {
    await failLeasedNow(db, row, leaseId, 'timed_out', `The ${what} ran longer than ${o.maxSeconds} s (JOB_MAX_SECONDS) and was stopped.`);
  }
  if (nowMs - progressAt > o.stallSeconds * 1000) {
    await failLeasedNow(
      db,
      row,
      leaseId,
      'stalled',
      `The ${what} made no progress for ${Math.round((nowMs - progressAt) / 1000)} s (JOB_STALL_SECONDS is ${o.stallSeconds}) while its worker kept ` +
        'heartbeating (stuck on storage or the network?); it was stopped. Create a new one to try again.',
    );
  }
  const expires = nowMs + (o.leaseSeconds ?? DEFAULT_LEASE_SECONDS) * 1000;
  const { changes } = await db
    .prepare(
      `UPDATE training_jobs SET lease_expires_at = ?, progress = ?, metrics = ?, progress_at = ?
       WHERE id = ? AND lease_id = ? AND status IN ${LEASED_STATES_SQL}`,
    )
    .bind(expires, mergeJson(row.progress, o.progress), mergeJson(row.metrics, o.metrics), progressAt, id, leaseId)
    .run();
  if (changes === 0) await requireLease(db, id, leaseId); // throws the right 404/409
  const now = await jobById(db, id);
  return { cancel_requested: now?.status === 'cancelling', lease_expires_at: new Date(expires).toISOString() };
}

/** Fails the leased row with `code` (+ event, + webhooks), then answers the worker 409: its lease is over. */
async function failLeasedNow(db: SqlDatabase, row: JobRow, leaseId: string, code: 'stalled' | 'timed_out', message: string): Promise<never> {
  try {
    await finishLeased(db, row, {
      leaseId,
      to: 'failed',
      set: { error: JSON.stringify({ code, message }) },
      event: { level: 'error', message: `${failedWord(row)} ${message}`, data: { code } },
      from: ['running', 'cancelling'],
    });
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 409)) throw err;
  }
  throw conflict(`${message} This lease is over; stop working on it.`, 'lease_id');
}
