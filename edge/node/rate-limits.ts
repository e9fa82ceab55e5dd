// The edge's limits on Node: memory counters (edge/http/memory-rate-limit.ts, one set per process) keyed by the
// socket's address, or by the header a trusted proxy sets (config.rateLimit.clientIpHeader).
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import type { Clock } from '../clock.ts';
import type { RateLimitConfig } from '../config.ts';
import { memoryRateLimits } from '../http/memory-rate-limit.ts';
import type { RateLimits } from '../http/rate-limit.ts';

/** The client's address: the proxy's header when configured (the last entry of a list), else the socket's. */
export function nodeClientAddress(config: Pick<RateLimitConfig, 'clientIpHeader'>): (c: Context) => string | undefined {
  const header = config.clientIpHeader;
  if (header) {
    return (c) => c.req.header(header)?.split(',').pop()?.trim() || undefined;
  }
  return (c) => {
    try {
      return getConnInfo(c).remote.address;
    } catch {
      return undefined; // not served by @hono/node-server (app.request in tests)
    }
  };
}

export function nodeRateLimits(config: RateLimitConfig, clock?: Clock): RateLimits {
  return memoryRateLimits(config, nodeClientAddress(config), clock);
}
