// Images through the API: POST /v1/datasets/{id}/images (multipart/form-data: a `label` field and one or
// more `file` parts). All files are checked before any is kept (edge/datasets/images.ts).
import { createRoute, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { addImages } from '../datasets/images.ts';
import { MAX_FILES_PER_REQUEST, MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, MAX_MULTIPART_BYTES } from '../datasets/limits.ts';
import { requireTenant } from '../http/auth.ts';
import type { AppEnv } from '../http/context.ts';
import { invalidRequest, unsupportedMediaType } from '../http/errors.ts';
import { STORED_WITH_KEY, idempotencyCommit, idempotent } from '../http/idempotency.ts';
import { readBodyBytes } from '../http/json-body.ts';
import { IdempotencyHeaders, SECURITY, V1_ERRORS, errorResponses, jsonResponse, newRouter } from '../http/openapi.ts';
import { DatasetParams, ImageList, tags } from './dataset-schemas.ts';

// ---- schemas --------------------------------------------------------------------------------

const isFile = (v: unknown): v is File => typeof File !== 'undefined' && v instanceof File;

const ImagesForm = z
  .strictObject({
    label: z.string().openapi({ description: 'The class of every file of this request.' }),
    file: z
      .custom<File | File[]>((v) => isFile(v) || (Array.isArray(v) && v.length > 0 && v.every(isFile)), {
        message: 'must be one or more file parts (JPEG, PNG or WebP)',
      })
      .openapi({
        type: 'array',
        items: { type: 'string', format: 'binary' },
        description: `One or more file parts named \`file\` (JPEG, PNG or WebP; at most ${MAX_FILES_PER_REQUEST}, ${MAX_IMAGE_BYTES} bytes and ${MAX_IMAGE_PIXELS} pixels each; ${MAX_MULTIPART_BYTES} bytes per request).`,
      }),
  })
  .openapi('ImagesUpload');

// ---- multipart body -------------------------------------------------------------------------

/**
 * Route middleware of the multipart upload: 415 unless multipart/form-data, 413 over
 * MAX_MULTIPART_BYTES, 400 when it does not parse. Leaves the parsed form in Hono's body cache for the
 * route's form validator.
 */
const multipartBody: MiddlewareHandler<AppEnv> = async (c, next) => {
  const ct = c.req.header('content-type');
  if (!ct || ct.split(';')[0].trim().toLowerCase() !== 'multipart/form-data') {
    throw unsupportedMediaType(
      `This endpoint takes multipart/form-data (a "label" field and "file" parts), not ${ct ? `"${ct}"` : 'a body without Content-Type'}.`,
    );
  }
  const bytes = await readBodyBytes(c, MAX_MULTIPART_BYTES);
  let form: FormData;
  try {
    form = await new Response(bytes as unknown as BodyInit, { headers: { 'content-type': ct } }).formData();
  } catch {
    throw invalidRequest('The body is not valid multipart/form-data (check the boundary); send a "label" field and "file" parts.');
  }
  c.req.bodyCache.formData = Promise.resolve(form) as unknown as typeof c.req.bodyCache.formData;
  await next();
};

// ---- routes ---------------------------------------------------------------------------------

const uploadImagesRoute = createRoute({
  method: 'post',
  path: '/v1/datasets/{id}/images',
  operationId: 'uploadDatasetImages',
  tags,
  summary: 'Upload images (multipart)',
  description:
    'A `label` field and one or more `file` parts; every file gets that label. All files are checked before any is kept: ' +
    'not a complete JPEG/PNG/WebP → 415; over the pixel limit or a bad label → 422; a file or the request over the byte limit → 413; ' +
    'dataset finalized or quota exceeded → 409.',
  security: SECURITY.tenant,
  middleware: [requireTenant, multipartBody, idempotent({ maxBytes: MAX_MULTIPART_BYTES, atomic: STORED_WITH_KEY })] as const,
  request: {
    headers: IdempotencyHeaders,
    params: DatasetParams,
    body: { required: true, content: { 'multipart/form-data': { schema: ImagesForm } } },
  },
  responses: { 201: jsonResponse(ImageList, 'The stored images.'), ...errorResponses(...V1_ERRORS, 400, 404, 409, 413, 415, 422) },
});

// ---- handlers -------------------------------------------------------------------------------

export function datasetImageRoutes() {
  const app = newRouter();

  app.openapi(uploadImagesRoute, async (c) => {
    const form = c.req.valid('form');
    const images = await addImages(c.var.ports.db, c.var.ports.blobs, {
      tenantId: c.var.tenant.tenantId,
      datasetId: c.req.valid('param').id,
      label: form.label,
      files: Array.isArray(form.file) ? form.file : [form.file],
      quotas: c.var.config.quotas,
    }, idempotencyCommit(c, (stored: { id: string }[]) => ({ status: 201, resourceId: stored.map((i) => i.id).join(','), body: { images: stored } })));
    return c.json({ images }, 201);
  });

  return app;
}
