// App middleware: times every request and hands it to the metrics port (Node; a no-op where there is none). The route
// label is the template of the route that answered (`/v1/datasets/:id`, never the raw path, so ids do not become
// series); a request no route matched (404, CORS preflight) is labelled "none". Methods outside the usual ones are
// "other". The time is to the response object (a streamed body, e.g. a model download, may still be flowing).
import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { AppEnv } from '../http/context.ts';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** The route label of requests that no route answered. */
export const NO_ROUTE = 'none';

/** The path template of the last matched route that is a handler for a method (middleware is registered for ALL). */
export function routeTemplate(c: Context): string {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    if (routes[i].method !== 'ALL') return routes[i].path;
  }
  return NO_ROUTE;
}

export const recordRequests: MiddlewareHandler<AppEnv> = async (c, next) => {
  const metrics = c.var.ports.metrics;
  if (!metrics) return next();
  const t0 = performance.now();
  await next();
  metrics.observeRequest({
    method: METHODS.has(c.req.method) ? c.req.method : 'other',
    route: routeTemplate(c),
    status: c.res.status,
    seconds: (performance.now() - t0) / 1000,
  });
};
