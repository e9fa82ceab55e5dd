// Tenant suspension (admin): a suspended tenant's API keys are refused with 403 on every /v1 route
// (edge/http/auth.ts requireTenant) until it is unsuspended. Suspending also cancels the tenant's unfinished
// training jobs (queued ones at once, running ones through their worker: the job queue's cancelJob), so a suspended
// tenant uses no GPU; unsuspending restores access but not the cancelled jobs. The state change and its audit event
// are one batch; the cancels follow, one job at a time, and suspending again finishes any a crash left behind.
import { quoteId } from '../../shared/util/quote.ts';
import { ADMIN_ACTOR, auditStatementIf } from '../audit/audit.ts';
import { ApiError, notFound } from '../http/errors.ts';
import { cancelJob } from '../jobs/queue.ts';
import type { SqlDatabase } from '../ports.ts';

export interface TenantState {
  id: string;
  name: string;
  created_at: string;
  suspended_at: string | null;
}

async function tenantState(db: SqlDatabase, id: string): Promise<TenantState> {
  const row = await db.prepare('SELECT id, name, created_at, suspended_at FROM tenants WHERE id = ?').bind(id).first<TenantState>();
  if (!row) throw notFound(`No tenant with id ${quoteId(id)}.`, 'id');
  return row;
}

/** Suspends the tenant (no change and no new event when it already is) and cancels its unfinished training jobs. */
export async function suspendTenant(db: SqlDatabase, id: string): Promise<TenantState & { cancelled_jobs: string[] }> {
  const now = new Date();
  const active = { sql: 'EXISTS (SELECT 1 FROM tenants WHERE id = ? AND suspended_at IS NULL)', binds: [id] };
  await db.batch([
    auditStatementIf(db, { tenantId: id, actor: ADMIN_ACTOR, action: 'tenant.suspended', target: { type: 'tenant', id } }, active, now),
    db.prepare('UPDATE tenants SET suspended_at = ? WHERE id = ? AND suspended_at IS NULL').bind(now.toISOString(), id),
  ]);
  const state = await tenantState(db, id);
  return { ...state, cancelled_jobs: await cancelUnfinishedJobs(db, id) };
}

/** Lifts the suspension (no change and no new event when the tenant is not suspended). */
export async function unsuspendTenant(db: SqlDatabase, id: string): Promise<TenantState> {
  const now = new Date();
  const suspended = { sql: 'EXISTS (SELECT 1 FROM tenants WHERE id = ? AND suspended_at IS NOT NULL)', binds: [id] };
  await db.batch([
    auditStatementIf(db, { tenantId: id, actor: ADMIN_ACTOR, action: 'tenant.unsuspended', target: { type: 'tenant', id } }, suspended, now),
    db.prepare('UPDATE tenants SET suspended_at = NULL WHERE id = ?').bind(id),
  ]);
  return tenantState(db, id);
}

/** Cancels the tenant's queued and running training jobs (a job that finished meanwhile is left alone); their ids. */
async function cancelUnfinishedJobs(db: SqlDatabase, tenantId: string): Promise<string[]> {
  const jobs = await db
    .prepare("SELECT id FROM training_jobs WHERE tenant_id = ? AND kind = 'training' AND status IN ('queued', 'running') ORDER BY id")
    .bind(tenantId)
    .all<{ id: string }>();
  const cancelled: string[] = [];
  for (const { id } of jobs) {
    try {
      await cancelJob(db, { tenantId, jobId: id });
      cancelled.push(id);
    } catch (err) {
      if (!(err instanceof ApiError && (err.status === 409 || err.status === 404))) throw err;
    }
  }
  return cancelled;
}
