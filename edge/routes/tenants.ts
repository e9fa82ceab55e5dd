// Tenants and API keys: POST /v1/tenants (admin), GET /v1/me, POST /v1/api-keys, DELETE /v1/api-keys/{id}.
import { createRoute, z } from '@hono/zod-openapi';
import { requireAdmin, requireTenant } from '../http/auth.ts';
import { notFound } from '../http/errors.ts';
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
import { PLAIN_TEXT_RULE, isPlainText } from '../http/text.ts';
import { newApiKey, newId } from '../ids.ts';
import type { SqlDatabase } from '../ports.ts';
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

// ---- routes ---------------------------------------------------------------------------------

const createTenant = createRoute({
  method: 'post',
  path: '/v1/tenants',
  tags: ['Tenants'],
  summary: 'Create a tenant (admin)',
  description: 'Creates a tenant and its first API key. Needs the admin token.',
  security: SECURITY.admin,
  middleware: [requireAdmin, idempotent()] as const,
  request: { headers: IdempotencyHeaders, body: jsonBody(CreateTenantRequest) },
  responses: {
    201: jsonResponse(TenantCreated, 'The tenant, with its first API key (shown once).'),
    ...errorResponses(...V1_ERRORS, ...JSON_BODY_ERRORS, 409),
  },
});

const getMe = createRoute({
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

const createApiKey = createRoute({
  method: 'post',
  path: '/v1/api-keys',
  tags: ['Tenants'],
  summary: 'Create an API key',
  description: 'A new key for the calling tenant. No request body.',
  security: SECURITY.tenant,
  middleware: [requireTenant, idempotent()] as const,
  request: { headers: IdempotencyHeaders },
  responses: {
    201: jsonResponse(ApiKeyCreated, 'The key (shown once).'),
    ...errorResponses(...V1_ERRORS, 409),
  },
});

const revokeApiKey = createRoute({
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

/** An id from the URL for an error message: quoted, and cut when absurdly long. */
function quoteId(id: string): string {
  return JSON.stringify(id.length > 64 ? `${id.slice(0, 64)}…` : id);
}

async function insertKeyStatement(db: SqlDatabase, tenantId: string, createdAt: string) {
  const id = newId('apiKey');
  const key = await newApiKey();
  const stmt = db
    .prepare('INSERT INTO api_keys (id, tenant_id, key_hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)')
    .bind(id, tenantId, key.hash, key.prefix, createdAt);
  return { id, key: key.key, stmt };
}

export function tenantRoutes() {
  const app = newRouter();

  app.openapi(createTenant, async (c) => {
    const { name } = c.req.valid('json');
    const { db } = c.var.ports;
    const id = newId('tenant');
    const now = new Date().toISOString();
    const key = await insertKeyStatement(db, id, now);
    await db.batch([db.prepare('INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)').bind(id, name, now), key.stmt]);
    return c.json({ id, name, api_key: key.key }, 201);
  });

  app.openapi(getMe, async (c) => {
    const { tenantId } = c.var.tenant;
    const { db } = c.var.ports;
    const tenant = await db.prepare('SELECT id, name FROM tenants WHERE id = ?').bind(tenantId).first<{ id: string; name: string }>();
    if (!tenant) throw notFound('The tenant of this API key no longer exists.');
    return c.json({ id: tenant.id, name: tenant.name, quotas: c.var.config.quotas, usage: await tenantUsage(db, tenantId) }, 200);
  });

  app.openapi(createApiKey, async (c) => {
    const { db } = c.var.ports;
    const key = await insertKeyStatement(db, c.var.tenant.tenantId, new Date().toISOString());
    await key.stmt.run();
    return c.json({ id: key.id, api_key: key.key }, 201);
  });

  app.openapi(revokeApiKey, async (c) => {
    const { id } = c.req.valid('param');
    const { db } = c.var.ports;
    const { changes } = await db
      .prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND tenant_id = ? AND revoked_at IS NULL')
      .bind(new Date().toISOString(), id, c.var.tenant.tenantId)
      .run();
    if (changes === 0) throw notFound(`No active API key with id ${quoteId(id)} in your tenant.`, 'id');
    return c.body(null, 204);
  });

  return app;
}
