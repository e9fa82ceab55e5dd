// Presigned uploads, for large datasets: POST /v1/datasets/{id}/uploads (one presigned S3 PUT per file),
// then POST /v1/datasets/{id}/uploads/complete (each uploaded object verified; edge/datasets/uploads.ts).
import { createRoute, z } from '@hono/zod-openapi';
import { IMAGE_CONTENT_TYPES, type ImageContentType } from '../datasets/image-probe.ts';
import { MAX_FILES_PER_REQUEST, MAX_IMAGE_BYTES, UPLOAD_TTL_SECONDS } from '../datasets/limits.ts';
import { completeUploads, createUploads } from '../datasets/uploads.ts';
import { requireTenant } from '../http/auth.ts';
import { STORED_WITH_KEY, idempotencyCommit, idempotent } from '../http/idempotency.ts';
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
import { DatasetParams, ImageId, ImageList, distinct, tags } from './dataset-schemas.ts';

// ---- schemas --------------------------------------------------------------------------------

const UploadsRequest = z
  .strictObject({
    files: z
      .array(
        z.strictObject({
          label: z.string(),
          content_type: z.enum(IMAGE_CONTENT_TYPES as [ImageContentType, ...ImageContentType[]]),
          bytes: z.number().int().min(1).max(MAX_IMAGE_BYTES).openapi({ description: 'Exact size of the file; the PUT must send exactly this many bytes.' }),
        }),
      )
      .min(1)
      .max(MAX_FILES_PER_REQUEST),
  })
  .openapi('CreateUploadsRequest');

const Uploads = z
  .object({
    uploads: z.array(
      z.object({
        image_id: ImageId,
        url: z.string().openapi({ description: 'Presigned S3 URL: PUT the file there with exactly `headers`.' }),
        method: z.literal('PUT'),
        headers: z.record(z.string(), z.string()),
        expires_at: z.string(),
      }),
    ),
  })
  .openapi('Uploads');

const CompleteUploadsRequest = z
  .strictObject({
    image_ids: distinct(z.array(z.string().min(1).max(128)).min(1).max(MAX_FILES_PER_REQUEST), 'image id'),
  })
  .openapi('CompleteUploadsRequest');

// ---- routes ---------------------------------------------------------------------------------

const createUploadsRoute = createRoute({
  method: 'post',
  path: '/v1/datasets/{id}/uploads',
  operationId: 'createDatasetUploads',
  tags,
  summary: 'Presigned uploads',
  description: `Presigned S3 PUT URLs (valid ${UPLOAD_TTL_SECONDS / 60} min) for large datasets; then call uploads/complete. Pending uploads count against the quotas.`,
  security: SECURITY.tenant,
  middleware: [requireTenant, idempotent({ atomic: STORED_WITH_KEY })] as const,
  request: { headers: IdempotencyHeaders, params: DatasetParams, body: jsonBody(UploadsRequest) },
  responses: { 201: jsonResponse(Uploads, 'One upload per file.'), ...errorResponses(...V1_ERRORS, ...JSON_BODY_ERRORS, 404, 409) },
});

const completeUploadsRoute = createRoute({
  method: 'post',
  path: '/v1/datasets/{id}/uploads/complete',
  operationId: 'completeDatasetUploads',
  tags,
  summary: 'Complete presigned uploads',
  description:
    'Verifies each uploaded object (present, of the declared size and type, a complete image within the pixel limit) and ' +
    'stores a copy of the verified bytes (a later PUT through the URL changes nothing). ' +
    'When any fails: 422 naming them; those objects and uploads are removed, the others stay pending (call again with them).',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { params: DatasetParams, body: jsonBody(CompleteUploadsRequest) },
  responses: { 200: jsonResponse(ImageList, 'The verified images.'), ...errorResponses(...V1_ERRORS, ...JSON_BODY_ERRORS, 404, 409) },
});

// ---- handlers -------------------------------------------------------------------------------

export function datasetUploadRoutes() {
  const app = newRouter();

  app.openapi(createUploadsRoute, async (c) => {
    const { files } = c.req.valid('json');
    const { db, blobs } = c.var.ports;
    const uploads = await createUploads(
      db,
      blobs,
      { tenantId: c.var.tenant.tenantId, datasetId: c.req.valid('param').id, files, quotas: c.var.config.quotas },
      idempotencyCommit(c, (u: { image_id: string }[]) => ({ status: 201, resourceId: u.map((x) => x.image_id).join(','), body: { uploads: u } })),
    );
    return c.json({ uploads }, 201);
  });

  app.openapi(completeUploadsRoute, async (c) => {
    const { image_ids } = c.req.valid('json');
    const { db, blobs } = c.var.ports;
    const images = await completeUploads(db, blobs, {
      tenantId: c.var.tenant.tenantId,
      datasetId: c.req.valid('param').id,
      imageIds: image_ids,
      logger: c.var.config.logger,
    });
    return c.json({ images }, 200);
  });

  return app;
}
