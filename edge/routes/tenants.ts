// Tenants and API keys: POST /v1/tenants (admin), POST /v1/tenants/{id}/suspend and /unsuspend (admin), GET /v1/me,
// POST /v1/api-keys (optionally expiring), GET /v1/api-keys, DELETE /v1/api-keys/{id}. A tenant's quotas and rate limit
// (PATCH /v1/tenants/{id}) are in routes/tenant-limits.ts, its billable usage (GET /v1/usage) in routes/usage.ts.
// The SQL and rules are in edge/tenants/; every change writes its audit event (edge/audit/) in the same batch.
import { createRoute, z } from '@hono/zod-openapi';
import { actorOf } from '../audit/audit.ts';
import { requireAdmin, requireTenant, tenantIdOf } from '../http/auth.ts';
import { validationFailed } from '../http/errors.ts';
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
import { rateLimitsOf } from '../http/rate-limit.ts';
import { PLAIN_TEXT_RULE, isPlainText } from '../http/text.ts';
import { suspendTenant, unsuspendTenant } from '../tenants/suspension.ts';
import {
  type CreatedApiKey,
  type CreatedTenant,
  createApiKey,
  createTenant,
  getApiKey,
  listApiKeys,
  requireTenantRecord,
  revokeApiKey,
} from '../tenants/tenants.ts';
import { tenantUsage } from '../tenants/usage.ts';
import { Quotas, RateLimit, Usage } from './tenant-limits.ts';

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

const Me = z.object({ id: TenantId, name: z.string(), quotas: Quotas, rate_limit: RateLimit, usage: Usage }).openapi('Me');

const MAX_KEY_DAYS = 3650;
const Timestamp = z.string().openapi({ example: '2025-01-31T12:00:00.000Z' });

const CreateApiKeyRequest = z
  .strictObject({
    expires_in_days: z
      .number()
      .int()
      .min(1)
      .max(MAX_KEY_DAYS)
      .optional()
      .openapi({ description: `The key expires this many days from now (1..${MAX_KEY_DAYS}).`, example: 90 }),
    expires_at: z
      .string()
      .max(40)
      .optional()
      .openapi({ description: 'The key expires at this ISO-8601 time (in the future, at most 10 years away).', example: '2026-01-01T00:00:00Z' }),
  })
  .superRefine((v, ctx) => {
    if (v.expires_in_days !== undefined && v.expires_at !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['expires_at'], message: 'give expires_in_days or expires_at, not both' });
    }
  })
  .openapi('CreateApiKeyRequest', { description: 'Optional; without a body (or with `{}`) the key never expires.' });

const ApiKeyCreated = z
  .object({
    id: KeyId,
    api_key: ApiKeySecret,
    expires_at: Timestamp.nullable().openapi({ description: 'When the key stops working; null: never.' }),
  })
  .openapi('ApiKeyCreated');

const ApiKey = z
  .object({
    id: KeyId,
    prefix: z.string().openapi({ description: 'The first 12 characters of the key, to recognise it.', example: 'ck_live_3fJ9' }),
    created_at: Timestamp,
    last_used_at: Timestamp.nullable().openapi({ description: 'When the key last authenticated a request (to the minute); null: never.' }),
    expires_at: Timestamp.nullable().openapi({ description: 'When the key stops working; null: never.' }),
    revoked_at: Timestamp.nullable(),
  })
  .openapi('ApiKey', { description: 'An API key as listed: never the key itself.' });

const TenantState = z
  .object({
    id: TenantId,
    name: z.string(),
    created_at: Timestamp,
    suspended_at: Timestamp.nullable().openapi({ description: 'Since when the tenant is suspended; null: it is not.' }),
  })
  .openapi('TenantState');
const TenantSuspended = TenantState.extend({
  cancelled_jobs: z.array(z.string()).openapi({ description: 'The training jobs this call cancelled (queued ones at once, running ones via their worker).' }),
}).openapi('TenantSuspended');

const KeyParams = z.object({
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, description: 'The API key id (`key_…`).', example: 'key_0m3k9x2qa4f7hz81kd0p3q' }),
});
const TenantParams = z.object({
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, description: 'The tenant id (`ten_…`).', example: 'ten_0m3k9x2qa4f7hz81kd0p3q' }),
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
  atomic: {
    replay: async (c, id) => ({
      status: 201,
      body: { id, api_key: null, expires_at: (await getApiKey(c.var.ports.db, tenantIdOf(c), id))?.expires_at ?? null },
    }),
  },
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
  operationId: 'createTenant',
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
  operationId: 'getMe',
  tags: ['Tenants'],
  summary: 'The calling tenant',
  description:
    'The tenant of the API key, its quotas (its overrides, else the defaults), the request limit of its keys, and what it uses of the quotas now. ' +
    'Billable usage over time: GET /v1/usage.',
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
  operationId: 'createApiKey',
  tags: ['Tenants'],
  summary: 'Create an API key',
  description:
    'A new key for the calling tenant. The body is optional: `{"expires_in_days": n}` or `{"expires_at": "<ISO-8601>"}` makes a key that ' +
    'stops working then (401, saying it expired); without either the key never expires.',
  security: SECURITY.tenant,
  middleware: [requireTenant, apiKeyIdempotency] as const,
  request: { headers: IdempotencyHeaders, body: { ...jsonBody(CreateApiKeyRequest), required: false } },
  responses: {
    201: jsonResponse(ApiKeyCreated, 'The key (shown once).'),
    ...errorResponses(...V1_ERRORS, ...JSON_BODY_ERRORS, 409),
  },
});

const listApiKeysRoute = createRoute({
  method: 'get',
  path: '/v1/api-keys',
  operationId: 'listApiKeys',
  tags: ['Tenants'],
  summary: 'List API keys',
  description: 'The tenant’s keys, newest first, revoked and expired ones included: id, display prefix, times. Never the key itself.',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { query: PaginationQuery },
  responses: {
    200: jsonResponse(pageSchema(ApiKey, 'ApiKeyPage'), 'Keys, newest first.'),
    ...errorResponses(...V1_ERRORS, 422),
  },
});

function suspensionRoute(action: 'suspend' | 'unsuspend') {
  const suspend = action === 'suspend';
  return createRoute({
    method: 'post',
    path: `/v1/tenants/{id}/${action}`,
    operationId: suspend ? 'suspendTenant' : 'unsuspendTenant',
    tags: ['Tenants'],
    summary: suspend ? 'Suspend a tenant (admin)' : 'Lift a tenant’s suspension (admin)',
    description: suspend
      ? 'From the next request on, every API key of the tenant gets 403 forbidden on every /v1 route. Its queued and running ' +
        'training jobs are cancelled (queued evaluations still run). Suspending a suspended tenant changes nothing (it ' +
        'cancels jobs left unfinished). Needs the admin token. No request body.'
      : 'The tenant’s keys work again (cancelled jobs stay cancelled). Lifting a suspension that is not there changes nothing. ' +
        'Needs the admin token. No request body.',
    security: SECURITY.admin,
    middleware: [requireAdmin] as const,
    request: { params: TenantParams },
    responses: {
      200: jsonResponse(suspend ? TenantSuspended : TenantState, 'The tenant.'),
      ...errorResponses(...V1_ERRORS, 404),
    },
  });
}
const suspendRoute = suspensionRoute('suspend');
const unsuspendRoute = suspensionRoute('unsuspend');

const revokeApiKeyRoute = createRoute({
  method: 'delete',
  path: '/v1/api-keys/{id}',
  operationId: 'revokeApiKey',
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
    const { tenantId, limits } = c.var.tenant;
    const { ports, config } = c.var;
    const tenant = await requireTenantRecord(ports.db, tenantId);
    const policy = rateLimitsOf(ports, config).requests.policy(limits.rate_limit?.requests_per_window);
    const rate_limit = { requests_per_window: policy.requests, window_seconds: policy.windowSeconds };
    // config.quotas: the tenant's effective quotas (edge/http/auth.ts gives a tenant's request its own).
    return c.json({ id: tenant.id, name: tenant.name, quotas: config.quotas, rate_limit, usage: await tenantUsage(ports.db, tenantId) }, 200);
  });

  app.openapi(createApiKeyRoute, async (c) => {
    const expiresAt = expiryOf(c.req.valid('json'), c.var.config.clock());
    const commit = idempotencyCommit(c, (k: CreatedApiKey) => ({ status: 201, resourceId: k.id, body: k }));
    const { tenant } = c.var;
    return c.json(await createApiKey(c.var.ports.db, { tenantId: tenant.tenantId, actor: actorOf(tenant), expiresAt }, commit), 201);
  });

  app.openapi(listApiKeysRoute, async (c) => c.json(await listApiKeys(c.var.ports.db, c.var.tenant.tenantId, c.req.valid('query')), 200));

  app.openapi(revokeApiKeyRoute, async (c) => {
    const { tenant } = c.var;
    await revokeApiKey(c.var.ports.db, { tenantId: tenant.tenantId, keyId: c.req.valid('param').id, actor: actorOf(tenant) });
    return c.body(null, 204);
  });

  app.openapi(suspendRoute, async (c) => c.json(await suspendTenant(c.var.ports.db, c.req.valid('param').id), 200));
  app.openapi(unsuspendRoute, async (c) => c.json(await unsuspendTenant(c.var.ports.db, c.req.valid('param').id), 200));

  return app;
}

/** The expiry of a new key from its request (null: never); 422 for a time that is not ISO-8601, past, or over 10 years away. */
function expiryOf(body: { expires_in_days?: number; expires_at?: string }, at: Date): string | null {
  const now = at.getTime();
  if (body.expires_in_days !== undefined) return new Date(now + body.expires_in_days * 86_400_000).toISOString();
  if (body.expires_at === undefined) return null;
  const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
  const ms = iso.test(body.expires_at) ? Date.parse(body.expires_at) : NaN;
  if (Number.isNaN(ms)) throw validationFailed('expires_at must be an ISO-8601 time with a zone, e.g. "2026-01-01T00:00:00Z".', 'expires_at');
  if (ms <= now) throw validationFailed('expires_at must be in the future.', 'expires_at');
  if (ms > now + MAX_KEY_DAYS * 86_400_000) throw validationFailed(`expires_at must be at most ${MAX_KEY_DAYS} days away.`, 'expires_at');
  return new Date(ms).toISOString();
}
