// `Idempotency-Key` for POSTs that create something (route middleware `idempotent()`).
//
// The first request with a key claims it (a row with status 0 and a lock token) before the handler runs, so a
// concurrent duplicate gets 409 instead of creating a second resource. The same key with a different request
// (method, path or body) is 409 conflict. Keys are scoped per API key (the admin and workers have their own scopes).
//
// Atomic routes (option `atomic`): the handler hands the domain function the statements of
// `c.var.idempotency.commitStatements(...)`, and the domain appends them to the batch that creates the resource.
// That batch completes the claim (status, resource id, the response when known then) only while the claim is still
// this request's, so:
//   - a request that fails or dies after its commit leaves a completed key: the retry gets the original response
//     (or, if the request never got to store it, the resource rendered by `atomic.replay`), never a second resource;
//   - a request that dies before its commit leaves a claim that lapses after IDEMPOTENCY_LOCK_MS: a retry then takes
//     it over (a new lock token; the old request, should it still be running, can no longer commit);
//   - an answer that is not 2xx and committed nothing frees the key (fix the request and retry with it).
// Other routes store the 2xx response after the handler; their claim holds the key for the whole TTL, as a crash
// between their commit and that store cannot be told apart from a crash before the commit.
//
// Responses holding a secret shown once (option `secret`: a new API key, a webhook signing secret) are stored with
// those fields set to null and a `note`; a replay answers that (the resource's id, and what to do instead).
import type { Context, MiddlewareHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { sha256Hex } from '../crypto.ts';
import type { SqlDatabase, SqlStatement } from '../ports.ts';
import type { AppEnv, Principal } from './context.ts';
import { ApiError, invalidRequest } from './errors.ts';
import { readBodyBytes } from './json-body.ts';

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/** How long a claim of an atomic route holds its key; after that a retry may take it over. */
export const IDEMPOTENCY_LOCK_MS = 60 * 1000;
const PENDING = 0;

interface StoredRow {
  route: string;
  request_hash: string;
  status: number;
  body: string;
  created_at: number;
  locked_at: number | null;
  resource_id: string | null;
}

/** What a request created, recorded with it. */
export interface CommitResult {
  /** The response status (e.g. 201). */
  status: number;
  /** The id of the created resource. */
  resourceId: string;
  /** The response body when the domain knows it before its batch; otherwise stored right after the handler. */
  body?: unknown;
}

/** Set on `c.var.idempotency` for atomic routes when the request carries an Idempotency-Key. */
export interface IdempotencyContext {
  /**
   * Statements to append to the domain batch that creates the resource: they complete this request's claim, and
   * make the whole batch fail (a constraint error) if the claim is no longer this request's.
   */
  commitStatements(result: CommitResult): SqlStatement[];
}

/** A replayed answer. */
export interface ReplayAnswer {
  status: number;
  body: unknown;
}

export interface IdempotencyOptions {
  /** Largest body hashed (default config.maxJsonBytes); upload routes pass their own limit. */
  maxBytes?: number;
  /**
   * The handler completes the key in its domain batch (IdempotencyContext). `replay` renders the created resource
   * for a retry whose first request committed but never stored its response.
   */
  atomic?: { replay(c: Context<AppEnv>, resourceId: string): Promise<ReplayAnswer> };
  /** Top-level response fields that hold a secret shown once: never stored; `note` says what to do instead. */
  secret?: { fields: readonly string[]; note(body: Record<string, unknown>): string };
}

/** Deletes entries older than the TTL (for the periodic maintenance task). */
export async function purgeExpiredIdempotencyKeys(db: SqlDatabase, now = Date.now()): Promise<number> {
  const { changes } = await db.prepare('DELETE FROM idempotency_keys WHERE created_at <= ?').bind(now - IDEMPOTENCY_TTL_MS).run();
  return changes;
}

/**
 * The statements a domain function appends to its batch: `commit(created)` for the created value, none when the
 * request has no Idempotency-Key (or the route is not atomic).
 */
export function idempotencyCommit<T>(c: { var: { idempotency?: IdempotencyContext } }, result: (created: T) => CommitResult): (created: T) => SqlStatement[] {
  const ctx = c.var.idempotency;
  return ctx ? (created) => ctx.commitStatements(result(created)) : () => [];
}

function scopeOf(p: Principal): string {
  return p.kind === 'tenant' ? `${p.tenantId}/${p.keyId}` : `_${p.kind}`;
}

function checkKey(key: string): void {
  if (!/^[\x21-\x7e][\x20-\x7e]{0,254}$/.test(key) || key.trim() !== key) {
    throw invalidRequest(
      'The Idempotency-Key header must be 1 to 255 printable ASCII characters without leading or trailing spaces (e.g. a UUID).',
      IDEMPOTENCY_HEADER,
    );
  }
}

const busy = (retryAfterSeconds: number) =>
  new ApiError(409, 'conflict', 'A request with this Idempotency-Key is still being processed; retry in a moment.', IDEMPOTENCY_HEADER, {
    'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))),
  });

const reused = () =>
  new ApiError(
    409,
    'conflict',
    'This Idempotency-Key was already used in the last 24 h for a different request (method, path or body); use a new key for a new request.',
    IDEMPOTENCY_HEADER,
  );

export function idempotent(opts: IdempotencyOptions = {}): MiddlewareHandler<AppEnv> {
  const lockMs = opts.atomic ? IDEMPOTENCY_LOCK_MS : IDEMPOTENCY_TTL_MS;

  const storable = (body: unknown) => withoutSecrets(opts, body);
  const storableText = (text: string): string => {
    if (!opts.secret || !text) return text;
    return JSON.stringify(storable(JSON.parse(text)));
  };

  return async (c, next) => {
    const key = c.req.header(IDEMPOTENCY_HEADER);
    if (key === undefined) return next();
    checkKey(key);
    const { db } = c.var.ports;
    const scope = scopeOf(c.var.principal);
    const route = `${c.req.method} ${new URL(c.req.url).pathname}`;
    const hash = await sha256Hex(await readBodyBytes(c, opts.maxBytes ?? c.var.config.maxJsonBytes));
    const now = Date.now();
    const token = crypto.randomUUID();
    const where = 'WHERE tenant_id = ? AND key = ?';

    await db.prepare(`DELETE FROM idempotency_keys ${where} AND created_at <= ?`).bind(scope, key, now - IDEMPOTENCY_TTL_MS).run();
    const claim = await db
      .prepare(
        `INSERT INTO idempotency_keys (tenant_id, key, route, request_hash, status, body, created_at, locked_at, lock_token)
         VALUES (?, ?, ?, ?, ${PENDING}, '', ?, ?, ?) ON CONFLICT (tenant_id, key) DO NOTHING`,
      )
      .bind(scope, key, route, hash, now, now, token)
      .run();

    if (claim.changes === 0) {
      const row = await db
        .prepare(`SELECT route, request_hash, status, body, created_at, locked_at, resource_id FROM idempotency_keys ${where}`)
        .bind(scope, key)
        .first<StoredRow>();
      if (!row) throw busy(1); // completed and purged in between: a retry claims it afresh
      const lockedUntil = (row.locked_at ?? row.created_at) + lockMs;
      if (row.status === PENDING && lockedUntil > now) throw busy((lockedUntil - now) / 1000);
      if (row.route !== route || row.request_hash !== hash) throw reused();
      if (row.status === PENDING) {
        // The claim lapsed (its request died before committing): take it over, unless another retry just did.
        const takeover = await db
          .prepare(
            `UPDATE idempotency_keys SET lock_token = ?, locked_at = ?, created_at = ?
             ${where} AND status = ${PENDING} AND COALESCE(locked_at, created_at) = ?`,
          )
          .bind(token, now, now, scope, key, row.locked_at ?? row.created_at)
          .run();
        if (takeover.changes === 0) throw busy(lockMs / 1000);
      } else {
        return replay(c, row, opts);
      }
    }

    if (opts.atomic) {
      c.set('idempotency', {
        commitStatements: (r) => [
          db
            .prepare(`UPDATE idempotency_keys SET status = ?, body = ?, resource_id = ?, locked_at = NULL ${where} AND status = ${PENDING} AND lock_token = ?`)
            .bind(r.status, r.body === undefined ? '' : JSON.stringify(storable(r.body)), r.resourceId, scope, key, token),
          // Fails the batch (NOT NULL) when the UPDATE above changed nothing: the claim was taken over.
          db.prepare(`INSERT INTO idempotency_keys (tenant_id, key, route, request_hash, status, body, created_at) SELECT NULL, '', '', '', 0, '', 0 WHERE changes() = 0`),
        ],
      });
    }

    const release = () => db.prepare(`DELETE FROM idempotency_keys ${where} AND status = ${PENDING} AND lock_token = ?`).bind(scope, key, token).run();
    try {
      await next();
    } catch (err) {
      await release();
      throw err;
    }
    // Hono turns errors thrown further down into c.res (via onError), so look at the status.
    const res = c.res;
    if (res.status < 200 || res.status >= 300) {
      await release(); // frees the key unless the request committed
      return;
    }
    const text = storableText(await res.clone().text());
    const stored = await db
      .prepare(`UPDATE idempotency_keys SET status = ?, body = ?, locked_at = NULL ${where} AND status = ${PENDING} AND lock_token = ?`)
      .bind(res.status, text, scope, key, token)
      .run();
    if (stored.changes === 0) {
      // Completed in the domain batch without its response: add it, so replays answer exactly this.
      await db.prepare(`UPDATE idempotency_keys SET body = ? ${where} AND lock_token = ? AND body = ''`).bind(text, scope, key, token).run();
    }
  };
}

/** The body as stored and replayed: the route's secret fields set to null, with its note. */
function withoutSecrets(opts: IdempotencyOptions, body: unknown): unknown {
  const s = opts.secret;
  if (!s || typeof body !== 'object' || body === null || Array.isArray(body)) return body;
  const out: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  for (const f of s.fields) if (f in out) out[f] = null;
  out.note = s.note(out);
  return out;
}

async function replay(c: Context<AppEnv>, row: StoredRow, opts: IdempotencyOptions): Promise<Response> {
  const headers = { 'Idempotent-Replayed': 'true' };
  if (row.body) return c.body(row.body, row.status as ContentfulStatusCode, { ...headers, 'Content-Type': 'application/json' });
  if (row.resource_id !== null && opts.atomic) {
    // The request committed, then failed or died before it could store its response: render what it created.
    const answer = await opts.atomic.replay(c, row.resource_id);
    return c.json(withoutSecrets(opts, answer.body), answer.status as ContentfulStatusCode, headers);
  }
  return c.body(null, row.status as ContentfulStatusCode, headers);
}

/**
 * The `atomic` option of routes whose domain function stores the whole response with the key, in its batch (the
 * response is known before the batch: e.g. the images of an upload): a replay always has that stored body.
 */
export const STORED_WITH_KEY: NonNullable<IdempotencyOptions['atomic']> = {
  replay: () => Promise.reject(new Error('the response of this route is stored with its Idempotency-Key in the same batch')),
};
