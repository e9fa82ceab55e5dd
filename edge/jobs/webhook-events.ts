// The webhook outbox rows of a job event, for the same db.batch as the job's state change
// (edge/webhooks/outbox.ts writes one webhook_deliveries row per subscribed, enabled endpoint).
import type { SqlDatabase, SqlStatement } from '../ports.ts';
import { outboxStatements } from '../webhooks/outbox.ts';

export type JobEventType = 'training_job.succeeded' | 'training_job.failed' | 'training_job.cancelled' | 'training_job.started';
export type EvaluationEventType = 'evaluation.succeeded' | 'evaluation.failed';
/** Every webhook event of the worker queue's rows. */
export type WorkEventType = JobEventType | EvaluationEventType;

export function jobWebhookStatements(
  db: SqlDatabase,
  tenantId: string,
  eventType: WorkEventType,
  data: Record<string, unknown>,
  now: Date,
): Promise<SqlStatement[]> {
  return outboxStatements(db, tenantId, eventType, data, now);
}
