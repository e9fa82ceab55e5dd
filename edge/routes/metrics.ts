// Operator metrics, outside /v1 (no tenant may call them): GET /metrics (Prometheus text; Node only), GET /metrics.json
// (the database figures as JSON, both runtimes) and GET /metrics/queue (the queue depth, for KEDA's metrics-api scaler).
// All three need the metrics token or the admin token (edge/metrics/auth.ts). The figures are read at request time
// (edge/metrics/ops-figures.ts); request counters are recorded by edge/metrics/requests.ts.
import { createRoute, z } from '@hono/zod-openapi';
import { notFound } from '../http/errors.ts';
import { errorResponses, jsonResponse, newRouter } from '../http/openapi.ts';
import { requireMetricsReader } from '../metrics/auth.ts';
import { opsFigures, unfinishedWork } from '../metrics/ops-figures.ts';

// ---- schemas --------------------------------------------------------------------------------

const count = (description: string) => z.number().int().min(0).openapi({ description });
const Unfinished = z.object({ queued: count('Waiting for a worker.'), running: count('Leased by a worker.'), cancelling: count('Leased; cancel requested.') });
const Finished = z.object({ succeeded: count('Succeeded.'), failed: count('Failed.'), cancelled: count('Cancelled.') });

const QueueDepth = z
  .object({
    queued: count('Queued training jobs and evaluations.'),
    running: count('Leased ones (running or cancelling): each holds a worker.'),
    demand: count('queued + running: the workers the queue can keep busy (a worker takes one job at a time).'),
    oldest_queued_seconds: count('Age of the oldest queued job or evaluation in whole seconds; 0 when none is queued.'),
  })
  .openapi('QueueDepth');

const OpsMetrics = z
  .object({
    generated_at: z.string().openapi({ example: '2025-01-31T12:00:00.000Z' }),
    jobs: z.object({ training: Unfinished, evaluation: Unfinished }).openapi({ description: 'Unfinished work by kind and state.' }),
    jobs_finished_last_hour: z.object({ training: Finished, evaluation: Finished }).openapi({ description: 'Work that ended in the last hour.' }),
    queue: QueueDepth,
    webhooks: z.object({
      pending: count('Deliveries still to be tried.'),
      retrying: count('Pending deliveries that failed at least once.'),
      failed: count('Deliveries that gave up, kept for RETENTION_DAYS.'),
      oldest_pending_seconds: count('Age of the oldest pending delivery in whole seconds; 0 when none is pending.'),
    }),
  })
  .openapi('OpsMetrics');

// ---- routes ---------------------------------------------------------------------------------

const tags = ['System'];
// One declared scheme (test/security/auth-scope.test.ts): MetricsToken, whose description says the admin token opens it too.
const security = [{ MetricsToken: [] as string[] }];
const ERRORS = [401, 429, 500] as const;

const prometheusRoute = createRoute({
  method: 'get',
  path: '/metrics',
  operationId: 'getPrometheusMetrics',
  tags,
  summary: 'Prometheus metrics (Node edge)',
  description:
    'Prometheus text format 0.0.4: requests by method, route template and status with a latency histogram, unfinished and recently ' +
    'finished work, queue depth and age, the webhook backlog, and process metrics (docs/deploy.md). Only the Node edge serves it; ' +
    'on Workers it is 404 (read /metrics.json there). Needs the metrics token or the admin token.',
  security,
  middleware: [requireMetricsReader] as const,
  responses: {
    200: { description: 'The metrics.', content: { 'text/plain': { schema: z.string() } } },
    ...errorResponses(...ERRORS, 404),
  },
});

const jsonRoute = createRoute({
  method: 'get',
  path: '/metrics.json',
  operationId: 'getOpsMetrics',
  tags,
  summary: 'Queue, work and webhook figures as JSON',
  description: 'The figures behind the gauges of /metrics, read from the database now; served on both runtimes. Needs the metrics token or the admin token.',
  security,
  middleware: [requireMetricsReader] as const,
  responses: { 200: jsonResponse(OpsMetrics, 'The figures.'), ...errorResponses(...ERRORS) },
});

const queueRoute = createRoute({
  method: 'get',
  path: '/metrics/queue',
  operationId: 'getQueueDepth',
  tags,
  summary: 'Queue depth (for autoscalers)',
  description:
    'What the GPU worker pool is scaled on (KEDA metrics-api scaler, `valueLocation: demand`; infra/k8s/scaledobject.yaml). ' +
    'Needs the metrics token or the admin token.',
  security,
  middleware: [requireMetricsReader] as const,
  responses: { 200: jsonResponse(QueueDepth, 'The queue now.'), ...errorResponses(...ERRORS) },
});

export function metricsRoutes() {
  const app = newRouter();
  app.openAPIRegistry.registerComponent('securitySchemes', 'MetricsToken', {
    type: 'http',
    scheme: 'bearer',
    description: 'The read-only metrics token (METRICS_TOKEN); the admin token works too.',
  });

  app.openapi(prometheusRoute, async (c) => {
    const exporter = c.var.ports.metrics;
    if (!exporter) {
      throw notFound('This edge serves no Prometheus text (the Workers build): read GET /metrics.json, and Cloudflare’s analytics for requests.');
    }
    const { contentType, body } = await exporter.render(await opsFigures(c.var.ports.db, c.var.config.clock()));
    c.header('Cache-Control', 'no-store');
    return c.text(body, 200, { 'Content-Type': contentType });
  });

  app.openapi(jsonRoute, async (c) => {
    c.header('Cache-Control', 'no-store');
    return c.json(await opsFigures(c.var.ports.db, c.var.config.clock()), 200);
  });

  app.openapi(queueRoute, async (c) => {
    c.header('Cache-Control', 'no-store');
    return c.json((await unfinishedWork(c.var.ports.db, c.var.config.clock())).queue, 200);
  });
  return app;
}
