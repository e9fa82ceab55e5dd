// A tenant's plan: PATCH /v1/tenants/{id} (admin) sets or removes its overrides of the configured quotas and of the
// per-key request rate; the schemas of quotas and rate limits that GET /v1/me shows too. The rules and SQL are in
// edge/tenants/limits.ts; the change and its audit event are one batch.
import { createRoute, z } from '@hono/zod-openapi';
import { requireAdmin } from '../http/auth.ts';
import { JSON_BODY_ERRORS, SECURITY, V1_ERRORS, errorResponses, jsonBody, jsonResponse, newRouter } from '../http/openapi.ts';
import { rateLimitsOf } from '../http/rate-limit.ts';
import { MAX_REQUESTS_PER_WINDOW, QUOTA_MAX, tenantLimitsObject, updateTenantLimits } from '../tenants/limits.ts';

const QUOTA_DESCRIPTIONS = {
  datasets: 'Datasets.',
  images: 'Dataset images, over all datasets (pending presigned uploads included).',
  bytes: 'Stored bytes: images plus model artifacts.',
  concurrent_jobs: 'Training jobs and evaluations queued, running or cancelling.',
} as const;

const QuotaFields = {
  datasets: z.number().int().openapi({ description: QUOTA_DESCRIPTIONS.datasets }),
  images: z.number().int().openapi({ description: QUOTA_DESCRIPTIONS.images }),
  bytes: z.number().int().openapi({ description: QUOTA_DESCRIPTIONS.bytes }),
  concurrent_jobs: z.number().int().openapi({ description: QUOTA_DESCRIPTIONS.concurrent_jobs }),
};
export const Quotas = z.object(QuotaFields).openapi('Quotas', { description: 'The limits that apply to the tenant: its overrides, else the configured defaults.' });
export const Usage = z.object(QuotaFields).openapi('Usage', { description: 'What the tenant uses now, in the units of the quotas.' });

export const RateLimit = z
  .object({
    requests_per_window: z.number().int().openapi({ description: 'Requests one API key of the tenant may make per window.', example: 600 }),
    window_seconds: z.number().openapi({ description: 'The window (fixed, not sliding).', example: 60 }),
  })
  .openapi('RateLimit', {
    description:
      'The request limit enforced for each API key of the tenant. On Cloudflare Workers an override is served by the rate-limiting ' +
      'binding tier with the largest limit not above it (docs/API.md), and this is that tier’s limit.',
  });

const override = (max: number, what: string) =>
  z
    .number()
    .int()
    .min(1)
    .max(max)
    .nullable()
    .optional()
    .openapi({ description: `${what} 1..${max}; null removes the override (the default applies again); absent leaves it as it is.` });

const UpdateTenantRequest = z
  .strictObject({
    quotas: z
      .strictObject({
        datasets: override(QUOTA_MAX.datasets, QUOTA_DESCRIPTIONS.datasets),
        images: override(QUOTA_MAX.images, QUOTA_DESCRIPTIONS.images),
        bytes: override(QUOTA_MAX.bytes, QUOTA_DESCRIPTIONS.bytes),
        concurrent_jobs: override(QUOTA_MAX.concurrent_jobs, QUOTA_DESCRIPTIONS.concurrent_jobs),
      })
      .optional(),
    rate_limit: z
      .strictObject({ requests_per_window: override(MAX_REQUESTS_PER_WINDOW, 'Requests per window and API key.') })
      .optional(),
  })
  .openapi('UpdateTenantRequest', {
    description: 'A merge patch of the tenant’s overrides: at least one field. Example: `{"quotas": {"datasets": 1, "images": null}}`.',
    example: { quotas: { datasets: 10, images: null }, rate_limit: { requests_per_window: 1200 } },
  });

const nullableCount = z.number().int().nullable();
const TenantLimits = z
  .object({
    id: z.string().openapi({ example: 'ten_0m3k9x2qa4f7hz81kd0p3q' }),
    name: z.string(),
    quotas: Quotas,
    rate_limit: RateLimit,
    overrides: z
      .object({
        quotas: z.object({ datasets: nullableCount, images: nullableCount, bytes: nullableCount, concurrent_jobs: nullableCount }),
        rate_limit: z.object({ requests_per_window: nullableCount }),
      })
      .openapi({ description: 'The values set for this tenant; null where the configured default applies.' }),
  })
  .openapi('TenantLimits');

const TenantParams = z.object({
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, description: 'The tenant id (`ten_…`).', example: 'ten_0m3k9x2qa4f7hz81kd0p3q' }),
});

const updateTenantRoute = createRoute({
  method: 'patch',
  path: '/v1/tenants/{id}',
  operationId: 'updateTenant',
  tags: ['Tenants'],
  summary: 'Set a tenant’s quotas and rate limit (admin)',
  description:
    'Overrides the configured quotas (`datasets`, `images`, `bytes`, `concurrent_jobs`) and the per-key request limit for this ' +
    'tenant, from its next request on; `null` removes an override. Lowering a quota below what the tenant uses removes nothing: ' +
    'only new datasets, images and jobs are refused (409). Writes the audit event `tenant.limits_updated`. Needs the admin token.',
  security: SECURITY.admin,
  middleware: [requireAdmin] as const,
  request: { params: TenantParams, body: jsonBody(UpdateTenantRequest) },
  responses: {
    200: jsonResponse(TenantLimits, 'The tenant’s limits after the change.'),
    ...errorResponses(...V1_ERRORS, ...JSON_BODY_ERRORS, 404),
  },
});

export function tenantLimitRoutes() {
  const app = newRouter();
  app.openapi(updateTenantRoute, async (c) => {
    const { ports, config } = c.var;
    const t = await updateTenantLimits(ports.db, c.req.valid('param').id, c.req.valid('json'));
    const limits = rateLimitsOf(ports, config).requests;
    return c.json(tenantLimitsObject(t, config.quotas, (o) => limits.policy(o)), 200);
  });
  return app;
}
