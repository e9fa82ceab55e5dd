// `Idempotency-Key` for POSTs that create something (route middleware `idempotent()`).
//
// The first request with a key claims it (a row with status 0) before the handler runs, so a
// concurrent duplicate gets 409 instead of creating a second resource. A 2xx response is stored and
// replayed for the same key + same method, path and body within 24 h (header Idempotent-Replayed: true);
// the same key with a different request is 409 conflict. A non-2xx response releases the key, so the
// client can fix the request and retry with it. Keys are scoped per API key (the admin and workers have their
// own scopes): a stored response — which may hold a secret shown once, e.g. a new API key or webhook secret — is
// replayed only to the key that made the request, never to another key of the tenant.
import type { MiddlewareHandler } from 'hono';
import type { ContentfulStatusCode, StatusCode } from 'hono/utils/http-status';
import { sha256Hex } from '../crypto.ts';
import type { SqlDatabase } from '../ports.ts';
import type { AppEnv } from './context.ts';
import { conflict, invalidRequest } from './errors.ts';
import { readBodyBytes } from './json-body.ts';

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const PENDING = 0;

interface StoredRow {
  route: string;
  request_hash: string;
  status: number;
  body: string;
}

/** Deletes entries older than the TTL (for the periodic maintenance task). */
export async function purgeExpiredIdempotencyKeys(db: SqlDatabase, now = Date.now()): Promise<number> {
  const { changes } = await db.prepare('DELETE FROM idempotency_keys WHERE created_at <= ?').bind(now - IDEMPOTENCY_TTL_MS).run();
  return changes;
}

export interface IdempotencyOptions {
  /** Largest body hashed (default config.maxJsonBytes); upload routes pass their own limit. */
  maxBytes?: number;
}

export function idempotent(opts: IdempotencyOptions = {}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const key = c.req.header(IDEMPOTENCY_HEADER);
    if (key === undefined) return next();
    if (!/^[\x21-\x7e][\x20-\x7e]{0,254}$/.test(key) || key.trim() !== key) {
      throw invalidRequest(
        'The Idempotency-Key header must be 1 to 255 printable ASCII characters without leading or trailing spaces (e.g. a UUID).',
        IDEMPOTENCY_HEADER,
      );
    }
    const { db } = c.var.ports;
    const p = c.var.principal;
    const scope = p.kind === 'tenant' ? `${p.tenantId}/${p.keyId}` : `_${p.kind}`;
    const route = `${c.req.method} ${new URL(c.req.url).pathname}`;
    const body = await readBodyBytes(c, opts.maxBytes ?? c.var.config.maxJsonBytes);
    const hash = await sha256Hex(body);
    const now = Date.now();

    await db
      .prepare('DELETE FROM idempotency_keys WHERE tenant_id = ? AND key = ? AND created_at <= ?')
      .bind(scope, key, now - IDEMPOTENCY_TTL_MS)
      .run();
    const claim = await db
      .prepare(
        `INSERT INTO idempotency_keys (tenant_id, key, route, request_hash, status, body, created_at)
         VALUES (?, ?, ?, ?, ${PENDING}, '', ?) ON CONFLICT (tenant_id, key) DO NOTHING`,
      )
      .bind(scope, key, route, hash, now)
      .run();

    if (claim.changes === 0) {
      const row = await db
        .prepare('SELECT route, request_hash, status, body FROM idempotency_keys WHERE tenant_id = ? AND key = ?')
        .bind(scope, key)
        .first<StoredRow>();
      if (!row || row.status === PENDING) {
        throw conflict('A request with this Idempotency-Key is still being processed; retry in a moment.', IDEMPOTENCY_HEADER);
      }
      if (row.route !== route || row.request_hash !== hash) {
        throw conflict(
          'This Idempotency-Key was already used in the last 24 h for a different request (method, path or body); use a new key for a new request.',
          IDEMPOTENCY_HEADER,
        );
      }
      if (!row.body) return c.body(null, row.status as StatusCode, { 'Idempotent-Replayed': 'true' });
      return c.body(row.body, row.status as ContentfulStatusCode, { 'Idempotent-Replayed': 'true', 'Content-Type': 'application/json' });
    }

    const release = () => db.prepare('DELETE FROM idempotency_keys WHERE tenant_id = ? AND key = ?').bind(scope, key).run();
    try {
      await next();
    } catch (err) {
      await release();
      throw err;
    }
    // Hono turns errors thrown further down into c.res (via onError), so also look at the status.
    const res = c.res;
    if (res.status >= 200 && res.status < 300) {
      const text = await res.clone().text();
      await db
        .prepare('UPDATE idempotency_keys SET status = ?, body = ? WHERE tenant_id = ? AND key = ?')
        .bind(res.status, text, scope, key)
        .run();
    } else {
      await release();
    }
  };
}
