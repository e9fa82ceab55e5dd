// The audit log: one row per change of an API key, a webhook endpoint, a tenant or a worker token, written in the
// same batch as the change (so there is no change without its row, and no row without its change). Tenants read
// theirs with GET /v1/audit-events; rows of no tenant (worker tokens) have tenant_id NULL.
//
//   auditStatement     the INSERT of one event (for a batch that certainly makes the change)
//   auditStatementIf   the INSERT made only when a condition holds in the same transaction (put it before the
//                      change's statement, with the change's own WHERE as condition: the row exists iff the change)
//   withFirstWrite     a database whose next write carries extra statements in its batch (for changes made by
//                      another module's function that takes no statements of its own)
//   listAuditEvents    a page of a tenant's events, newest first
import type { Principal } from '../http/context.ts';
import type { Pagination } from '../http/pagination.ts';
import { listPage } from '../http/pagination.ts';
import { newId } from '../ids.ts';
import type { SqlDatabase, SqlStatement, SqlValue } from '../ports.ts';

export type AuditAction =
  | 'tenant.created'
  | 'tenant.suspended'
  | 'tenant.unsuspended'
  | 'tenant.limits_updated'
  | 'api_key.created'
  | 'api_key.revoked'
  | 'webhook_endpoint.created'
  | 'webhook_endpoint.updated'
  | 'webhook_endpoint.deleted'
  | 'webhook_endpoint.secret_rotated'
  | 'worker_token.created'
  | 'worker_token.revoked';

export const AUDIT_ACTIONS: readonly AuditAction[] = [
  'tenant.created',
  'tenant.suspended',
  'tenant.unsuspended',
  'tenant.limits_updated',
  'api_key.created',
  'api_key.revoked',
  'webhook_endpoint.created',
  'webhook_endpoint.updated',
  'webhook_endpoint.deleted',
  'webhook_endpoint.secret_rotated',
  'worker_token.created',
  'worker_token.revoked',
];

export type TargetType = 'tenant' | 'api_key' | 'webhook_endpoint' | 'worker_token';

/** Who made a change: a tenant's API key (its id) or the operator (the admin token, no id). */
export type Actor = { type: 'api_key'; id: string } | { type: 'admin'; id: null };

export const ADMIN_ACTOR: Actor = { type: 'admin', id: null };

/** The actor of a request's principal (tenant key or admin); workers change nothing that is audited. */
export function actorOf(p: Principal): Actor {
  if (p.kind === 'tenant') return { type: 'api_key', id: p.keyId };
  if (p.kind === 'admin') return ADMIN_ACTOR;
  throw new Error('a worker is not an audit actor');
}

export interface AuditEntry {
  /** The tenant the event belongs to; null for worker tokens. */
  tenantId: string | null;
  actor: Actor;
  action: AuditAction;
  target: { type: TargetType; id: string };
  data?: Record<string, SqlValue | boolean | string[]>;
}

const INSERT = 'INSERT INTO audit_events (id, tenant_id, created_at, actor_type, actor_id, action, target_type, target_id, data)';

function values(e: AuditEntry, now: Date): SqlValue[] {
  return [
    newId('auditEvent', now.getTime()),
    e.tenantId,
    now.toISOString(),
    e.actor.type,
    e.actor.id,
    e.action,
    e.target.type,
    e.target.id,
    e.data === undefined ? null : JSON.stringify(e.data),
  ];
}

/** The INSERT of one event. */
export function auditStatement(db: SqlDatabase, e: AuditEntry, now = new Date()): SqlStatement {
  return db.prepare(`${INSERT} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).bind(...values(e, now));
}

/**
 * The INSERT of one event, made only when `when` (trusted SQL with ? placeholders) holds at that point of the batch.
 * Put it before the change's statement with the change's WHERE as `when`: in one transaction, the row is written
 * exactly when the change is made.
 */
export function auditStatementIf(db: SqlDatabase, e: AuditEntry, when: { sql: string; binds: SqlValue[] }, now = new Date()): SqlStatement {
  return db.prepare(`${INSERT} SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE ${when.sql}`).bind(...values(e, now), ...when.binds);
}

/**
 * A database whose first write (a `batch`, or a statement's `run`) runs `before` in front of its own statements,
 * in the same batch (one transaction); the answers of `before` are dropped, so the caller sees its own. Reads and
 * later writes go through unchanged. For changes made by a function of another module that takes no statements:
 * each of `before` must be conditional on what that write changes (auditStatementIf).
 */
export function withFirstWrite(db: SqlDatabase, before: SqlStatement[]): SqlDatabase {
  let pending: SqlStatement[] | null = before;
  // The adapter's batch takes only its own statements: each wrapper is mapped back to the statement it wraps.
  const inner = new WeakMap<SqlStatement, SqlStatement>();
  const batch = async (statements: SqlStatement[]) => {
    const extra = pending ?? [];
    pending = null;
    const results = await db.batch([...extra, ...statements.map((s) => inner.get(s) ?? s)]);
    return results.slice(extra.length);
  };
  const wrap = (stmt: SqlStatement): SqlStatement => {
    const wrapper: SqlStatement = {
      bind: (...v) => wrap(stmt.bind(...v)),
      first: () => stmt.first(),
      all: () => stmt.all(),
      run: async () => {
        if (pending === null) return stmt.run();
        const [result] = await batch([stmt]);
        return result;
      },
    };
    inner.set(wrapper, stmt);
    return wrapper;
  };
  return { prepare: (sql) => wrap(db.prepare(sql)), batch };
}

/**
 * The database for a change of the tenant's webhook endpoint `id` made by edge/webhooks/endpoints.ts (deleteEndpoint,
 * rotateSecret): its write carries the audit event in the same batch, written only when the endpoint exists at that
 * point of the transaction, so exactly when the change is made.
 */
export function auditedEndpointChange(
  db: SqlDatabase,
  o: { tenantId: string; actor: Actor; id: string; action: 'webhook_endpoint.deleted' | 'webhook_endpoint.secret_rotated' },
): SqlDatabase {
  return withFirstWrite(db, [endpointAuditStatement(db, o)]);
}

/**
 * The audit INSERT of a change of the tenant's webhook endpoint `id`, written only when the endpoint exists at that
 * point of the batch: put it before the change (updateEndpoint in edge/webhooks/endpoints.ts takes it so).
 */
export function endpointAuditStatement(
  db: SqlDatabase,
  o: { tenantId: string; actor: Actor; id: string; action: AuditAction; data?: AuditEntry['data'] },
): SqlStatement {
  const exists = { sql: 'EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = ? AND tenant_id = ?)', binds: [o.id, o.tenantId] };
  return auditStatementIf(db, { tenantId: o.tenantId, actor: o.actor, action: o.action, target: { type: 'webhook_endpoint', id: o.id }, data: o.data }, exists);
}

interface AuditRow {
  id: string;
  created_at: string;
  actor_type: 'api_key' | 'admin';
  actor_id: string | null;
  action: AuditAction;
  target_type: TargetType;
  target_id: string;
  data: string | null;
}

export function auditEventObject(r: AuditRow) {
  return {
    id: r.id,
    created_at: r.created_at,
    actor: { type: r.actor_type, id: r.actor_id },
    action: r.action,
    target: { type: r.target_type, id: r.target_id },
    ...(r.data !== null ? { data: JSON.parse(r.data) as Record<string, unknown> } : {}),
  };
}

/** A page of the tenant's audit events, newest first. */
export async function listAuditEvents(db: SqlDatabase, tenantId: string, page: Pagination) {
  const rows = await listPage<AuditRow>(db, { from: 'audit_events', where: 'tenant_id = ?', binds: [tenantId], order: 'desc' }, page);
  return { data: rows.data.map(auditEventObject), has_more: rows.has_more };
}
