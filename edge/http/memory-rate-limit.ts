// Fixed-window counters in process memory (the edge on Node; a fallback for ports built without limits). Each
// counter keeps only its current window: when a new window starts, the old counts are dropped at once, so memory
// is bounded by the buckets active in one window.
import type { Context } from 'hono';
import type { Clock } from '../clock.ts';
import type { RateLimitConfig } from '../config.ts';
import type { AuthFailureLimiter, RateLimits, RequestLimiter } from './rate-limit.ts';

export class FixedWindowCounter {
  private windowStart = -1;
  private readonly counts = new Map<string, number>();

  constructor(
    readonly windowMs: number,
    private readonly clock?: Clock,
  ) {}

  private roll(now: number): number {
    const start = now - (now % this.windowMs);
    if (start !== this.windowStart) {
      this.windowStart = start;
      this.counts.clear();
    }
    return start;
  }

  /** The bucket's count in the current window after adding `add`, and the seconds until the window ends. */
  count(bucket: string, add: number, now = (this.clock?.() ?? new Date()).getTime()): { count: number; resetSeconds: number } {
    const start = this.roll(now);
    const count = (this.counts.get(bucket) ?? 0) + add;
    if (add > 0) this.counts.set(bucket, count);
    return { count, resetSeconds: Math.max(1, Math.ceil((start + this.windowMs - now) / 1000)) };
  }
}

/** `defaultLimit` requests per window per bucket; a call's own limit (a tenant's override) replaces it for that bucket. */
export function memoryRequestLimiter(defaultLimit: number, windowMs: number, clock?: Clock): RequestLimiter {
  const counter = new FixedWindowCounter(windowMs, clock);
  return {
    async hit(bucket, override) {
      const limit = override ?? defaultLimit;
      const { count, resetSeconds } = counter.count(bucket, 1);
      return { allowed: count <= limit, limit, remaining: Math.max(0, limit - count), resetSeconds };
    },
    policy: (override) => ({ requests: override ?? defaultLimit, windowSeconds: windowMs / 1000 }),
  };
}

export function memoryAuthFailureLimiter(limit: number, windowMs: number, clock?: Clock): AuthFailureLimiter {
  const counter = new FixedWindowCounter(windowMs, clock);
  return {
    async blockedFor(address) {
      const { count, resetSeconds } = counter.count(address, 0);
      return count >= limit ? resetSeconds : 0;
    },
    async recordFailure(address) {
      const { count, resetSeconds } = counter.count(address, 1);
      return count > limit ? resetSeconds : 0;
    },
  };
}

/** `clock` (EdgeConfig.clock) decides which window "now" falls in; default the system clock. */
export function memoryRateLimits(config: RateLimitConfig, clientAddress: (c: Context) => string | undefined, clock?: Clock): RateLimits {
  return {
    requests: memoryRequestLimiter(config.requestsPerWindow, config.windowMs, clock),
    authFailures: memoryAuthFailureLimiter(config.authFailuresPerWindow, config.windowMs, clock),
    clientAddress,
  };
}
