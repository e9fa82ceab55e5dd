// Per-worker tokens (admin): POST /v1/workers, GET /v1/workers, DELETE /v1/workers/{id}. A token is shown once (only
// its sha256 is stored) and revoked at once. The SQL and rules are in edge/worker-tokens/; what a worker token may do
// is in edge/routes/trainer-api.ts.
import { createRoute, z } from '@hono/zod-openapi';
import { requireAdmin } from '../http/auth.ts';
import { JSON_BODY_ERRORS, SECURITY, V1_ERRORS, errorResponses, jsonBody, jsonResponse, newRouter } from '../http/openapi.ts';
import { PaginationQuery, pageSchema } from '../http/pagination.ts';
import { PLAIN_TEXT_RULE, isPlainText } from '../http/text.ts';
import { createWorkerToken, listWorkerTokens, revokeWorkerToken } from '../worker-tokens/worker-tokens.ts';

// ---- schemas --------------------------------------------------------------------------------

const WorkerId = z.string().openapi({ example: 'wkr_0m3k9x2qa4f7hz81kd0p3q' });
const Timestamp = z.string().openapi({ example: '2025-01-31T12:00:00.000Z' });

const CreateWorkerRequest = z
  .strictObject({
    name: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .refine(isPlainText, PLAIN_TEXT_RULE)
      .openapi({ description: 'What the token is for, e.g. the node or pool.', example: 'gpu-pool-a' }),
  })
  .openapi('CreateWorkerRequest');

const WorkerFields = {
  id: WorkerId,
  name: z.string(),
  prefix: z.string().openapi({ description: 'The first 13 characters of the token, to recognise it.', example: 'wkt_live_7Qa2' }),
  created_at: Timestamp,
};
const WorkerCreated = z
  .object({
    ...WorkerFields,
    token: z.string().openapi({
      description: 'The worker token: put it in the worker’s WORKER_TOKEN. Shown only in this response (only its hash is stored).',
      example: 'wkt_live_7Qa2mXcV7pL0aZr8tN5wB1yH6dE4u3fJ9',
    }),
  })
  .openapi('WorkerCreated');
const Worker = z
  .object({
    ...WorkerFields,
    last_used_at: Timestamp.nullable().openapi({ description: 'When the token last authenticated a request (to the minute); null: never.' }),
    revoked_at: Timestamp.nullable(),
  })
  .openapi('Worker', { description: 'A worker token as listed: never the token itself.' });

const IdParams = z.object({
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, description: 'The worker token id (`wkr_…`).', example: 'wkr_0m3k9x2qa4f7hz81kd0p3q' }),
});

// ---- routes ---------------------------------------------------------------------------------

const tags = ['Workers (admin)'];

const createWorkerRoute = createRoute({
  method: 'post',
  path: '/v1/workers',
  operationId: 'createWorkerToken',
  tags,
  summary: 'Issue a worker token (admin)',
  description:
    'A token for one worker (or pool) to use as its WORKER_TOKEN: it may lease work on /internal/v1 and drive only the leases it took. ' +
    'Shown once. Needs the admin token.',
  security: SECURITY.admin,
  middleware: [requireAdmin] as const,
  request: { body: jsonBody(CreateWorkerRequest) },
  responses: {
    201: jsonResponse(WorkerCreated, 'The worker, with its token (shown once).'),
    ...errorResponses(...V1_ERRORS, ...JSON_BODY_ERRORS),
  },
});

const listWorkersRoute = createRoute({
  method: 'get',
  path: '/v1/workers',
  operationId: 'listWorkerTokens',
  tags,
  summary: 'List worker tokens (admin)',
  description: 'Newest first, revoked ones included. Never the token itself. Needs the admin token.',
  security: SECURITY.admin,
  middleware: [requireAdmin] as const,
  request: { query: PaginationQuery },
  responses: {
    200: jsonResponse(pageSchema(Worker, 'WorkerPage'), 'Worker tokens, newest first.'),
    ...errorResponses(...V1_ERRORS, 422),
  },
});

const revokeWorkerRoute = createRoute({
  method: 'delete',
  path: '/v1/workers/{id}',
  operationId: 'revokeWorkerToken',
  tags,
  summary: 'Revoke a worker token (admin)',
  description:
    'The token is refused from the next request on (401). Its leases are not taken away: they expire without heartbeats and ' +
    'another worker resumes the work. Needs the admin token.',
  security: SECURITY.admin,
  middleware: [requireAdmin] as const,
  request: { params: IdParams },
  responses: { 204: { description: 'Revoked.' }, ...errorResponses(...V1_ERRORS, 404) },
});

// ---- handlers -------------------------------------------------------------------------------

export function workerAdminRoutes() {
  const app = newRouter();

  app.openapi(createWorkerRoute, async (c) => c.json(await createWorkerToken(c.var.ports.db, c.req.valid('json').name), 201));

  app.openapi(listWorkersRoute, async (c) => c.json(await listWorkerTokens(c.var.ports.db, c.req.valid('query')), 200));

  app.openapi(revokeWorkerRoute, async (c) => {
    await revokeWorkerToken(c.var.ports.db, c.req.valid('param').id);
    return c.body(null, 204);
  });

  return app;
}
