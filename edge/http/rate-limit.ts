// Rate limits of the API, over the RateLimits port (no database write per request):
//   - `rateLimit` (app middleware for /v1, after `authenticate`): tenant keys per key id, the admin token as one
//     bucket; workers (internal, trusted) are not limited. 429 rate_limited with Retry-After.
//   - failed authentication per client address (`authenticate` and the routes outside /v1, edge/http/auth.ts):
//     once an address has failed `authFailuresPerWindow` times, its requests are 429 until the window ends, before
//     their credentials are checked (so a right guess is not told apart while blocked).
// A tenant whose limits override the request rate (PATCH /v1/tenants/{id}: rate_limit.requests_per_window) has its
// keys counted against that limit: exactly on Node; on Workers against the binding tier nearest below it
// (edge/workers/rate-limits.ts), since a binding's limit is fixed in wrangler.toml.
// Node: counters in process memory (edge/http/memory-rate-limit.ts; edge/node/rate-limits.ts for the address).
// Workers: the rate-limiting bindings (edge/workers/rate-limits.ts).
import type { Context, MiddlewareHandler } from 'hono';
import type { EdgeConfig } from '../config.ts';
import type { Ports } from '../ports.ts';
import type { AppEnv } from './context.ts';
import { rateLimited } from './errors.ts';
import { memoryRateLimits } from './memory-rate-limit.ts';

/** Rate-limit windows that started this long ago (or longer than the window, if larger) are history. */
export const RATE_WINDOW_RETENTION_MS = 60 * 60 * 1000;

export interface LimitDecision {
  allowed: boolean;
  /** Seconds until the current window ends (the Retry-After of a refusal). */
  resetSeconds: number;
  /** Known only where the limiter reports them (Node); sent as X-RateLimit-Limit / -Remaining / -Reset. */
  limit?: number;
  remaining?: number;
}

/** What a key is limited to: `requests` per window of `windowSeconds`. */
export interface RequestPolicy {
  requests: number;
  windowSeconds: number;
}

export interface RequestLimiter {
  /** Counts one request of `bucket`, limited to `limit` per window (a tenant's override) or, without it, the default. */
  hit(bucket: string, limit?: number): Promise<LimitDecision>;
  /** The limit `hit` enforces for a key with this override (none: the default), as GET /v1/me reports it. */
  policy(limit?: number): RequestPolicy;
}

export interface AuthFailureLimiter {
  /** Seconds `address` must wait before its credentials are checked again; 0 when it is not blocked. */
  blockedFor(address: string): Promise<number>;
  /** Counts one failed authentication of `address`; the seconds it is blocked now (0 while under the limit). */
  recordFailure(address: string): Promise<number>;
}

export interface RateLimits {
  requests: RequestLimiter;
  authFailures: AuthFailureLimiter;
  /** The client's address as the runtime knows it; undefined when unknown (then failures are not limited). */
  clientAddress(c: Context): string | undefined;
}

const defaults = new WeakMap<Ports, RateLimits>();

/** The ports' limits; ports built without them (in-process tests) get memory counters and no client address. */
export function rateLimitsOf(ports: Ports, config: EdgeConfig): RateLimits {
  if (ports.rateLimits) return ports.rateLimits;
  let limits = defaults.get(ports);
  if (!limits) {
    limits = memoryRateLimits(config.rateLimit, () => undefined, config.clock);
    defaults.set(ports, limits);
  }
  return limits;
}

/**
 * Deletes rows of the `rate_windows` table, which only edges before migration 0007 wrote (for the periodic
 * maintenance task; the limits no longer touch the database).
 */
export async function purgeOldRateWindows(ports: Pick<Ports, 'db'>, config: Pick<EdgeConfig, 'rateLimit'>, now: Date): Promise<number> {
  const keep = Math.max(RATE_WINDOW_RETENTION_MS, config.rateLimit.windowMs);
  const { changes } = await ports.db.prepare('DELETE FROM rate_windows WHERE window_start < ?').bind(now.getTime() - keep).run();
  return changes;
}

export const rateLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
  const p = c.var.principal;
  if (!p || p.kind === 'worker') return next();
  const bucket = p.kind === 'tenant' ? `key:${p.keyId}` : 'admin';
  const override = p.kind === 'tenant' ? p.limits.rate_limit?.requests_per_window : undefined;
  const d = await rateLimitsOf(c.var.ports, c.var.config).requests.hit(bucket, override);
  if (d.limit !== undefined) {
    c.header('X-RateLimit-Limit', String(d.limit));
    c.header('X-RateLimit-Remaining', String(d.remaining ?? 0));
    c.header('X-RateLimit-Reset', String(d.resetSeconds));
  }
  if (!d.allowed) {
    const budget = d.limit !== undefined ? `an API key may make ${d.limit} requests per ${c.var.config.rateLimit.windowMs / 1000} s` : 'this API key is over its limit';
    throw rateLimited(`Too many requests: ${budget}. Retry after ${d.resetSeconds} s.`, d.resetSeconds);
  }
  await next();
};

/** The 429 of an address blocked for failed authentication. */
export const tooManyAuthFailures = (seconds: number) =>
  rateLimited(
    `Too many requests with failed authentication from your address; retry after ${seconds} s with a valid key (check it for copy errors).`,
    seconds,
  );
