// Tenants and their API keys: creating a tenant with its first key, the tenant of a key, more keys,
// revoking a key, and the key lookup of authentication (edge/http/auth.ts). A key is stored only as its
// sha256 (edge/ids.ts newApiKey); the key itself is returned once, to the caller that created it.
import { quoteId } from '../../shared/util/quote.ts';
import { notFound } from '../http/errors.ts';
import { newApiKey, newId } from '../ids.ts';
import type { SqlDatabase, SqlStatement } from '../ports.ts';

async function insertKeyStatement(db: SqlDatabase, tenantId: string, createdAt: string) {
  const id = newId('apiKey');
  const key = await newApiKey();
  const stmt = db
    .prepare('INSERT INTO api_keys (id, tenant_id, key_hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)')
    .bind(id, tenantId, key.hash, key.prefix, createdAt);
  return { id, key: key.key, stmt };
}

export interface CreatedTenant {
  id: string;
  name: string;
  api_key: string;
}

/** A new tenant and its first API key, in one batch (with `commit`'s statements: the request's Idempotency-Key). */
export async function createTenant(db: SqlDatabase, name: string, commit: (created: CreatedTenant) => SqlStatement[] = () => []): Promise<CreatedTenant> {
  const id = newId('tenant');
  const now = new Date().toISOString();
  const key = await insertKeyStatement(db, id, now);
  const created = { id, name, api_key: key.key };
  await db.batch([db.prepare('INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)').bind(id, name, now), key.stmt, ...commit(created)]);
  return created;
}

/** The tenant's id and name; 404 when it no longer exists. */
export async function requireTenantRecord(db: SqlDatabase, tenantId: string): Promise<{ id: string; name: string }> {
  const tenant = await db.prepare('SELECT id, name FROM tenants WHERE id = ?').bind(tenantId).first<{ id: string; name: string }>();
  if (!tenant) throw notFound('The tenant of this API key no longer exists.');
  return tenant;
}

/** One more API key of the tenant (in one batch with `commit`'s statements: the request's Idempotency-Key). */
export async function createApiKey(
  db: SqlDatabase,
  tenantId: string,
  commit: (created: { id: string; api_key: string }) => SqlStatement[] = () => [],
): Promise<{ id: string; api_key: string }> {
  const key = await insertKeyStatement(db, tenantId, new Date().toISOString());
  const created = { id: key.id, api_key: key.key };
  await db.batch([key.stmt, ...commit(created)]);
  return created;
}

/** Revokes an active key of the tenant (it stops working at once); 404 when there is none with that id. */
export async function revokeApiKey(db: SqlDatabase, tenantId: string, keyId: string): Promise<void> {
  const { changes } = await db
    .prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND tenant_id = ? AND revoked_at IS NULL')
    .bind(new Date().toISOString(), keyId, tenantId)
    .run();
  if (changes === 0) throw notFound(`No active API key with id ${quoteId(keyId)} in your tenant.`, 'id');
}

/** The key row with this hash (revoked or not), for authentication. */
export function apiKeyByHash(db: SqlDatabase, keyHash: string): Promise<{ id: string; tenant_id: string; revoked_at: string | null } | null> {
  return db
    .prepare('SELECT id, tenant_id, revoked_at FROM api_keys WHERE key_hash = ?')
    .bind(keyHash)
    .first<{ id: string; tenant_id: string; revoked_at: string | null }>();
}
