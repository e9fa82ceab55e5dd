// Per-key fixed-window rate limit on the `rate_windows` table (one upsert per request: works the same
// on D1 and SQLite). Over the limit: 429 rate_limited with Retry-After (seconds to the next window).
import type { MiddlewareHandler } from 'hono';
import type { EdgeConfig } from '../config.ts';
import type { Ports, SqlDatabase } from '../ports.ts';
import type { AppEnv } from './context.ts';
import { rateLimited } from './errors.ts';

/** Rate-limit windows that started this long ago (or longer than the window, if larger) are history. */
export const RATE_WINDOW_RETENTION_MS = 60 * 60 * 1000;

export interface WindowCount {
  count: number;
  windowStart: number;
}

/** Counts one request of `bucket` in the window containing `now`; drops the bucket's older windows. */
export async function countRequest(db: SqlDatabase, bucket: string, windowMs: number, now: number): Promise<WindowCount> {
  const windowStart = now - (now % windowMs);
  const row = await db
    .prepare(
      `INSERT INTO rate_windows (key_id, window_start, count) VALUES (?, ?, 1)
       ON CONFLICT (key_id, window_start) DO UPDATE SET count = count + 1
       RETURNING count`,
    )
    .bind(bucket, windowStart)
    .first<{ count: number }>();
  const count = row?.count ?? 1;
  if (count === 1) {
    // First request of a new window: the previous windows of this key are history.
    await db.prepare('DELETE FROM rate_windows WHERE key_id = ? AND window_start < ?').bind(bucket, windowStart).run();
  }
  return { count, windowStart };
}

/** Deletes rate-limit windows that can no longer be the current one (for the periodic maintenance task). */
export async function purgeOldRateWindows(ports: Pick<Ports, 'db'>, config: Pick<EdgeConfig, 'rateLimit'>, now: Date): Promise<number> {
  const keep = Math.max(RATE_WINDOW_RETENTION_MS, config.rateLimit.windowMs);
  const { changes } = await ports.db.prepare('DELETE FROM rate_windows WHERE window_start < ?').bind(now.getTime() - keep).run();
  return changes;
}

/**
 * App middleware for /v1, after `authenticate`: tenant keys are limited per key id, the admin token as
 * one bucket; workers (internal, trusted) are not limited.
 */
export const rateLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
  const p = c.var.principal;
  if (!p || p.kind === 'worker') return next();
  const bucket = p.kind === 'tenant' ? p.keyId : 'admin';
  const { requestsPerWindow: limit, windowMs } = c.var.config.rateLimit;
  const now = Date.now();
  const { count, windowStart } = await countRequest(c.var.ports.db, bucket, windowMs, now);
  const resetSeconds = Math.max(1, Math.ceil((windowStart + windowMs - now) / 1000));
  c.header('X-RateLimit-Limit', String(limit));
  c.header('X-RateLimit-Remaining', String(Math.max(0, limit - count)));
  c.header('X-RateLimit-Reset', String(resetSeconds));
  if (count > limit) {
    throw rateLimited(
      `Too many requests: an API key may make ${limit} requests per ${windowMs / 1000} s. Retry after ${resetSeconds} s.`,
      resetSeconds,
    );
  }
  await next();
};
