// Building blocks for route modules: a router with the app's validation hook, JSON request/response
// descriptions, the shared error schema and the security schemes, so every route is described in
// /openapi.json by the same definition that validates it.
import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from './context.ts';
import { ERROR_STATUS, type ErrorCode } from './errors.ts';
import { validationHook } from './validation.ts';

/** A router for one resource module; mount it with `app.route('/', router)`. */
export function newRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
}

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]]),
      message: z.string().openapi({ description: 'What went wrong and what to change.' }),
      param: z.string().optional().openapi({ description: 'The field, parameter or header at fault, e.g. `classes[2]`.' }),
    }),
  })
  .openapi('Error');

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'invalid_request: malformed request (e.g. the body is not JSON).',
  401: 'unauthorized: missing, invalid, expired or revoked credentials.',
  403: 'forbidden: the tenant of this API key is suspended.',
  404: 'not_found: no such resource in your tenant.',
  409: 'conflict: the request conflicts with the current state (or reuses an Idempotency-Key).',
  413: 'payload_too_large: the body is over the size limit.',
  415: 'unsupported_media_type: wrong Content-Type.',
  422: 'validation_failed: a field is missing, of the wrong type, out of range or unknown (see `param`).',
  429: 'rate_limited: too many requests for this API key; retry after `Retry-After` seconds.',
  500: 'internal: an error on our side.',
  503: 'inference_unavailable: the inference service cannot answer now; retry after `Retry-After` seconds.',
};

type ErrorStatus = (typeof ERROR_STATUS)[ErrorCode];

/** Error responses for a route's `responses`: `...errorResponses(401, 404)`. */
export function errorResponses<S extends ErrorStatus>(...statuses: S[]) {
  const out = {} as Record<S, { description: string; content: { 'application/json': { schema: typeof ErrorSchema } } }>;
  for (const s of statuses) {
    out[s] = { description: ERROR_DESCRIPTIONS[s], content: { 'application/json': { schema: ErrorSchema } } };
  }
  return out;
}

/** The errors every authenticated /v1 route can answer (403 only to a suspended tenant's keys). */
export const V1_ERRORS = [401, 403, 429, 500] as const;
/** The extra errors of a route with a JSON body. */
export const JSON_BODY_ERRORS = [400, 413, 415, 422] as const;

/** A JSON response description. */
export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } };
}

/** A required JSON request body (validated by the route; unknown fields rejected when the schema is strict). */
export function jsonBody<T extends z.ZodType>(schema: T, description?: string) {
  return { required: true, description, content: { 'application/json': { schema } } };
}

/** Documents (and bounds) the optional Idempotency-Key header of a creating POST. */
export const IdempotencyHeaders = z.object({
  'Idempotency-Key': z
    .string()
    .min(1)
    .max(255)
    .optional()
    .openapi({
      param: { name: 'Idempotency-Key', in: 'header' },
      description: 'Any unique string (e.g. a UUID): a retry with the same key and body within 24 h returns the first response and creates nothing.',
    }),
});

/** The operation groups of /openapi.json, in reading order; every route's tag must be one of these. */
export const API_TAGS = [
  { name: 'Tenants', description: 'Tenants (admin), the calling tenant, API keys and the audit log.' },
  { name: 'Usage', description: 'Billable usage per day: classify calls and images, embedded texts, training and evaluation time, storage.' },
  { name: 'Datasets', description: 'Labelled image sets: create, upload (multipart or presigned), finalize, delete.' },
  { name: 'Training jobs', description: 'CoCoOp/CoOp adaptation jobs on a ready dataset, their events and cancellation.' },
  { name: 'Evaluations', description: 'Accuracy of a model (or zero-shot CLIP) on a ready dataset, per class, with a confusion matrix.' },
  { name: 'Models', description: 'Trained adapters: metadata, validation figures, download, delete.' },
  { name: 'Classification', description: 'Classify images against any labels; text embeddings of prompts.' },
  { name: 'Webhooks', description: 'Signed notifications of job and evaluation outcomes: endpoints, secrets, deliveries.' },
  { name: 'Workers (admin)', description: 'Per-worker tokens for the GPU worker pool (operator).' },
  { name: 'Internal: workers', description: 'The worker pool’s API: lease, heartbeat, events, complete (worker tokens only).' },
  { name: 'System', description: 'Liveness, this document, and the operators’ metrics (metrics token).' },
];

export const SECURITY = {
  tenant: [{ ApiKey: [] }],
  admin: [{ AdminToken: [] }],
  worker: [{ WorkerToken: [] }],
};

export function registerSecuritySchemes(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'ApiKey', {
    type: 'http',
    scheme: 'bearer',
    description: 'A tenant API key: `Authorization: Bearer ck_live_…`.',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'AdminToken', {
    type: 'http',
    scheme: 'bearer',
    description: 'The operator token (ADMIN_TOKEN).',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'WorkerToken', {
    type: 'http',
    scheme: 'bearer',
    description: 'A GPU worker token: a per-worker token issued by POST /v1/workers (`wkt_…`), or the configured WORKER_TOKEN.',
  });
}
