// Webhook deliveries: GET /v1/webhook-endpoints/{id}/deliveries (optionally ?status=), POST
// /v1/webhook-endpoints/{id}/test (a signed webhook.test event to that endpoint), POST
// /v1/webhook-deliveries/{id}/resend (a new attempt of a delivery, same webhook-id and payload). The SQL and rules are
// in edge/webhooks/deliveries.ts; the deliveries are sent by the same machinery as every event's (dispatcher.ts on
// Node, the queue on Workers).
import { createRoute, z } from '@hono/zod-openapi';
import { requireTenant } from '../http/auth.ts';
import { STORED_WITH_KEY, idempotencyCommit, idempotent } from '../http/idempotency.ts';
import { IdempotencyHeaders, SECURITY, V1_ERRORS, errorResponses, jsonResponse, newRouter } from '../http/openapi.ts';
import { PaginationQuery, pageSchema } from '../http/pagination.ts';
import { type Delivery, listDeliveries, resendDelivery, sendTestEvent } from '../webhooks/deliveries.ts';
import { DELIVERY_EVENT_TYPES, DELIVERY_STATUSES } from '../webhooks/settings.ts';

// ---- schemas --------------------------------------------------------------------------------

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
    id: z.string().openapi({ description: 'The webhook-id header (stable across retries and resends).', example: 'msg_0m3k9x2qa4f7hz81kd0p3q' }),
    endpoint_id: z.string().openapi({ example: 'whe_0m3k9x2qa4f7hz81kd0p3q' }),
    event_type: z.enum(DELIVERY_EVENT_TYPES),
    status: z.enum(DELIVERY_STATUSES),
    attempt_count: z.number().int(),
    next_attempt_at: z.string().nullable().openapi({ description: 'When the next attempt is due (pending only).' }),
    created_at: z.string(),
    payload: z.unknown().openapi({ description: 'The JSON body sent.' }),
    attempts: z.array(Attempt).openapi({ description: 'Every attempt, oldest first (those of resends included).' }),
  })
  .openapi('WebhookDelivery');

const EndpointIdParams = z.object({
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, description: 'The webhook endpoint id (`whe_…`).', example: 'whe_0m3k9x2qa4f7hz81kd0p3q' }),
});
const DeliveryIdParams = z.object({
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, description: 'The delivery id (`msg_…`, its webhook-id).', example: 'msg_0m3k9x2qa4f7hz81kd0p3q' }),
});

const DeliveriesQuery = PaginationQuery.extend({
  status: z
    .enum(DELIVERY_STATUSES)
    .optional()
    .openapi({ param: { name: 'status', in: 'query' }, description: 'Only deliveries in this status.', example: 'failed' }),
});

// ---- routes ---------------------------------------------------------------------------------

const tags = ['Webhooks'];
const security = SECURITY.tenant;

const listDeliveriesRoute = createRoute({
  method: 'get',
  path: '/v1/webhook-endpoints/{id}/deliveries',
  operationId: 'listWebhookDeliveries',
  tags,
  summary: 'List deliveries of an endpoint',
  description: 'Newest first, each with all its attempts; `status` keeps one status only (422 for another value).',
  security,
  middleware: [requireTenant] as const,
  request: { params: EndpointIdParams, query: DeliveriesQuery },
  responses: {
    200: jsonResponse(pageSchema(Delivery, 'WebhookDeliveryPage'), 'Deliveries, newest first.'),
    ...errorResponses(...V1_ERRORS, 404, 422),
  },
});

const testEndpointRoute = createRoute({
  method: 'post',
  path: '/v1/webhook-endpoints/{id}/test',
  operationId: 'testWebhookEndpoint',
  tags,
  summary: 'Send a test event',
  description:
    'Queues a `webhook.test` event to this endpoint only, whatever its `events`: body `{"type": "webhook.test", "timestamp", ' +
    '"data": {"endpoint_id", "delivery_id"}}`, signed, logged and retried like any delivery. 409 when the endpoint is disabled.',
  security,
  middleware: [requireTenant, idempotent({ atomic: STORED_WITH_KEY })] as const,
  request: { params: EndpointIdParams, headers: IdempotencyHeaders },
  responses: {
    202: jsonResponse(Delivery, 'The new delivery (pending, due now).'),
    ...errorResponses(...V1_ERRORS, 400, 404, 409),
  },
});

const resendDeliveryRoute = createRoute({
  method: 'post',
  path: '/v1/webhook-deliveries/{id}/resend',
  operationId: 'resendWebhookDelivery',
  tags,
  summary: 'Resend a delivery',
  description:
    'Sends the delivery again, whatever its status (a failed one too): the same webhook-id and payload, signed with the ' +
    'current secret(s); the new attempt joins its attempts. It becomes pending, due now, and gets the whole retry ' +
    'schedule again. 404 for a delivery of another tenant or of a deleted endpoint; 409 when its endpoint is disabled ' +
    '(re-enable it first) or an attempt of it is in progress.',
  security,
  middleware: [requireTenant] as const,
  request: { params: DeliveryIdParams },
  responses: {
    202: jsonResponse(Delivery, 'The delivery, pending and due now.'),
    ...errorResponses(...V1_ERRORS, 404, 409),
  },
});

// ---- handlers -------------------------------------------------------------------------------

export function webhookDeliveryRoutes() {
  const app = newRouter();

  app.openapi(listDeliveriesRoute, async (c) => {
    const page = await listDeliveries(c.var.ports.db, c.var.tenant.tenantId, c.req.valid('param').id, c.req.valid('query'));
    return c.json(page, 200);
  });

  app.openapi(testEndpointRoute, async (c) => {
    const commit = idempotencyCommit(c, (d: Delivery) => ({ status: 202, resourceId: d.id, body: d }));
    return c.json(await sendTestEvent(c.var.ports.db, c.var.tenant.tenantId, c.req.valid('param').id, commit), 202);
  });

  app.openapi(resendDeliveryRoute, async (c) => c.json(await resendDelivery(c.var.ports.db, c.var.tenant.tenantId, c.req.valid('param').id), 202));

  return app;
}
