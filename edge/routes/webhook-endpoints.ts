// Webhook endpoints: POST/GET /v1/webhook-endpoints, GET/DELETE /v1/webhook-endpoints/{id},
// POST /v1/webhook-endpoints/{id}/rotate-secret, GET /v1/webhook-endpoints/{id}/deliveries.
// The secret is returned only by create and rotate-secret. The SQL and rules are in edge/webhooks/endpoints.ts;
// deliveries are sent by edge/webhooks/dispatcher.ts. Create, delete and rotate-secret write their audit event
// (edge/audit/audit.ts) in the same batch as the change.
import { createRoute, z } from '@hono/zod-openapi';
import { actorOf, auditStatement, auditedEndpointChange as audited } from '../audit/audit.ts';
import { requireTenant, tenantIdOf } from '../http/auth.ts';
import { idempotencyCommit, idempotent } from '../http/idempotency.ts';
import {
  IdempotencyHeaders,
  JSON_BODY_ERRORS,
  SECURITY,
  V1_ERRORS,
  errorResponses,
  jsonBody,
  jsonResponse,
  newRouter,
} from '../http/openapi.ts';
import { PaginationQuery, pageSchema } from '../http/pagination.ts';
import { type CreatedEndpoint, createEndpoint, deleteEndpoint, getEndpoint, listDeliveries, listEndpoints, rotateSecret } from '../webhooks/endpoints.ts';
import { WEBHOOK_EVENT_TYPES } from '../webhooks/settings.ts';

// ---- schemas --------------------------------------------------------------------------------

const EndpointId = z.string().openapi({ example: 'whe_0m3k9x2qa4f7hz81kd0p3q' });
const EventType = z.enum(WEBHOOK_EVENT_TYPES);
const Secret = z.string().openapi({
  description: 'The signing secret (Standard Webhooks). Shown only when created or rotated: keep it safe.',
  example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
});

const CreateEndpointRequest = z
  .strictObject({
    url: z.string().min(1).max(2048).openapi({ description: 'https URL receiving the POSTs.', example: 'https://example.com/webhooks' }),
    events: z
      .array(EventType)
      .min(1)
      .max(WEBHOOK_EVENT_TYPES.length)
      .optional()
      .openapi({ description: 'Events to receive; default: succeeded, failed and cancelled (started is opt-in).' }),
  })
  .openapi('CreateWebhookEndpointRequest');

const EndpointFields = {
  id: EndpointId,
  url: z.string(),
  events: z.array(EventType),
  disabled_at: z.string().nullable().openapi({ description: 'When deliveries stopped (the receiver answered 410), else null.' }),
  disabled_reason: z.string().nullable(),
  created_at: z.string(),
};
const Endpoint = z.object(EndpointFields).openapi('WebhookEndpoint');
const EndpointCreated = z.object({ ...EndpointFields, secret: Secret }).openapi('WebhookEndpointCreated');
const SecretRotated = z
  .object({
    id: EndpointId,
    secret: Secret,
    previous_secret_expires_at: z.string().openapi({ description: 'Until then deliveries are signed with the old secret too.' }),
  })
  .openapi('WebhookSecretRotated');

const Attempt = z
  .object({
    attempted_at: z.string(),
    status_code: z.number().int().nullable().openapi({ description: 'The receiver’s HTTP status; null when none (timeout, connection error).' }),
    error: z.string().nullable(),
    duration_ms: z.number().int(),
  })
  .openapi('WebhookAttempt');
const Delivery = z
  .object({
    id: z.string().openapi({ description: 'The webhook-id header (stable across retries).', example: 'msg_0m3k9x2qa4f7hz81kd0p3q' }),
    event_type: EventType,
    status: z.enum(['pending', 'succeeded', 'failed']),
    attempt_count: z.number().int(),
    next_attempt_at: z.string().nullable().openapi({ description: 'When the next attempt is due (pending only).' }),
    created_at: z.string(),
    payload: z.unknown().openapi({ description: 'The JSON body sent.' }),
    attempts: z.array(Attempt).openapi({ description: 'Every attempt, oldest first.' }),
  })
  .openapi('WebhookDelivery');

const IdParams = z.object({
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, description: 'The webhook endpoint id (`whe_…`).', example: 'whe_0m3k9x2qa4f7hz81kd0p3q' }),
});

// ---- routes ---------------------------------------------------------------------------------

const tags = ['Webhooks'];
const security = SECURITY.tenant;

// The signing secret is never stored with the Idempotency-Key: a replay answers `secret: null` and a note.
const createIdempotency = idempotent({
  atomic: {
    replay: async (c, id) => ({ status: 201, body: { ...(await getEndpoint(c.var.ports.db, tenantIdOf(c), id)), secret: null } }),
  },
  secret: {
    fields: ['secret'],
    note: (b) =>
      `Webhook endpoint ${String(b.id)} was created by the first request with this Idempotency-Key. Its secret is shown only once and is not ` +
      `stored with the key; if it was lost, make a new one with POST /v1/webhook-endpoints/${String(b.id)}/rotate-secret.`,
  },
});

const createEndpointRoute = createRoute({
  method: 'post',
  path: '/v1/webhook-endpoints',
  operationId: 'createWebhookEndpoint',
  tags,
  summary: 'Create a webhook endpoint',
  description:
    'Registers an https URL for training job and evaluation events. Returns the signing secret once. 409 when the tenant already has ' +
    'its limit of endpoints (MAX_WEBHOOK_ENDPOINTS, default 20; disabled endpoints count until deleted).',
  security,
  middleware: [requireTenant, createIdempotency] as const,
  request: { headers: IdempotencyHeaders, body: jsonBody(CreateEndpointRequest) },
  responses: {
    201: jsonResponse(EndpointCreated, 'The endpoint, with its secret (shown once).'),
    ...errorResponses(...V1_ERRORS, ...JSON_BODY_ERRORS, 409),
  },
});

const listEndpointsRoute = createRoute({
  method: 'get',
  path: '/v1/webhook-endpoints',
  operationId: 'listWebhookEndpoints',
  tags,
  summary: 'List webhook endpoints',
  description: "The tenant's endpoints, newest first, cursor-paginated. Secrets are not included.",
  security,
  middleware: [requireTenant] as const,
  request: { query: PaginationQuery },
  responses: {
    200: jsonResponse(pageSchema(Endpoint, 'WebhookEndpointPage'), 'Endpoints, oldest first (no secrets).'),
    ...errorResponses(...V1_ERRORS, 422),
  },
});

const getEndpointRoute = createRoute({
  method: 'get',
  path: '/v1/webhook-endpoints/{id}',
  operationId: 'getWebhookEndpoint',
  tags,
  summary: 'Get a webhook endpoint',
  description: 'The endpoint: URL, events, and whether and why deliveries stopped. The secret is not included.',
  security,
  middleware: [requireTenant] as const,
  request: { params: IdParams },
  responses: { 200: jsonResponse(Endpoint, 'The endpoint (no secret).'), ...errorResponses(...V1_ERRORS, 404) },
});

const deleteEndpointRoute = createRoute({
  method: 'delete',
  path: '/v1/webhook-endpoints/{id}',
  operationId: 'deleteWebhookEndpoint',
  tags,
  summary: 'Delete a webhook endpoint',
  description: 'Stops deliveries at once: its pending deliveries are marked failed.',
  security,
  middleware: [requireTenant] as const,
  request: { params: IdParams },
  responses: { 204: { description: 'Deleted.' }, ...errorResponses(...V1_ERRORS, 404) },
});

const rotateSecretRoute = createRoute({
  method: 'post',
  path: '/v1/webhook-endpoints/{id}/rotate-secret',
  operationId: 'rotateWebhookEndpointSecret',
  tags,
  summary: 'Rotate the signing secret',
  description: 'Makes a new secret; for 24 h deliveries carry signatures with both the new and the old secret.',
  security,
  middleware: [requireTenant] as const,
  request: { params: IdParams },
  responses: { 200: jsonResponse(SecretRotated, 'The new secret (shown once).'), ...errorResponses(...V1_ERRORS, 404) },
});

const listDeliveriesRoute = createRoute({
  method: 'get',
  path: '/v1/webhook-endpoints/{id}/deliveries',
  operationId: 'listWebhookDeliveries',
  tags,
  summary: 'List deliveries of an endpoint',
  description: 'Newest first, each with all its attempts.',
  security,
  middleware: [requireTenant] as const,
  request: { params: IdParams, query: PaginationQuery },
  responses: {
    200: jsonResponse(pageSchema(Delivery, 'WebhookDeliveryPage'), 'Deliveries, newest first.'),
    ...errorResponses(...V1_ERRORS, 404, 422),
  },
});

// ---- handlers -------------------------------------------------------------------------------

export function webhookEndpointRoutes() {
  const app = newRouter();

  app.openapi(createEndpointRoute, async (c) => {
    const { url, events } = c.req.valid('json');
    const { db } = c.var.ports;
    const { tenant } = c.var;
    const idempotency = idempotencyCommit(c, (e: CreatedEndpoint) => ({ status: 201, resourceId: e.id, body: e }));
    const commit = (e: CreatedEndpoint) => [
      auditStatement(db, { tenantId: tenant.tenantId, actor: actorOf(tenant), action: 'webhook_endpoint.created', target: { type: 'webhook_endpoint', id: e.id }, data: { url: e.url } }),
      ...idempotency(e),
    ];
    const endpoint = await createEndpoint(
      db,
      { tenantId: tenant.tenantId, url, events, localMode: c.var.config.localMode, maxEndpoints: c.var.config.maxWebhookEndpoints },
      commit,
    );
    return c.json(endpoint, 201);
  });

  app.openapi(listEndpointsRoute, async (c) => c.json(await listEndpoints(c.var.ports.db, c.var.tenant.tenantId, c.req.valid('query')), 200));

  app.openapi(getEndpointRoute, async (c) => c.json(await getEndpoint(c.var.ports.db, c.var.tenant.tenantId, c.req.valid('param').id), 200));

  app.openapi(deleteEndpointRoute, async (c) => {
    const { tenantId } = c.var.tenant;
    const id = c.req.valid('param').id;
    await deleteEndpoint(audited(c.var.ports.db, { tenantId, actor: actorOf(c.var.tenant), id, action: 'webhook_endpoint.deleted' }), tenantId, id);
    return c.body(null, 204);
  });

  app.openapi(rotateSecretRoute, async (c) => {
    const { tenantId } = c.var.tenant;
    const id = c.req.valid('param').id;
    return c.json(await rotateSecret(audited(c.var.ports.db, { tenantId, actor: actorOf(c.var.tenant), id, action: 'webhook_endpoint.secret_rotated' }), tenantId, id), 200);
  });

  app.openapi(listDeliveriesRoute, async (c) => {
    const page = await listDeliveries(c.var.ports.db, c.var.tenant.tenantId, c.req.valid('param').id, c.req.valid('query'));
    return c.json(page, 200);
  });

  return app;
}

