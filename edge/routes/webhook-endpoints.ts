// Webhook endpoints: POST/GET /v1/webhook-endpoints, GET/DELETE /v1/webhook-endpoints/{id},
// POST /v1/webhook-endpoints/{id}/rotate-secret, GET /v1/webhook-endpoints/{id}/deliveries.
// The secret is returned only by create and rotate-secret. Deliveries are sent by edge/webhooks/dispatcher.ts.
import { createRoute, z } from '@hono/zod-openapi';
import { requireTenant } from '../http/auth.ts';
import { notFound, validationFailed } from '../http/errors.ts';
import { idempotent } from '../http/idempotency.ts';
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
import { PaginationQuery, listPage, pageSchema } from '../http/pagination.ts';
import { newId } from '../ids.ts';
import type { SqlDatabase } from '../ports.ts';
import { parseEvents } from '../webhooks/outbox.ts';
import { DEFAULT_WEBHOOK_EVENTS, SECRET_OVERLAP_MS, WEBHOOK_EVENT_TYPES } from '../webhooks/settings.ts';
import { newWebhookSecret } from '../webhooks/signing.ts';
import { checkWebhookUrl } from '../webhooks/url-guard.ts';

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
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, example: 'whe_0m3k9x2qa4f7hz81kd0p3q' }),
});

// ---- routes ---------------------------------------------------------------------------------

const tags = ['Webhooks'];
const security = SECURITY.tenant;

const createEndpoint = createRoute({
  method: 'post',
  path: '/v1/webhook-endpoints',
  tags,
  summary: 'Create a webhook endpoint',
  description: 'Registers an https URL for training job events. Returns the signing secret once.',
  security,
  middleware: [requireTenant, idempotent()] as const,
  request: { headers: IdempotencyHeaders, body: jsonBody(CreateEndpointRequest) },
  responses: {
    201: jsonResponse(EndpointCreated, 'The endpoint, with its secret (shown once).'),
    ...errorResponses(...V1_ERRORS, ...JSON_BODY_ERRORS, 409),
  },
});

const listEndpoints = createRoute({
  method: 'get',
  path: '/v1/webhook-endpoints',
  tags,
  summary: 'List webhook endpoints',
  security,
  middleware: [requireTenant] as const,
  request: { query: PaginationQuery },
  responses: {
    200: jsonResponse(pageSchema(Endpoint, 'WebhookEndpointPage'), 'Endpoints, oldest first (no secrets).'),
    ...errorResponses(...V1_ERRORS, 422),
  },
});

const getEndpoint = createRoute({
  method: 'get',
  path: '/v1/webhook-endpoints/{id}',
  tags,
  summary: 'Get a webhook endpoint',
  security,
  middleware: [requireTenant] as const,
  request: { params: IdParams },
  responses: { 200: jsonResponse(Endpoint, 'The endpoint (no secret).'), ...errorResponses(...V1_ERRORS, 404) },
});

const deleteEndpoint = createRoute({
  method: 'delete',
  path: '/v1/webhook-endpoints/{id}',
  tags,
  summary: 'Delete a webhook endpoint',
  description: 'Stops deliveries at once: its pending deliveries are marked failed.',
  security,
  middleware: [requireTenant] as const,
  request: { params: IdParams },
  responses: { 204: { description: 'Deleted.' }, ...errorResponses(...V1_ERRORS, 404) },
});

const rotateSecret = createRoute({
  method: 'post',
  path: '/v1/webhook-endpoints/{id}/rotate-secret',
  tags,
  summary: 'Rotate the signing secret',
  description: 'Makes a new secret; for 24 h deliveries carry signatures with both the new and the old secret.',
  security,
  middleware: [requireTenant] as const,
  request: { params: IdParams },
  responses: { 200: jsonResponse(SecretRotated, 'The new secret (shown once).'), ...errorResponses(...V1_ERRORS, 404) },
});

const listDeliveries = createRoute({
  method: 'get',
  path: '/v1/webhook-endpoints/{id}/deliveries',
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

interface EndpointRow {
  id: string;
  url: string;
  events: string;
  disabled_at: string | null;
  disabled_reason: string | null;
  created_at: string;
}

const ENDPOINT_COLUMNS = 'id, url, events, disabled_at, disabled_reason, created_at';

function toEndpoint(r: EndpointRow) {
  return {
    id: r.id,
    url: r.url,
    events: parseEvents(r.events) as (typeof WEBHOOK_EVENT_TYPES)[number][],
    disabled_at: r.disabled_at,
    disabled_reason: r.disabled_reason,
    created_at: r.created_at,
  };
}

function quoteId(id: string): string {
  return JSON.stringify(id.length > 64 ? `${id.slice(0, 64)}…` : id);
}

async function findEndpoint(db: SqlDatabase, tenantId: string, id: string): Promise<EndpointRow> {
  const row = await db
    .prepare(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ? AND tenant_id = ?`)
    .bind(id, tenantId)
    .first<EndpointRow>();
  if (!row) throw notFound(`No webhook endpoint with id ${quoteId(id)} in your tenant.`, 'id');
  return row;
}

export function webhookEndpointRoutes() {
  const app = newRouter();

  app.openapi(createEndpoint, async (c) => {
    const body = c.req.valid('json');
    const check = checkWebhookUrl(body.url, { localMode: c.var.config.localMode });
    if (!check.ok) throw validationFailed(check.reason, 'url');
    const events = body.events ? WEBHOOK_EVENT_TYPES.filter((e) => body.events!.includes(e)) : DEFAULT_WEBHOOK_EVENTS;
    const { db } = c.var.ports;
    const id = newId('webhookEndpoint');
    const secret = newWebhookSecret();
    const createdAt = new Date().toISOString();
    const url = check.url.href;
    await db
      .prepare('INSERT INTO webhook_endpoints (id, tenant_id, url, events, secret, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .bind(id, c.var.tenant.tenantId, url, JSON.stringify(events), secret, createdAt)
      .run();
    return c.json({ id, url, events, disabled_at: null, disabled_reason: null, created_at: createdAt, secret }, 201);
  });

  app.openapi(listEndpoints, async (c) => {
    const page = await listPage<EndpointRow>(
      c.var.ports.db,
      { from: 'webhook_endpoints', columns: ENDPOINT_COLUMNS, where: 'tenant_id = ?', binds: [c.var.tenant.tenantId] },
      c.req.valid('query'),
    );
    return c.json({ data: page.data.map(toEndpoint), has_more: page.has_more }, 200);
  });

  app.openapi(getEndpoint, async (c) => {
    const row = await findEndpoint(c.var.ports.db, c.var.tenant.tenantId, c.req.valid('param').id);
    return c.json(toEndpoint(row), 200);
  });

  app.openapi(deleteEndpoint, async (c) => {
    const { id } = c.req.valid('param');
    const { db } = c.var.ports;
    const tenantId = c.var.tenant.tenantId;
    const [deleted] = await db.batch([
      db.prepare('DELETE FROM webhook_endpoints WHERE id = ? AND tenant_id = ?').bind(id, tenantId),
      db
        .prepare("UPDATE webhook_deliveries SET status = 'failed' WHERE endpoint_id = ? AND tenant_id = ? AND status = 'pending'")
        .bind(id, tenantId),
    ]);
    if (deleted.changes === 0) throw notFound(`No webhook endpoint with id ${quoteId(id)} in your tenant.`, 'id');
    return c.body(null, 204);
  });

  app.openapi(rotateSecret, async (c) => {
    const { id } = c.req.valid('param');
    const { db } = c.var.ports;
    const secret = newWebhookSecret();
    const expires = new Date(Date.now() + SECRET_OVERLAP_MS).toISOString();
    // The current secret becomes the previous one (a second rotation within 24 h drops the oldest).
    const { changes } = await db
      .prepare(
        `UPDATE webhook_endpoints SET previous_secret = secret, previous_secret_expires_at = ?, secret = ?
         WHERE id = ? AND tenant_id = ?`,
      )
      .bind(expires, secret, id, c.var.tenant.tenantId)
      .run();
    if (changes === 0) throw notFound(`No webhook endpoint with id ${quoteId(id)} in your tenant.`, 'id');
    return c.json({ id, secret, previous_secret_expires_at: expires }, 200);
  });

  app.openapi(listDeliveries, async (c) => {
    const { id } = c.req.valid('param');
    const { db } = c.var.ports;
    const tenantId = c.var.tenant.tenantId;
    await findEndpoint(db, tenantId, id);
    const page = await listPage<{
      id: string;
      event_type: string;
      status: 'pending' | 'succeeded' | 'failed';
      attempts: number;
      next_attempt_at: number;
      created_at: string;
      payload: string;
    }>(
      db,
      {
        from: 'webhook_deliveries',
        columns: 'id, event_type, status, attempts, next_attempt_at, created_at, payload',
        where: 'endpoint_id = ? AND tenant_id = ?',
        binds: [id, tenantId],
        order: 'desc',
      },
      c.req.valid('query'),
    );
    const byDelivery = new Map<string, z.infer<typeof Attempt>[]>();
    if (page.data.length > 0) {
      const rows = await db
        .prepare(
          `SELECT delivery_id, attempted_at, status_code, error, duration_ms FROM webhook_attempts
           WHERE delivery_id IN (${page.data.map(() => '?').join(', ')}) ORDER BY seq`,
        )
        .bind(...page.data.map((d) => d.id))
        .all<{ delivery_id: string } & z.infer<typeof Attempt>>();
      for (const { delivery_id, ...a } of rows) {
        const list = byDelivery.get(delivery_id) ?? [];
        list.push(a);
        byDelivery.set(delivery_id, list);
      }
    }
    const data = page.data.map((d) => ({
      id: d.id,
      event_type: d.event_type as (typeof WEBHOOK_EVENT_TYPES)[number],
      status: d.status,
      attempt_count: d.attempts,
      next_attempt_at: d.status === 'pending' ? new Date(d.next_attempt_at).toISOString() : null,
      created_at: d.created_at,
      payload: JSON.parse(d.payload) as unknown,
      attempts: byDelivery.get(d.id) ?? [],
    }));
    return c.json({ data, has_more: page.has_more }, 200);
  });

  return app;
}
