// The tenant's audit log: GET /v1/audit-events (newest first). The events are written by the changes themselves
// (edge/audit/audit.ts): API keys created and revoked, webhook endpoints created, deleted and their secret rotated,
// the tenant created, suspended and unsuspended.
import { createRoute, z } from '@hono/zod-openapi';
import { AUDIT_ACTIONS, listAuditEvents } from '../audit/audit.ts';
import { requireTenant } from '../http/auth.ts';
import { SECURITY, V1_ERRORS, errorResponses, jsonResponse, newRouter } from '../http/openapi.ts';
import { PaginationQuery, pageSchema } from '../http/pagination.ts';

const AuditEvent = z
  .object({
    id: z.string().openapi({ example: 'aud_0m3k9x2qa4f7hz81kd0p3q' }),
    created_at: z.string().openapi({ example: '2025-01-31T12:00:00.000Z' }),
    actor: z
      .object({
        type: z.enum(['api_key', 'admin']),
        id: z.string().nullable().openapi({ description: 'The API key that made the change; null for the operator (admin token).' }),
      })
      .openapi({ description: 'Who made the change.' }),
    action: z.enum(AUDIT_ACTIONS as [string, ...string[]]),
    target: z
      .object({
        type: z.enum(['tenant', 'api_key', 'webhook_endpoint', 'worker_token']),
        id: z.string(),
      })
      .openapi({ description: 'What was changed.' }),
    data: z.record(z.string(), z.unknown()).optional().openapi({ description: 'Details of some actions (a new key’s prefix and expiry, a new endpoint’s URL).' }),
  })
  .openapi('AuditEvent');

const listAuditEventsRoute = createRoute({
  method: 'get',
  path: '/v1/audit-events',
  operationId: 'listAuditEvents',
  tags: ['Tenants'],
  summary: 'List audit events',
  description:
    'Changes to the tenant’s API keys, webhook endpoints and the tenant itself (created, suspended, unsuspended), newest first. ' +
    'Each is written in the same transaction as the change.',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { query: PaginationQuery },
  responses: {
    200: jsonResponse(pageSchema(AuditEvent, 'AuditEventPage'), 'Events, newest first.'),
    ...errorResponses(...V1_ERRORS, 422),
  },
});

export function auditEventRoutes() {
  const app = newRouter();
  app.openapi(listAuditEventsRoute, async (c) => c.json(await listAuditEvents(c.var.ports.db, c.var.tenant.tenantId, c.req.valid('query')), 200));
  return app;
}
