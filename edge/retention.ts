// Retention: what the edge keeps of finished work, so tables do not grow without bound (D1 has a size cap,
// and a full database refuses every write). Once older than `retentionDays` (config RETENTION_DAYS, default 30):
// - a final job or evaluation (succeeded, failed, cancelled; by finished_at) loses its events, and its row is
//   deleted too unless a model still names it (models.job_id: the model's job stays readable);
// - a final webhook delivery (succeeded or failed; by created_at) is deleted with its attempts.
// Pending deliveries and unfinished jobs are never purged. Each run handles a bounded batch (the rest go in the
// next run); every statement searches an index (migration 0006).
import type { SqlDatabase } from './ports.ts';

const DAY_MS = 86_400_000;
/** Jobs and deliveries handled per run and kind. */
export const RETENTION_BATCH = 200;
const FINAL_JOB_STATES_SQL = "('succeeded', 'failed', 'cancelled')";

export interface RetentionSummary {
  jobEvents: number;
  /** Job and evaluation rows. */
  jobs: number;
  deliveries: number;
  attempts: number;
}

/** One retention run (see the header); `now` decides the cutoff. */
export async function purgeExpiredRecords(db: SqlDatabase, retentionDays: number, now: Date, limit = RETENTION_BATCH): Promise<RetentionSummary> {
  const cutoff = new Date(now.getTime() - retentionDays * DAY_MS).toISOString();
  const summary: RetentionSummary = { jobEvents: 0, jobs: 0, deliveries: 0, attempts: 0 };

  // Final jobs past the retention that still have events, or whose row can go (no model names it).
  const jobs = await db
    .prepare(
      `SELECT id, EXISTS (SELECT 1 FROM models m WHERE m.job_id = j.id) AS has_model FROM training_jobs j
        WHERE j.status IN ${FINAL_JOB_STATES_SQL} AND j.finished_at < ?
          AND (EXISTS (SELECT 1 FROM job_events e WHERE e.job_id = j.id) OR NOT EXISTS (SELECT 1 FROM models m WHERE m.job_id = j.id))
        LIMIT ?`,
    )
    .bind(cutoff, limit)
    .all<{ id: string; has_model: number }>();
  if (jobs.length > 0) {
    const [events, rows] = await db.batch([
      db.prepare('DELETE FROM job_events WHERE job_id IN (SELECT value FROM json_each(?))').bind(JSON.stringify(jobs.map((j) => j.id))),
      db
        .prepare(
          `DELETE FROM training_jobs WHERE id IN (SELECT value FROM json_each(?)) AND status IN ${FINAL_JOB_STATES_SQL}
             AND NOT EXISTS (SELECT 1 FROM models m WHERE m.job_id = training_jobs.id)`,
        )
        .bind(JSON.stringify(jobs.filter((j) => Number(j.has_model) === 0).map((j) => j.id))),
    ]);
    summary.jobEvents = events.changes;
    summary.jobs = rows.changes;
  }

  const deliveries = await db
    .prepare("SELECT id FROM webhook_deliveries WHERE status IN ('succeeded', 'failed') AND created_at < ? LIMIT ?")
    .bind(cutoff, limit)
    .all<{ id: string }>();
  if (deliveries.length > 0) {
    const ids = JSON.stringify(deliveries.map((d) => d.id));
    const [attempts, rows] = await db.batch([
      db.prepare('DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT value FROM json_each(?))').bind(ids),
      db.prepare("DELETE FROM webhook_deliveries WHERE id IN (SELECT value FROM json_each(?)) AND status IN ('succeeded', 'failed')").bind(ids),
    ]);
    summary.attempts = attempts.changes;
    summary.deliveries = rows.changes;
  }
  return summary;
}
