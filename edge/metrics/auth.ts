// Who may read the metrics (GET /metrics, /metrics.json, /metrics/queue): the read-only METRICS_TOKEN when it is
// configured, and the admin token. Not tenant keys (the figures span all tenants) and not worker tokens (a worker has
// no business with them; the KEDA scaler gets the metrics token, not a token that can lease jobs). Failed attempts
// count against the client address like every other authentication (edge/http/rate-limit.ts), and a blocked address
// gets 429 before its token is looked at.
import type { Context, MiddlewareHandler } from 'hono';
import { timingSafeEqual } from '../crypto.ts';
import { bearerToken } from '../http/auth.ts';
import type { AppEnv } from '../http/context.ts';
import { ApiError, unauthorized } from '../http/errors.ts';
import { rateLimitsOf, tooManyAuthFailures } from '../http/rate-limit.ts';

function checkToken(c: Context<AppEnv>): void {
  const token = bearerToken(c);
  const { adminToken, metricsToken } = c.var.config;
  // Both comparisons always run, so timing does not tell which token was close.
  const admin = timingSafeEqual(token, adminToken);
  const metrics = metricsToken !== undefined && timingSafeEqual(token, metricsToken);
  if (!admin && !metrics) throw unauthorized('This endpoint needs the metrics token ("Authorization: Bearer <METRICS_TOKEN>") or the admin token.');
}

/** Route middleware: the metrics token or the admin token (401), under the failed-authentication limit (429). */
export const requireMetricsReader: MiddlewareHandler<AppEnv> = async (c, next) => {
  const limits = rateLimitsOf(c.var.ports, c.var.config);
  const address = limits.clientAddress(c);
  if (address !== undefined) {
    const wait = await limits.authFailures.blockedFor(address);
    if (wait > 0) throw tooManyAuthFailures(wait);
  }
  try {
    checkToken(c);
  } catch (err) {
    if (address !== undefined && err instanceof ApiError && err.status === 401) {
      const blocked = await limits.authFailures.recordFailure(address);
      if (blocked > 0) throw tooManyAuthFailures(blocked);
    }
    throw err;
  }
  await next();
};
