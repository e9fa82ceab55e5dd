// Webhook endpoints: POST/GET /v1/webhook-endpoints, GET/PATCH/DELETE /v1/webhook-endpoints/{id},
// POST /v1/webhook-endpoints/{id}/rotate-secret. Deliveries (list, test event, resend): webhook-deliveries.ts.
// The secret is returned only by create and rotate-secret. The SQL and rules are in edge/webhooks/endpoints.ts;
// deliveries are sent by edge/webhooks/dispatcher.ts. Create, update, delete and rotate-secret write their audit
// event (edge/audit/audit.ts) in the same batch as the change.
import { createRoute, z } from '@hono/zod-openapi';
import { actorOf, auditStatement, auditedEndpointChange as audited, endpointAuditStatement } from '../audit/audit.ts';
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
import {
  type CreatedEndpoint,
  DISABLED_BY_YOU,
  type EndpointChange,
  createEndpoint,
  deleteEndpoint,
  getEndpoint,
  listEndpoints,
  rotateSecret,
  updateEndpoint,
} from '../webhooks/endpoints.ts';
import { WEBHOOK_EVENT_TYPES } from '../webhooks/settings.ts';

// ---- schemas --------------------------------------------------------------------------------

const EndpointId = z.string().openapi({ example: 'whe_0m3k9x2qa4f7hz81kd0p3q' });
const EventType = z.enum(WEBHOOK_EVENT_TYPES);
const Secret = z.string().openapi({
  description: 'The signing secret (Standard Webhooks). Shown only when created or rotated: keep it safe.',
  example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
});

const Url = z.string().min(1).max(2048).openapi({ description: 'https URL receiving the POSTs.', example: 'https://example.com/webhooks' });
const Events = z.array(EventType).min(1).max(WEBHOOK_EVENT_TYPES.length);

const CreateEndpointRequest = z
  .strictObject({
    url: Url,
    events: Events.optional().openapi({ description: 'Events to receive; default: succeeded, failed and cancelled (started is opt-in).' }),
  })
  .openapi('CreateWebhookEndpointRequest');

const UpdateEndpointRequest = z
  .strictObject({
    url: Url.optional().openapi({ description: 'A new URL (checked as at creation); pending deliveries go to it.' }),
    events: Events.optional().openapi({ description: 'The events to receive from now on (replaces the list).' }),
    enabled: z.boolean().optional().openapi({
      description:
        '`false` disables the endpoint: its pending deliveries fail and events make no delivery for it until it is enabled again. ' +
        '`true` re-enables a disabled endpoint (also one the receiver disabled with 410): events from then on are delivered; ' +
        'deliveries of the disabled time can be resent one by one.',
    }),
  })
  .openapi('UpdateWebhookEndpointRequest');

const EndpointFields = {
  id: EndpointId,
  url: z.string(),
  events: z.array(EventType),
  enabled: z.boolean().openapi({ description: 'False while the endpoint is disabled (see disabled_reason).' }),
  disabled_at: z.string().nullable().openapi({ description: 'When the endpoint was disabled; null while it is enabled.' }),
  disabled_reason: z.string().nullable().openapi({
    description: `Why it was disabled: the receiver answered 410 Gone (naming the delivery), or "${DISABLED_BY_YOU}"; null while enabled.`,
    example: null,
  }),
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

const updateEndpointRoute = createRoute({
  method: 'patch',
  path: '/v1/webhook-endpoints/{id}',
  operationId: 'updateWebhookEndpoint',
  tags,
  summary: 'Update a webhook endpoint',
  description:
    'Changes the URL, the events and/or whether the endpoint is enabled (give at least one; unknown fields are 422). ' +
    'Disabling fails its pending deliveries at once and no delivery is made for events while it is disabled; ' +
    're-enabling delivers the events from then on (resend older deliveries with POST /v1/webhook-deliveries/{id}/resend). ' +
    'Recorded in the audit log as webhook_endpoint.updated with what changed.',
  security,
  middleware: [requireTenant] as const,
  request: { params: IdParams, body: jsonBody(UpdateEndpointRequest) },
  responses: { 200: jsonResponse(Endpoint, 'The endpoint as updated (no secret).'), ...errorResponses(...V1_ERRORS, ...JSON_BODY_ERRORS, 404) },
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

  app.openapi(updateEndpointRoute, async (c) => {
    const { tenantId } = c.var.tenant;
    const { db } = c.var.ports;
    const id = c.req.valid('param').id;
    const audit = (data: EndpointChange) => endpointAuditStatement(db, { tenantId, actor: actorOf(c.var.tenant), id, action: 'webhook_endpoint.updated', data });
    const endpoint = await updateEndpoint(db, { tenantId, id, update: c.req.valid('json'), localMode: c.var.config.localMode }, audit);
    return c.json(endpoint, 200);
  });

  app.openapi(deleteEndpointRoute, async (c) => {
    const { tenantId } = c.var.tenant;
    const id = c.req.valid('param').id;
    await deleteEndpoint(audited(c.var.ports.db, { tenantId, actor: actorOf(c.var.tenant), id, action: 'webhook_endpoint.deleted' }), tenantId, id);
    return c.body(null, 204);
  });

  app.openapi(rotateSecretRoute, async (c) => {
    const { tenantId } = c.var.tenant;
    const id = c.req.valid('param').id;
    return c.json(await rotateSecret(audited(c.var.ports.db, { tenantId, actor: actorOf(c.var.tenant), id, action: 'webhook_endpoint.secret_rotated' }), tenantId, id, c.var.config.clock()), 200);
  });

  return app;
}

