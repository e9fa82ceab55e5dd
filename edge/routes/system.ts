// Routes that need no key: GET /healthz, GET /openapi.json (generated from every route's zod
// definition), GET /docs (renders that document; see http/docs-page.ts).
import { type OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { EdgeConfig } from '../config.ts';
import { randomString } from '../crypto.ts';
import type { AppEnv } from '../http/context.ts';
import { docsPage } from '../http/docs-page.ts';
import { API_TAGS, jsonResponse } from '../http/openapi.ts';

export const API_TITLE = 'CoCoOp adaptation API';
export const API_VERSION = '1.0.0';

const Health = z.object({ status: z.literal('ok') }).openapi('Health');

const healthz = createRoute({
  method: 'get',
  path: '/healthz',
  operationId: 'getHealth',
  tags: ['System'],
  summary: 'Liveness',
  description: 'Answers while the edge process serves requests. No key needed.',
  responses: { 200: jsonResponse(Health, 'Alive.') },
});

const openapiJson = createRoute({
  method: 'get',
  path: '/openapi.json',
  operationId: 'getOpenApiDocument',
  tags: ['System'],
  summary: 'This API as an OpenAPI 3.1 document',
  description: 'No key needed.',
  responses: {
    200: jsonResponse(z.record(z.string(), z.unknown()).openapi({ description: 'An OpenAPI 3.1 document.' }), 'The document.'),
  },
});

const docs = createRoute({
  method: 'get',
  path: '/docs',
  operationId: 'getApiDocs',
  tags: ['System'],
  summary: 'Rendered API documentation',
  description: 'An HTML page that renders /openapi.json (no external resources). No key needed.',
  responses: { 200: { description: 'HTML.', content: { 'text/html': { schema: z.string() } } } },
});

/**
 * Adds the system routes to the root app. Call after all resource routers are mounted: the document
 * is built from the root registry on first request and then cached.
 */
export function mountSystemRoutes(app: OpenAPIHono<AppEnv>, config: EdgeConfig): void {
  app.openapi(healthz, (c) => c.json({ status: 'ok' as const }, 200));

  let document: Record<string, unknown> | null = null;
  app.openapi(openapiJson, (c) => {
    document ??= app.getOpenAPI31Document({
      openapi: '3.1.0',
      info: {
        title: API_TITLE,
        version: API_VERSION,
        description:
          'Adapt a frozen CLIP model to your few-shot image data with CoCoOp, then classify images against any labels. ' +
          'Authenticate with `Authorization: Bearer <api key>`. Errors are `{"error": {"code", "message", "param"?}}`. ' +
          'Lists take `?limit=&after=` and answer `{"data": [...], "has_more": bool}`.',
      },
      // Without a configured public URL the document describes the origin it is served from.
      servers: [{ url: config.publicBaseUrl ?? '/' }],
      tags: API_TAGS,
    }) as unknown as Record<string, unknown>;
    return c.json(document, 200);
  });

  app.openapi(docs, (c) => {
    const { html, csp } = docsPage(`${API_TITLE} ${API_VERSION}`, randomString(24, 'abcdefghijklmnopqrstuvwxyz0123456789'));
    c.header('Content-Security-Policy', csp);
    c.header('Cache-Control', 'no-store');
    return c.html(html, 200);
  });
}
