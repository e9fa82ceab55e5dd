// Per-worker tokens (docs/security.md G6): issued and revoked by the operator (POST/GET/DELETE /v1/workers), stored
// like API keys (only sha256 + a display prefix), each naming one worker. A worker authenticating with one may lease
// work and drive only the leases it took (leaseHeldBy); a revoked token stops working at once. The configured
// WORKER_TOKEN stays valid as the bootstrap/legacy token (edge/http/auth.ts).
import { quoteId } from '../../shared/util/quote.ts';
import { ADMIN_ACTOR, auditStatement, auditStatementIf } from '../audit/audit.ts';
import { randomString, sha256Hex } from '../crypto.ts';
import { conflict, notFound } from '../http/errors.ts';
import { type Pagination, listPage } from '../http/pagination.ts';
import { newId } from '../ids.ts';
import type { SqlDatabase } from '../ports.ts';
import { LAST_USED_RESOLUTION_MS } from '../tenants/tenants.ts';

export const WORKER_TOKEN_PREFIX = 'wkt_live_';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const WORKER_TOKEN_PATTERN = /^wkt_live_[0-9A-Za-z]{32}$/;
/** Characters kept for display (`wkt_live_` + 4). */
const DISPLAY_LEN = WORKER_TOKEN_PREFIX.length + 4;

export interface CreatedWorkerToken {
  id: string;
  name: string;
  token: string;
  prefix: string;
  created_at: string;
}

/** A new worker token (shown once; stored as its sha256), with its audit event in the same batch. */
export async function createWorkerToken(db: SqlDatabase, name: string): Promise<CreatedWorkerToken> {
  const now = new Date();
  const id = newId('workerToken', now.getTime());
  const token = WORKER_TOKEN_PREFIX + randomString(32, BASE62);
  const prefix = token.slice(0, DISPLAY_LEN);
  await db.batch([
    db
      .prepare('INSERT INTO worker_tokens (id, name, token_hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)')
      .bind(id, name, await sha256Hex(token), prefix, now.toISOString()),
    auditStatement(db, { tenantId: null, actor: ADMIN_ACTOR, action: 'worker_token.created', target: { type: 'worker_token', id }, data: { name, prefix } }, now),
  ]);
  return { id, name, token, prefix, created_at: now.toISOString() };
}

interface WorkerTokenRow {
  id: string;
  name: string;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

/** A page of the worker tokens, newest first (revoked ones included; never the token or its hash). */
export function listWorkerTokens(db: SqlDatabase, page: Pagination) {
  return listPage<WorkerTokenRow>(db, { from: 'worker_tokens', columns: 'id, name, prefix, created_at, last_used_at, revoked_at', where: '1 = 1', binds: [], order: 'desc' }, page);
}

/** Revokes an active worker token (refused from the next request on), with its audit event; 404 when there is none. */
export async function revokeWorkerToken(db: SqlDatabase, id: string): Promise<void> {
  const now = new Date();
  const active = { sql: 'EXISTS (SELECT 1 FROM worker_tokens WHERE id = ? AND revoked_at IS NULL)', binds: [id] };
  const [, revoked] = await db.batch([
    auditStatementIf(db, { tenantId: null, actor: ADMIN_ACTOR, action: 'worker_token.revoked', target: { type: 'worker_token', id } }, active, now),
    db.prepare('UPDATE worker_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').bind(now.toISOString(), id),
  ]);
  if (revoked.changes === 0) throw notFound(`No active worker token with id ${quoteId(id)}.`, 'id');
}

/** The token row with this token (revoked or not), for authentication; last_used_at noted at most once a minute. */
export async function workerTokenRow(db: SqlDatabase, token: string): Promise<{ id: string; revoked_at: string | null } | null> {
  const row = await db
    .prepare('SELECT id, revoked_at, last_used_at FROM worker_tokens WHERE token_hash = ?')
    .bind(await sha256Hex(token))
    .first<{ id: string; revoked_at: string | null; last_used_at: string | null }>();
  if (row && row.revoked_at === null) {
    const now = new Date();
    const threshold = new Date(now.getTime() - LAST_USED_RESOLUTION_MS).toISOString();
    if (row.last_used_at === null || row.last_used_at <= threshold) {
      await db
        .prepare('UPDATE worker_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)')
        .bind(now.toISOString(), row.id, threshold)
        .run();
    }
  }
  return row;
}

/**
 * For a per-worker token: 409 when lease `leaseId` of the job was taken by another worker. A lease records the
 * worker that took it (lease_worker = the token's id) and keeps it until it ends, so once this passes the lease is
 * this worker's; when the job has no such lease the queue's own checks answer (404 / 409).
 */
export async function requireOwnLease(db: SqlDatabase, o: { jobId: string; leaseId: string; workerId: string }): Promise<void> {
  const row = await db
    .prepare('SELECT lease_worker FROM training_jobs WHERE id = ? AND lease_id = ?')
    .bind(o.jobId, o.leaseId)
    .first<{ lease_worker: string | null }>();
  if (row && row.lease_worker !== o.workerId) {
    throw conflict(`Lease ${quoteId(o.leaseId)} of job ${quoteId(o.jobId)} was taken by another worker; a worker may only drive the leases it took.`, 'lease_id');
  }
}
