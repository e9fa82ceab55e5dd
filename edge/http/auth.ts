// Who is calling: `Authorization: Bearer <token>` is the admin token, the configured worker token, a per-worker
// token (`wkt_live_…`, issued by POST /v1/workers), or a tenant API key. Per-worker tokens and API keys are looked up
// by their sha256 on every request, so a revoked one stops working at once; an expired key is refused (401) and a
// suspended tenant's key is refused by requireTenant (403). last_used_at is written at most once a minute.
//
// `authenticate` runs on every /v1 request (401 unless the token is one of the three); each route then
// states who may call it with `requireTenant` / `requireAdmin` / `requireWorker` in its `middleware`.
import type { Context, MiddlewareHandler } from 'hono';
import { timingSafeEqual } from '../crypto.ts';
import { API_KEY_PATTERN, hashApiKey } from '../ids.ts';
import type { SqlDatabase } from '../ports.ts';
import { parseTenantLimits, withTenantQuotas } from '../tenants/limits.ts';
import { apiKeyByHash, noteApiKeyUse } from '../tenants/tenants.ts';
import { WORKER_TOKEN_PATTERN, workerTokenRow } from '../worker-tokens/worker-tokens.ts';
import type { AppEnv, Principal, TenantEnv, TenantPrincipal, WorkerPrincipal } from './context.ts';
import { ApiError, forbidden, unauthorized } from './errors.ts';
import { rateLimitsOf, tooManyAuthFailures } from './rate-limit.ts';

/** The token of `Authorization: Bearer <token>`; 401 when the header is missing or not of that form. */
export function bearerToken(c: Context): string {
  const header = c.req.header('authorization');
  if (!header || !header.trim()) {
    throw unauthorized('Missing API key: send it as "Authorization: Bearer <api key>".');
  }
  const m = /^\s*Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) throw unauthorized('Malformed Authorization header: use "Authorization: Bearer <api key>".');
  return m[1];
}

/** The tenant and key of an API key; 401 when it is malformed, unknown, revoked or expired. */
export async function resolveApiKey(db: SqlDatabase, key: string, now: Date = new Date()): Promise<TenantPrincipal> {
  if (!API_KEY_PATTERN.test(key)) {
    throw unauthorized('Invalid API key: keys look like "ck_live_" followed by 32 letters and digits; check for copy errors.');
  }
  const row = await apiKeyByHash(db, await hashApiKey(key));
  if (!row) throw unauthorized('Invalid API key: no key matches it; check for copy errors or create a new key.');
  if (row.revoked_at !== null) throw unauthorized(`This API key (${row.id}) has been revoked; use another key of your tenant.`);
  if (row.expires_at !== null && row.expires_at <= now.toISOString()) {
    throw unauthorized(`This API key (${row.id}) expired at ${row.expires_at}; use another key of your tenant, or create one (POST /v1/api-keys).`);
  }
  await noteApiKeyUse(db, row, now);
  return { kind: 'tenant', tenantId: row.tenant_id, keyId: row.id, suspended: row.suspended_at !== null, limits: parseTenantLimits(row.limits) };
}

/** The worker of a per-worker token; 401 when it is unknown or revoked. */
export async function resolveWorkerToken(db: SqlDatabase, token: string): Promise<WorkerPrincipal> {
  const row = await workerTokenRow(db, token);
  if (!row) throw unauthorized('Invalid worker token: no worker token matches it; check for copy errors.');
  if (row.revoked_at !== null) throw unauthorized(`This worker token (${row.id}) has been revoked; ask the operator for a new one (POST /v1/workers).`);
  return { kind: 'worker', workerId: row.id };
}

/** Resolves the bearer token to a principal. Admin and worker tokens are compared in constant time. */
export async function resolvePrincipal(c: Context<AppEnv>): Promise<Principal> {
  const token = bearerToken(c);
  const { config, ports } = c.var;
  // Both comparisons always run, so timing does not tell which token was close.
  const admin = timingSafeEqual(token, config.adminToken);
  const worker = timingSafeEqual(token, config.workerToken);
  if (admin) return { kind: 'admin' };
  if (worker) return { kind: 'worker', workerId: null };
  if (WORKER_TOKEN_PATTERN.test(token)) return resolveWorkerToken(ports.db, token);
  return resolveApiKey(ports.db, token, config.clock());
}

/**
 * resolvePrincipal under the failed-authentication limit of the client's address: 429 while the address is
 * blocked (before the token is looked at), and each 401 counted (the one over the limit is a 429 too).
 */
async function limitedPrincipal(c: Context<AppEnv>): Promise<Principal> {
  const limits = rateLimitsOf(c.var.ports, c.var.config);
  const address = limits.clientAddress(c);
  if (address === undefined) return resolvePrincipal(c);
  const wait = await limits.authFailures.blockedFor(address);
  if (wait > 0) throw tooManyAuthFailures(wait);
  try {
    return await resolvePrincipal(c);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      const blocked = await limits.authFailures.recordFailure(address);
      if (blocked > 0) throw tooManyAuthFailures(blocked);
    }
    throw err;
  }
}

/** Sets the request's principal; a tenant's request gets a config with the tenant's effective quotas. */
function setPrincipal(c: Context<AppEnv>, p: Principal): void {
  c.set('principal', p);
  if (p.kind === 'tenant') c.set('config', withTenantQuotas(c.var.config, p.limits));
}

/** App middleware for /v1: sets c.var.principal or answers 401 (429 for an address with too many failures). */
export const authenticate: MiddlewareHandler<AppEnv> = async (c, next) => {
  setPrincipal(c, await limitedPrincipal(c));
  await next();
};

async function principalOf(c: Context<AppEnv>): Promise<Principal> {
  const known = c.var.principal as Principal | undefined;
  if (known) return known;
  // A route mounted outside /v1 (not behind `authenticate`) resolves the token here.
  const p = await limitedPrincipal(c);
  setPrincipal(c, p);
  return p;
}

/** The tenant of a request that passed `requireTenant` (for code that sees only the app's context). */
export function tenantIdOf(c: Context<AppEnv>): string {
  const p = c.var.principal;
  if (p?.kind !== 'tenant') throw unauthorized('This endpoint needs a tenant API key ("Authorization: Bearer ck_live_…").');
  return p.tenantId;
}

/** Route middleware: a tenant API key; the handler reads c.var.tenant. */
export const requireTenant: MiddlewareHandler<TenantEnv> = async (c, next) => {
  const p = await principalOf(c as unknown as Context<AppEnv>);
  if (p.kind !== 'tenant') {
    throw unauthorized('This endpoint needs a tenant API key ("Authorization: Bearer ck_live_…"), not the admin or worker token.');
  }
  if (p.suspended) throw forbidden(`Tenant ${p.tenantId} is suspended: its API keys are refused until the operator lifts the suspension.`);
  c.set('tenant', p);
  await next();
};

/** Route middleware: the admin token. */
export const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const p = await principalOf(c);
  if (p.kind !== 'admin') throw unauthorized('This endpoint needs the admin token ("Authorization: Bearer <ADMIN_TOKEN>").');
  await next();
};

/** Route middleware: a worker token (per-worker or the configured one). */
export const requireWorker: MiddlewareHandler<AppEnv> = async (c, next) => {
  const p = await principalOf(c);
  if (p.kind !== 'worker') throw unauthorized('This endpoint needs a worker token ("Authorization: Bearer <worker token>").');
  await next();
};

/** The worker of a request that passed `requireWorker`. */
export function workerOf(c: Context<AppEnv>): WorkerPrincipal {
  const p = c.var.principal;
  if (p?.kind !== 'worker') throw unauthorized('This endpoint needs a worker token ("Authorization: Bearer <worker token>").');
  return p;
}

