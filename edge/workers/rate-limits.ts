// The edge's limits on Workers: the rate-limiting bindings of infra/cloudflare/wrangler.toml (counted by Cloudflare
// per location, no D1 write): RATE_LIMITER per API key, AUTH_FAILURE_LIMITER per client address
// (CF-Connecting-IP). The binding only answers whether a hit is within its limit, so an address it refuses is
// remembered in the isolate until the period ends and refused before its credentials are checked; another isolate
// checks the credentials and learns the same from the binding at the next failure.
// Without the bindings (e.g. a test of buildPorts) the memory counters of one isolate are used.
//
// Per-tenant request limits (PATCH /v1/tenants/{id}): a binding's limit is fixed in wrangler.toml and cannot be read
// or changed by the Worker, so overrides are served by tiers: more bindings named RATE_LIMITER_<limit> (their name
// states the limit they are configured with; test/edge/workers/rate-limit-tiers.test.ts checks wrangler.toml). A key
// of a tenant with an override is counted by the tier with the largest limit not above the override (RATE_LIMITER
// counts as the tier of the configured default, RATE_LIMIT_REQUESTS), or by the smallest tier when the override is
// below all of them; GET /v1/me and the PATCH answer report the tier's limit, which is what is enforced.
import type { Context } from 'hono';
import type { RateLimitConfig } from '../config.ts';
import { memoryRateLimits } from '../http/memory-rate-limit.ts';
import type { AuthFailureLimiter, RateLimits, RequestLimiter } from '../http/rate-limit.ts';
import type { RateLimitBinding } from './bindings.ts';

/** The `period` of both bindings in wrangler.toml (10 or 60). */
export const BINDING_PERIOD_SECONDS = 60;

/** A binding and the limit it is configured with. */
export interface RateLimitTier {
  limit: number;
  binding: RateLimitBinding;
}

/** The tier that serves an override: the largest limit not above it, else the smallest (tiers sorted ascending, ≥ 1). */
export function tierFor(tiers: readonly RateLimitTier[], override: number): RateLimitTier {
  let chosen = tiers[0];
  for (const t of tiers) if (t.limit <= override) chosen = t;
  return chosen;
}

/**
 * The request limiter over the bindings: `fallback` (RATE_LIMITER, configured with `defaultLimit`) for keys without an
 * override, and the tiers for the others.
 */
export function bindingRequestLimiter(fallback: RateLimitBinding, defaultLimit: number, tiers: readonly RateLimitTier[] = []): RequestLimiter {
  const all = [...tiers.filter((t) => t.limit !== defaultLimit), { limit: defaultLimit, binding: fallback }].sort((a, b) => a.limit - b.limit);
  const pick = (override: number | undefined) => (override === undefined ? { limit: defaultLimit, binding: fallback } : tierFor(all, override));
  return {
    async hit(bucket, override) {
      const { success } = await pick(override).binding.limit({ key: bucket });
      return { allowed: success, resetSeconds: BINDING_PERIOD_SECONDS };
    },
    policy: (override) => ({ requests: pick(override).limit, windowSeconds: BINDING_PERIOD_SECONDS }),
  };
}

const TIER_BINDING = /^RATE_LIMITER_(\d+)$/;

/** The RATE_LIMITER_<limit> bindings of `env`, ascending. */
export function rateLimitTiers(env: Record<string, unknown>): RateLimitTier[] {
  const tiers: RateLimitTier[] = [];
  for (const [name, value] of Object.entries(env)) {
    const m = TIER_BINDING.exec(name);
    const limit = m ? Number(m[1]) : 0;
    if (m && limit >= 1 && typeof (value as RateLimitBinding | undefined)?.limit === 'function') tiers.push({ limit, binding: value as RateLimitBinding });
  }
  return tiers.sort((a, b) => a.limit - b.limit);
}

export function bindingAuthFailureLimiter(binding: RateLimitBinding, now = () => Date.now()): AuthFailureLimiter {
  const blockedUntil = new Map<string, number>();
  const remaining = (address: string) => {
    const until = blockedUntil.get(address);
    if (until === undefined) return 0;
    if (until <= now()) {
      blockedUntil.delete(address);
      return 0;
    }
    return Math.ceil((until - now()) / 1000);
  };
  return {
    async blockedFor(address) {
      return remaining(address);
    },
    async recordFailure(address) {
      const { success } = await binding.limit({ key: address });
      if (success) return 0;
      blockedUntil.set(address, now() + BINDING_PERIOD_SECONDS * 1000);
      return BINDING_PERIOD_SECONDS;
    },
  };
}

const cfConnectingIp = (c: Context) => c.req.header('cf-connecting-ip') || undefined;

export function workersRateLimits(
  env: { RATE_LIMITER?: RateLimitBinding; AUTH_FAILURE_LIMITER?: RateLimitBinding; [name: string]: unknown },
  config: RateLimitConfig,
): RateLimits {
  const memory = memoryRateLimits(config, cfConnectingIp);
  return {
    requests: env.RATE_LIMITER ? bindingRequestLimiter(env.RATE_LIMITER, config.requestsPerWindow, rateLimitTiers(env)) : memory.requests,
    authFailures: env.AUTH_FAILURE_LIMITER ? bindingAuthFailureLimiter(env.AUTH_FAILURE_LIMITER) : memory.authFailures,
    clientAddress: cfConnectingIp,
  };
}
