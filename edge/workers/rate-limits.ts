// The edge's limits on Workers: the rate-limiting bindings of infra/cloudflare/wrangler.toml (counted by Cloudflare
// per location, no D1 write): RATE_LIMITER per API key, AUTH_FAILURE_LIMITER per client address
// (CF-Connecting-IP). The binding only answers whether a hit is within its limit, so an address it refuses is
// remembered in the isolate until the period ends and refused before its credentials are checked; another isolate
// checks the credentials and learns the same from the binding at the next failure.
// Without the bindings (e.g. a test of buildPorts) the memory counters of one isolate are used.
import type { Context } from 'hono';
import type { RateLimitConfig } from '../config.ts';
import { memoryRateLimits } from '../http/memory-rate-limit.ts';
import type { AuthFailureLimiter, RateLimits, RequestLimiter } from '../http/rate-limit.ts';
import type { RateLimitBinding } from './bindings.ts';

/** The `period` of both bindings in wrangler.toml (10 or 60). */
export const BINDING_PERIOD_SECONDS = 60;

export function bindingRequestLimiter(binding: RateLimitBinding): RequestLimiter {
  return {
    async hit(bucket) {
      const { success } = await binding.limit({ key: bucket });
      return { allowed: success, resetSeconds: BINDING_PERIOD_SECONDS };
    },
  };
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
  env: { RATE_LIMITER?: RateLimitBinding; AUTH_FAILURE_LIMITER?: RateLimitBinding },
  config: RateLimitConfig,
): RateLimits {
  const memory = memoryRateLimits(config, cfConnectingIp);
  return {
    requests: env.RATE_LIMITER ? bindingRequestLimiter(env.RATE_LIMITER) : memory.requests,
    authFailures: env.AUTH_FAILURE_LIMITER ? bindingAuthFailureLimiter(env.AUTH_FAILURE_LIMITER) : memory.authFailures,
    clientAddress: cfConnectingIp,
  };
}
