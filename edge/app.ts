// The edge control plane as one Hono app over the ports: createApp(ports, config). The Node and Workers
// entries only build the ports and the config (edge/node/server.ts: SQLite, S3, memory cache;
// edge/workers/entry.ts: D1, S3 over aws4fetch, KV).
//
// Request pipeline of a /v1 route:
//   cors (→ Server-Timing on the inference routes) → authenticate (401) → rateLimit (429) → jsonBodyGuard (413, 400)
//   → route middleware (requireTenant/requireAdmin 401, idempotent() replay/409)
//   → zod validators from the route definition (415, 422) → handler.
// Everything thrown (ApiError, hono HTTPException, bugs) is rendered by onError as {"error": {...}}.
//
// Layout: edge/routes/<resource>.ts hold the zod schemas, the OpenAPI route definitions and short handlers;
// the SQL and rules of each resource are named functions in its domain module (edge/tenants/,
// edge/datasets/, edge/jobs/ with the job queue in jobs/queue.ts, edge/models/, edge/webhooks/,
// edge/inference/). The worker-API and training-job shapes are the shared contracts (shared/contracts/).
//
// Adding a resource: write its domain module, then edge/routes/<resource>.ts exporting `<resource>Routes()`
// that returns a newRouter() with its app.openapi(createRoute({...}), handler) calls, and mount it below.
import type { OpenAPIHono } from '@hono/zod-openapi';
import { cors } from 'hono/cors';
import { timing } from 'hono/timing';
import type { EdgeConfig } from './config.ts';
import { authenticate } from './http/auth.ts';
import type { AppEnv } from './http/context.ts';
import { onError, onNotFound } from './http/errors.ts';
import { IDEMPOTENCY_HEADER } from './http/idempotency.ts';
import { jsonBodyGuard } from './http/json-body.ts';
import { newRouter, registerSecuritySchemes } from './http/openapi.ts';
import { rateLimit } from './http/rate-limit.ts';
import type { Ports } from './ports.ts';
import { recordRequests } from './metrics/requests.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { mountSystemRoutes } from './routes/system.ts';
import { datasetFinalizeRoutes } from './routes/dataset-finalize.ts';
import { datasetImageRoutes } from './routes/dataset-images.ts';
import { datasetUploadRoutes } from './routes/dataset-uploads.ts';
import { datasetRoutes } from './routes/datasets.ts';
import { modelRoutes } from './routes/models.ts';
import { tenantRoutes } from './routes/tenants.ts';
import { tenantLimitRoutes } from './routes/tenant-limits.ts';
import { usageRoutes } from './routes/usage.ts';
import { trainingJobRoutes } from './routes/training-jobs.ts';
import { evaluationRoutes } from './routes/evaluations.ts';
import { webhookEndpointRoutes } from './routes/webhook-endpoints.ts';
import { webhookDeliveryRoutes } from './routes/webhook-deliveries.ts';
import { auditEventRoutes } from './routes/audit-events.ts';
import { workerAdminRoutes } from './routes/workers-admin.ts';
import { workerRoutes } from './routes/trainer-api.ts';
import { classifyBodyLimit, classifyRoutes } from './routes/classify.ts';
import { consoleAssets } from './routes/console.ts';

export type EdgeApp = OpenAPIHono<AppEnv>;

export function createApp(ports: Ports, config: EdgeConfig): EdgeApp {
  const app = newRouter();
  registerSecuritySchemes(app);

  app.use('*', async (c, next) => {
    c.set('ports', ports);
    c.set('config', config);
    await next();
  });
  // Requests by route template, method and status, with their latency (Node's GET /metrics; nothing on Workers).
  app.use('*', recordRequests);

  // API keys travel in a header, never in cookies: any origin may call the API.
  const apiCors = cors({
    origin: '*',
    allowMethods: ['GET', 'POST', 'DELETE', 'PATCH', 'PUT', 'OPTIONS'],
    allowHeaders: ['Authorization', 'Content-Type', IDEMPOTENCY_HEADER],
    exposeHeaders: ['Retry-After', 'Idempotent-Replayed', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset', 'Server-Timing'],
    maxAge: 600,
  });
  app.use('/v1/*', apiCors);
  app.use('/openapi.json', cors({ origin: '*', allowMethods: ['GET'] }));
  // Server-Timing on the inference routes: total (edge + inference) and inference (the gpu-worker call).
  const serverTiming = timing({ totalDescription: 'edge total' });
  app.use('/v1/classify', serverTiming);
  app.use('/v1/embeddings/text', serverTiming);
  // Base64 images: /v1/classify takes a larger JSON body than config.maxJsonBytes (see routes/classify.ts).
  app.use('/v1/classify', classifyBodyLimit);
  app.use('/v1/*', authenticate, rateLimit, jsonBodyGuard);

  app.route('/', tenantRoutes());
  app.route('/', tenantLimitRoutes());
  app.route('/', usageRoutes());
  app.route('/', auditEventRoutes());
  app.route('/', workerAdminRoutes());
  app.route('/', trainingJobRoutes());
  app.route('/', evaluationRoutes());
  app.route('/', modelRoutes());
  app.route('/', workerRoutes());
  app.route('/', datasetRoutes());
  app.route('/', datasetImageRoutes());
  app.route('/', datasetUploadRoutes());
  app.route('/', datasetFinalizeRoutes());
  app.route('/', webhookEndpointRoutes());
  app.route('/', webhookDeliveryRoutes());
  app.route('/', classifyRoutes());
  app.route('/', metricsRoutes());

  mountSystemRoutes(app, config);
  // The web console's static files (docs/console.md): middleware, not API operations.
  app.use('/console', consoleAssets);
  app.use('/console/*', consoleAssets);
  app.onError(onError);
  app.notFound(onNotFound);
  return app;
}
