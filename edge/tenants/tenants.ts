// Tenants and their API keys: creating a tenant with its first key, the tenant of a key, more keys (optionally
// expiring), listing and revoking keys, and the key lookup of authentication (edge/http/auth.ts). A key is stored
// only as its sha256 (edge/ids.ts newApiKey); the key itself is returned once, to the caller that created it.
// Every change writes its audit event (edge/audit/audit.ts) in the same batch.
import { quoteId } from '../../shared/util/quote.ts';
import { ADMIN_ACTOR, type Actor, auditStatement, auditStatementIf } from '../audit/audit.ts';
import { notFound } from '../http/errors.ts';
import { type Pagination, listPage } from '../http/pagination.ts';
import { newApiKey, newId } from '../ids.ts';
import type { SqlDatabase, SqlStatement } from '../ports.ts';

/** last_used_at is written when the stored value is older than this (at most one write per key per minute). */
export const LAST_USED_RESOLUTION_MS = 60_000;

async function insertKeyStatements(db: SqlDatabase, o: { tenantId: string; actor: Actor; now: Date; expiresAt: string | null }) {
  const id = newId('apiKey', o.now.getTime());
  const key = await newApiKey();
  const statements = [
    db
      .prepare('INSERT INTO api_keys (id, tenant_id, key_hash, prefix, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)')
      .bind(id, o.tenantId, key.hash, key.prefix, o.now.toISOString(), o.expiresAt),
    auditStatement(
      db,
      { tenantId: o.tenantId, actor: o.actor, action: 'api_key.created', target: { type: 'api_key', id }, data: { prefix: key.prefix, expires_at: o.expiresAt } },
      o.now,
    ),
  ];
  return { id, key: key.key, statements };
}

export interface CreatedTenant {
  id: string;
  name: string;
  api_key: string;
}

/** A new tenant and its first API key, in one batch (with `commit`'s statements: the request's Idempotency-Key). */
export async function createTenant(db: SqlDatabase, name: string, commit: (created: CreatedTenant) => SqlStatement[] = () => []): Promise<CreatedTenant> {
  const now = new Date();
  const id = newId('tenant', now.getTime());
  // The tenant's event first: event ids order the log, and they are made in this order.
  const event = auditStatement(db, { tenantId: id, actor: ADMIN_ACTOR, action: 'tenant.created', target: { type: 'tenant', id }, data: { name } }, now);
  const key = await insertKeyStatements(db, { tenantId: id, actor: ADMIN_ACTOR, now, expiresAt: null });
  const created = { id, name, api_key: key.key };
  await db.batch([
    db.prepare('INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)').bind(id, name, now.toISOString()),
    event,
    ...key.statements,
    ...commit(created),
  ]);
  return created;
}

/** The tenant's id and name; 404 when it no longer exists. */
export async function requireTenantRecord(db: SqlDatabase, tenantId: string): Promise<{ id: string; name: string }> {
  const tenant = await db.prepare('SELECT id, name FROM tenants WHERE id = ?').bind(tenantId).first<{ id: string; name: string }>();
  if (!tenant) throw notFound('The tenant of this API key no longer exists.');
  return tenant;
}

export interface CreatedApiKey {
  id: string;
  api_key: string;
  expires_at: string | null;
}

/** One more API key of the tenant (in one batch with its audit event and `commit`'s statements: the Idempotency-Key). */
export async function createApiKey(
  db: SqlDatabase,
  o: { tenantId: string; actor: Actor; expiresAt: string | null },
  commit: (created: CreatedApiKey) => SqlStatement[] = () => [],
): Promise<CreatedApiKey> {
  const key = await insertKeyStatements(db, { ...o, now: new Date() });
  const created = { id: key.id, api_key: key.key, expires_at: o.expiresAt };
  await db.batch([...key.statements, ...commit(created)]);
  return created;
}

/** Revokes an active key of the tenant (it stops working at once), with its audit event; 404 when there is none with that id. */
export async function revokeApiKey(db: SqlDatabase, o: { tenantId: string; keyId: string; actor: Actor }): Promise<void> {
  const now = new Date();
  const active = { sql: 'EXISTS (SELECT 1 FROM api_keys WHERE id = ? AND tenant_id = ? AND revoked_at IS NULL)', binds: [o.keyId, o.tenantId] };
  const [, revoked] = await db.batch([
    auditStatementIf(db, { tenantId: o.tenantId, actor: o.actor, action: 'api_key.revoked', target: { type: 'api_key', id: o.keyId } }, active, now),
    db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND tenant_id = ? AND revoked_at IS NULL').bind(now.toISOString(), o.keyId, o.tenantId),
  ]);
  if (revoked.changes === 0) throw notFound(`No active API key with id ${quoteId(o.keyId)} in your tenant.`, 'id');
}

export interface ApiKeyAuthRow {
  id: string;
  tenant_id: string;
  revoked_at: string | null;
  expires_at: string | null;
  last_used_at: string | null;
  suspended_at: string | null;
  /** The tenant's overrides of quotas and rate limit (JSON, edge/tenants/limits.ts). */
  limits: string;
}

/** The key row with this hash (revoked or not), whether its tenant is suspended and its limits, for authentication. */
export function apiKeyByHash(db: SqlDatabase, keyHash: string): Promise<ApiKeyAuthRow | null> {
  return db
    .prepare(
      `SELECT k.id, k.tenant_id, k.revoked_at, k.expires_at, k.last_used_at, t.suspended_at, t.limits
         FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.key_hash = ?`,
    )
    .bind(keyHash)
    .first<ApiKeyAuthRow>();
}

/**
 * Records that the key was used now, when its stored last_used_at is older than LAST_USED_RESOLUTION_MS (or unset):
 * at most one write per key per minute, never one per request.
 */
export async function noteApiKeyUse(db: SqlDatabase, row: Pick<ApiKeyAuthRow, 'id' | 'last_used_at'>, now = new Date()): Promise<void> {
  const threshold = new Date(now.getTime() - LAST_USED_RESOLUTION_MS).toISOString();
  if (row.last_used_at !== null && row.last_used_at > threshold) return;
  await db
    .prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)')
    .bind(now.toISOString(), row.id, threshold)
    .run();
}

interface KeyRow {
  id: string;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
}

/** The tenant's key `id` as listed, or null. */
export function getApiKey(db: SqlDatabase, tenantId: string, id: string): Promise<KeyRow | null> {
  return db
    .prepare('SELECT id, prefix, created_at, last_used_at, expires_at, revoked_at FROM api_keys WHERE id = ? AND tenant_id = ?')
    .bind(id, tenantId)
    .first<KeyRow>();
}

/** A page of the tenant's keys, newest first, revoked and expired ones included (never the key or its hash). */
export async function listApiKeys(db: SqlDatabase, tenantId: string, page: Pagination) {
  return listPage<KeyRow>(
    db,
    { from: 'api_keys', columns: 'id, prefix, created_at, last_used_at, expires_at, revoked_at', where: 'tenant_id = ?', binds: [tenantId], order: 'desc' },
    page,
  );
}
