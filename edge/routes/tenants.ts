// Tenants and API keys: POST /v1/tenants (admin), GET /v1/me, POST /v1/api-keys, DELETE /v1/api-keys/{id}.
// The SQL and rules are in edge/tenants/.
import { createRoute, z } from '@hono/zod-openapi';
import { requireAdmin, requireTenant } from '../http/auth.ts';
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
import { PLAIN_TEXT_RULE, isPlainText } from '../http/text.ts';
import { type CreatedTenant, createApiKey, createTenant, requireTenantRecord, revokeApiKey } from '../tenants/tenants.ts';
import { tenantUsage } from '../tenants/usage.ts';

// ---- schemas --------------------------------------------------------------------------------

const TenantId = z.string().openapi({ example: 'ten_0m3k9x2qa4f7hz81kd0p3q' });
const KeyId = z.string().openapi({ example: 'key_0m3k9x2qa4f7hz81kd0p3q' });
const ApiKeySecret = z.string().openapi({
  description: 'The API key. Shown only in this response (only its hash is stored): keep it safe.',
  example: 'ck_live_3fJ9kQ2mXcV7pL0aZr8tN5wB1yH6dE4u',
});

const CreateTenantRequest = z
  .strictObject({
    name: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .refine(isPlainText, PLAIN_TEXT_RULE)
      .openapi({ description: 'Display name of the tenant.', example: 'Acme Inc.' }),
  })
  .openapi('CreateTenantRequest');

const TenantCreated = z
  .object({ id: TenantId, name: z.string(), api_key: ApiKeySecret })
  .openapi('TenantCreated');

const QuotaFields = {
  datasets: z.number().int().openapi({ description: 'Datasets.' }),
  images: z.number().int().openapi({ description: 'Dataset images, over all datasets.' }),
  bytes: z.number().int().openapi({ description: 'Stored bytes: images plus model artifacts.' }),
  concurrent_jobs: z.number().int().openapi({ description: 'Training jobs queued, running or cancelling.' }),
};
const Quotas = z.object(QuotaFields).openapi('Quotas', { description: 'The tenant limits.' });
const Usage = z.object(QuotaFields).openapi('Usage', { description: 'What the tenant uses now, in the units of the quotas.' });

const Me = z.object({ id: TenantId, name: z.string(), quotas: Quotas, usage: Usage }).openapi('Me');

const ApiKeyCreated = z.object({ id: KeyId, api_key: ApiKeySecret }).openapi('ApiKeyCreated');

const KeyParams = z.object({
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, example: 'key_0m3k9x2qa4f7hz81kd0p3q' }),
});

// ---- idempotency ----------------------------------------------------------------------------

// Keys are stored only hashed, so a replay (same Idempotency-Key) cannot show one again: it answers the ids with
// `api_key: null` and a note (edge/http/idempotency.ts).
const tenantIdempotency = idempotent({
  atomic: {
    replay: async (c, id) => ({ status: 201, body: { ...(await requireTenantRecord(c.var.ports.db, id)), api_key: null } }),
  },
  secret: {
    fields: ['api_key'],
    note: (b) =>
      `Tenant ${String(b.id)} was created by the first request with this Idempotency-Key. Its API key is shown only once and is not stored; ` +
      'if it was lost, the tenant has no usable key (there is no admin route to issue another).',
  },
});

const apiKeyIdempotency = idempotent({
  atomic: { replay: async (_c, id) => ({ status: 201, body: { id, api_key: null } }) },
  secret: {
    fields: ['api_key'],
    note: (b) =>
      `API key ${String(b.id)} was created by the first request with this Idempotency-Key. A key is shown only once and is not stored; ` +
      `if it was lost, revoke ${String(b.id)} (DELETE /v1/api-keys/${String(b.id)}) and create another.`,
  },
});

// ---- routes ---------------------------------------------------------------------------------

const createTenantRoute = createRoute({
  method: 'post',
  path: '/v1/tenants',
  tags: ['Tenants'],
  summary: 'Create a tenant (admin)',
  description: 'Creates a tenant and its first API key. Needs the admin token.',
  security: SECURITY.admin,
  middleware: [requireAdmin, tenantIdempotency] as const,
  request: { headers: IdempotencyHeaders, body: jsonBody(CreateTenantRequest) },
  responses: {
    201: jsonResponse(TenantCreated, 'The tenant, with its first API key (shown once).'),
    ...errorResponses(...V1_ERRORS, ...JSON_BODY_ERRORS, 409),
  },
});

const getMeRoute = createRoute({
  method: 'get',
  path: '/v1/me',
  tags: ['Tenants'],
  summary: 'The calling tenant',
  description: 'The tenant of the API key, its quotas and current usage.',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  responses: {
    200: jsonResponse(Me, 'The tenant.'),
    ...errorResponses(...V1_ERRORS),
  },
});

const createApiKeyRoute = createRoute({
  method: 'post',
  path: '/v1/api-keys',
  tags: ['Tenants'],
  summary: 'Create an API key',
  description: 'A new key for the calling tenant. No request body.',
  security: SECURITY.tenant,
  middleware: [requireTenant, apiKeyIdempotency] as const,
  request: { headers: IdempotencyHeaders },
  responses: {
    201: jsonResponse(ApiKeyCreated, 'The key (shown once).'),
    ...errorResponses(...V1_ERRORS, 409),
  },
});

const revokeApiKeyRoute = createRoute({
  method: 'delete',
  path: '/v1/api-keys/{id}',
  tags: ['Tenants'],
  summary: 'Revoke an API key',
  description: 'The key stops working at once (the key making this request may revoke itself).',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { params: KeyParams },
  responses: {
    204: { description: 'Revoked.' },
    ...errorResponses(...V1_ERRORS, 404),
  },
});

// ---- handlers -------------------------------------------------------------------------------

export function tenantRoutes() {
  const app = newRouter();

  app.openapi(createTenantRoute, async (c) => {
    const commit = idempotencyCommit(c, (t: CreatedTenant) => ({ status: 201, resourceId: t.id, body: t }));
    return c.json(await createTenant(c.var.ports.db, c.req.valid('json').name, commit), 201);
  });

  app.openapi(getMeRoute, async (c) => {
    const { tenantId } = c.var.tenant;
    const { db } = c.var.ports;
    const tenant = await requireTenantRecord(db, tenantId);
    return c.json({ id: tenant.id, name: tenant.name, quotas: c.var.config.quotas, usage: await tenantUsage(db, tenantId) }, 200);
  });

  app.openapi(createApiKeyRoute, async (c) => {
    const commit = idempotencyCommit(c, (k: { id: string; api_key: string }) => ({ status: 201, resourceId: k.id, body: k }));
    return c.json(await createApiKey(c.var.ports.db, c.var.tenant.tenantId, commit), 201);
  });

  app.openapi(revokeApiKeyRoute, async (c) => {
    await revokeApiKey(c.var.ports.db, c.var.tenant.tenantId, c.req.valid('param').id);
    return c.body(null, 204);
  });

  return app;
}
