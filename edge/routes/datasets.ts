// Datasets: create, list, get, delete; images through the API (multipart) or presigned PUTs to S3
// (uploads + uploads/complete); finalize (open → ready, then immutable).
//
// Every query filters on the caller's tenant: another tenant's dataset or image id is a 404.
// Uploads never half-write: every file of a request is checked (size, format, pixel size, label, quota)
// before anything is stored, objects are put before their rows are inserted in one batch, and a failure
// removes the objects already put.
import { sha256Hex } from '../crypto.ts';
import { createRoute, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import {
  IMAGE_CONTENT_TYPES,
  type ImageContentType,
  type ImageInfo,
  ImageProbeError,
  probeImage,
} from '../datasets/image-probe.ts';
import {
  MAX_CLASSES,
  MAX_FILES_PER_REQUEST,
  MAX_IMAGE_BYTES,
  MAX_IMAGE_PIXELS,
  MAX_LABEL_LENGTH,
  MAX_MULTIPART_BYTES,
  UPLOAD_TTL_SECONDS,
} from '../datasets/limits.ts';
import {
  type DatasetRow,
  checkImageQuota,
  checkLabel,
  classCounts,
  datasetView,
  imageObjectKey,
  insertImageStatement,
  loadDataset,
  loadDatasetView,
  requireOpen,
} from '../datasets/store.ts';
import { requireTenant } from '../http/auth.ts';
import type { AppEnv } from '../http/context.ts';
import { ApiError, conflict, invalidRequest, notFound, unsupportedMediaType, validationFailed } from '../http/errors.ts';
import { idempotent } from '../http/idempotency.ts';
import { readBodyBytes } from '../http/json-body.ts';
import { PLAIN_TEXT_RULE, isPlainText } from '../http/text.ts';
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
import type { BlobStore } from '../ports.ts';

// ---- schemas --------------------------------------------------------------------------------

const DatasetId = z.string().openapi({ example: 'ds_0m3k9x2qa4f7hz81kd0p3q' });
const ImageId = z.string().openapi({ example: 'img_0m3k9x2qa4f7hz81kd0p3q' });
const Label = z.string().openapi({ description: 'The class of the image.', example: 'golden retriever' });

/** A list of strings without repeats: the repeat is reported at its own index. */
function distinct<T extends z.ZodType<string[]>>(schema: T, what: string) {
  return schema.superRefine((items, ctx) => {
    const seen = new Set<string>();
    items.forEach((v, i) => {
      if (seen.has(v)) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} appears twice; list each ${what} once`, path: [i] });
      seen.add(v);
    });
  });
}

const ClassName = z.string().trim().min(1).max(MAX_LABEL_LENGTH).refine(isPlainText, PLAIN_TEXT_RULE);

const CreateDatasetRequest = z
  .strictObject({
    name: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .refine(isPlainText, PLAIN_TEXT_RULE)
      .openapi({ description: 'Display name.', example: 'Dog breeds' }),
    classes: distinct(z.array(ClassName).max(MAX_CLASSES), 'class')
      .optional()
      .openapi({
        description: `Optional class names (distinct, 1..${MAX_LABEL_LENGTH} characters, at most ${MAX_CLASSES}). When given, image labels must be one of them and finalize requires images for each.`,
        example: ['beagle', 'golden retriever'],
      }),
  })
  .openapi('CreateDatasetRequest');

const Dataset = z
  .object({
    id: DatasetId,
    name: z.string(),
    status: z.enum(['open', 'ready']).openapi({ description: '`open` takes images; `ready` (after finalize) is immutable.' }),
    image_count: z.number().int(),
    classes: z.array(z.object({ name: z.string(), image_count: z.number().int() })).openapi({
      description: 'Declared classes (in their order) and then any other labels, with their stored image counts.',
    }),
    created_at: z.string().openapi({ example: '2025-01-01T12:00:00.000Z' }),
  })
  .openapi('Dataset');

const DatasetList = pageSchema(Dataset, 'DatasetList');

const Image = z.object({ id: ImageId, label: Label, width: z.number().int(), height: z.number().int() }).openapi('Image');
const ImageList = z.object({ images: z.array(Image) }).openapi('ImageList');

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

const DatasetParams = z.object({
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, example: 'ds_0m3k9x2qa4f7hz81kd0p3q' }),
});

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

const tags = ['Datasets'];

const createDataset = createRoute({
  method: 'post',
  path: '/v1/datasets',
  tags,
  summary: 'Create a dataset',
  description: 'An open dataset. Over the datasets quota: 409 conflict.',
  security: SECURITY.tenant,
  middleware: [requireTenant, idempotent()] as const,
  request: { headers: IdempotencyHeaders, body: jsonBody(CreateDatasetRequest) },
  responses: { 201: jsonResponse(Dataset, 'The new dataset.'), ...errorResponses(...V1_ERRORS, ...JSON_BODY_ERRORS, 409) },
});

const listDatasets = createRoute({
  method: 'get',
  path: '/v1/datasets',
  tags,
  summary: 'List datasets',
  description: 'Newest first.',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { query: PaginationQuery },
  responses: { 200: jsonResponse(DatasetList, 'A page of datasets.'), ...errorResponses(...V1_ERRORS, 422) },
});

const getDataset = createRoute({
  method: 'get',
  path: '/v1/datasets/{id}',
  tags,
  summary: 'Get a dataset',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { params: DatasetParams },
  responses: { 200: jsonResponse(Dataset, 'The dataset.'), ...errorResponses(...V1_ERRORS, 404) },
});

const deleteDataset = createRoute({
  method: 'delete',
  path: '/v1/datasets/{id}',
  tags,
  summary: 'Delete a dataset',
  description:
    'Removes the dataset, its image rows and its image objects in S3. 409 conflict while a training job of it is queued, running or cancelling.',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { params: DatasetParams },
  responses: { 204: { description: 'Deleted.' }, ...errorResponses(...V1_ERRORS, 404, 409) },
});

const uploadImages = createRoute({
  method: 'post',
  path: '/v1/datasets/{id}/images',
  tags,
  summary: 'Upload images (multipart)',
  description:
    'A `label` field and one or more `file` parts; every file gets that label. All files are checked before any is kept: ' +
    'not a complete JPEG/PNG/WebP → 415; over the pixel limit or a bad label → 422; a file or the request over the byte limit → 413; ' +
    'dataset finalized or quota exceeded → 409.',
  security: SECURITY.tenant,
  middleware: [requireTenant, multipartBody, idempotent({ maxBytes: MAX_MULTIPART_BYTES })] as const,
  request: {
    headers: IdempotencyHeaders,
    params: DatasetParams,
    body: { required: true, content: { 'multipart/form-data': { schema: ImagesForm } } },
  },
  responses: { 201: jsonResponse(ImageList, 'The stored images.'), ...errorResponses(...V1_ERRORS, 400, 404, 409, 413, 415, 422) },
});

const createUploads = createRoute({
  method: 'post',
  path: '/v1/datasets/{id}/uploads',
  tags,
  summary: 'Presigned uploads',
  description: `Presigned S3 PUT URLs (valid ${UPLOAD_TTL_SECONDS / 60} min) for large datasets; then call uploads/complete. Pending uploads count against the quotas.`,
  security: SECURITY.tenant,
  middleware: [requireTenant, idempotent()] as const,
  request: { headers: IdempotencyHeaders, params: DatasetParams, body: jsonBody(UploadsRequest) },
  responses: { 201: jsonResponse(Uploads, 'One upload per file.'), ...errorResponses(...V1_ERRORS, ...JSON_BODY_ERRORS, 404, 409) },
});

const completeUploads = createRoute({
  method: 'post',
  path: '/v1/datasets/{id}/uploads/complete',
  tags,
  summary: 'Complete presigned uploads',
  description:
    'Verifies each uploaded object (present, of the declared size and type, a complete image within the pixel limit). ' +
    'When any fails: 422 naming them; those objects and uploads are removed, the others stay pending (call again with them).',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { params: DatasetParams, body: jsonBody(CompleteUploadsRequest) },
  responses: { 200: jsonResponse(ImageList, 'The verified images.'), ...errorResponses(...V1_ERRORS, ...JSON_BODY_ERRORS, 404, 409) },
});

const finalizeDataset = createRoute({
  method: 'post',
  path: '/v1/datasets/{id}/finalize',
  tags,
  summary: 'Finalize a dataset',
  description:
    'Drops unfinished presigned uploads, then makes the dataset ready (immutable). 422 with the reasons when it has no images, ' +
    'a declared class has no images, or fewer than 2 classes have images; 409 when already ready.',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { params: DatasetParams },
  responses: { 200: jsonResponse(Dataset, 'The ready dataset.'), ...errorResponses(...V1_ERRORS, 404, 409, 422) },
});

// ---- helpers --------------------------------------------------------------------------------

/** Job states that still need the dataset's images. */
const ACTIVE_JOB_STATES_SQL = "('queued', 'running', 'cancelling')";

function fileName(f: File, i: number): string {
  return f.name ? `file ${i + 1} (${JSON.stringify(f.name.slice(0, 100))})` : `file ${i + 1}`;
}

function pixelCheck(info: ImageInfo): string | null {
  const pixels = info.width * info.height;
  return pixels > MAX_IMAGE_PIXELS
    ? `is ${info.width}x${info.height} = ${pixels} pixels, over the limit of ${MAX_IMAGE_PIXELS}; downscale it`
    : null;
}

/** Puts the objects (a few at a time); on any failure deletes all of them and rethrows. */
async function putAll(blobs: BlobStore, items: { key: string; bytes: Uint8Array; contentType: string }[]): Promise<void> {
  let next = 0;
  let failure: unknown = null;
  const worker = async () => {
    while (failure === null && next < items.length) {
      const it = items[next++];
      try {
        await blobs.put(it.key, it.bytes, it.contentType);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, items.length) }, worker));
  if (failure !== null) {
    await blobs.delete(items.map((i) => i.key)).catch(() => {});
    throw failure;
  }
}

/** 409 after a conditional insert/update found the dataset no longer open (finalized or deleted meanwhile). */
function changedMeanwhile(id: string): ApiError {
  return conflict(`Dataset ${id} was finalized or deleted while this request ran; nothing was added.`);
}

interface PendingRow {
  id: string;
  label: string;
  object_key: string;
  content_type: ImageContentType;
  bytes: number;
  width: number | null;
  height: number | null;
  status: 'pending' | 'stored';
}

/** Why an uploaded object is not acceptable, or its pixel size. */
async function verifyUpload(blobs: BlobStore, row: PendingRow): Promise<{ ok: true; info: ImageInfo; sha256: string } | { ok: false; reason: string }> {
  const head = await blobs.head(row.object_key);
  if (!head) return { ok: false, reason: 'nothing was uploaded' };
  if (head.size !== row.bytes) return { ok: false, reason: `${head.size} bytes were uploaded, ${row.bytes} were declared` };
  // The presigned URL signs the Content-Type; a store that does not check signatures must not let another one through.
  const sentType = head.contentType?.split(';')[0].trim().toLowerCase();
  if (sentType !== undefined && sentType !== row.content_type) {
    return { ok: false, reason: `it was uploaded as ${JSON.stringify(sentType.slice(0, 100))}, ${row.content_type} was declared` };
  }
  const bytes = await blobs.get(row.object_key);
  if (!bytes) return { ok: false, reason: 'nothing was uploaded' };
  let info: ImageInfo;
  try {
    info = probeImage(bytes);
  } catch (err) {
    if (err instanceof ImageProbeError) return { ok: false, reason: err.message };
    throw err;
  }
  if (info.contentType !== row.content_type) return { ok: false, reason: `it is ${info.contentType}, ${row.content_type} was declared` };
  const tooBig = pixelCheck(info);
  if (tooBig) return { ok: false, reason: `it ${tooBig}` };
  // What the worker will check the bytes against (they stay writable through the URL until it expires).
  return { ok: true, info, sha256: await sha256Hex(bytes) };
}

// ---- handlers -------------------------------------------------------------------------------

export function datasetRoutes() {
  const app = newRouter();

  app.openapi(createDataset, async (c) => {
    const { name, classes = [] } = c.req.valid('json');
    const { tenantId } = c.var.tenant;
    const { db } = c.var.ports;
    const quota = c.var.config.quotas.datasets;
    // API.md has no quota code: over a quota is a 409 conflict (the account's state), naming the quota.
    const row = await db.prepare('SELECT COUNT(*) AS n FROM datasets WHERE tenant_id = ?').bind(tenantId).first<{ n: number }>();
    if (Number(row?.n ?? 0) >= quota) {
      throw conflict(`You have reached your datasets quota (${quota}); delete a dataset you no longer need first.`);
    }
    const ds: DatasetRow = {
      id: newId('dataset'),
      tenant_id: tenantId,
      name,
      status: 'open',
      declared_classes: JSON.stringify(classes),
      created_at: new Date().toISOString(),
      finalized_at: null,
    };
    await db
      .prepare('INSERT INTO datasets (id, tenant_id, name, status, declared_classes, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .bind(ds.id, ds.tenant_id, ds.name, ds.status, ds.declared_classes, ds.created_at)
      .run();
    return c.json(datasetView(ds), 201);
  });

  app.openapi(listDatasets, async (c) => {
    const { tenantId } = c.var.tenant;
    const { db } = c.var.ports;
    const page = await listPage<DatasetRow>(db, { from: 'datasets', where: 'tenant_id = ?', binds: [tenantId], order: 'desc' }, c.req.valid('query'));
    const counts = await classCounts(
      db,
      tenantId,
      page.data.map((d) => d.id),
    );
    return c.json({ data: page.data.map((d) => datasetView(d, counts.get(d.id))), has_more: page.has_more }, 200);
  });

  app.openapi(getDataset, async (c) => {
    const { db } = c.var.ports;
    const ds = await loadDataset(db, c.var.tenant.tenantId, c.req.valid('param').id);
    return c.json(await loadDatasetView(db, ds), 200);
  });

  app.openapi(deleteDataset, async (c) => {
    const { tenantId } = c.var.tenant;
    const { db, blobs } = c.var.ports;
    const ds = await loadDataset(db, tenantId, c.req.valid('param').id);
    // A job still training (or about to) reads these images: refuse rather than pull them from under it.
    const active = await db
      .prepare(`SELECT id, status FROM training_jobs WHERE tenant_id = ? AND dataset_id = ? AND status IN ${ACTIVE_JOB_STATES_SQL} ORDER BY id LIMIT 1`)
      .bind(tenantId, ds.id)
      .first<{ id: string; status: string }>();
    if (active) {
      throw conflict(
        `Dataset ${ds.id} is used by training job ${active.id}, which is ${active.status}; cancel it or wait until it finishes, then delete the dataset. Nothing was deleted.`,
      );
    }
    const keys = await db
      .prepare('SELECT object_key FROM images WHERE dataset_id = ? AND tenant_id = ?')
      .bind(ds.id, tenantId)
      .all<{ object_key: string }>();
    // Objects first: if this fails, the rows remain and a retry deletes everything.
    await blobs.delete(keys.map((k) => k.object_key));
    await db.batch([
      db.prepare('DELETE FROM images WHERE dataset_id = ? AND tenant_id = ?').bind(ds.id, tenantId),
      db.prepare('DELETE FROM datasets WHERE id = ? AND tenant_id = ?').bind(ds.id, tenantId),
    ]);
    return c.body(null, 204);
  });

  app.openapi(uploadImages, async (c) => {
    const { tenantId } = c.var.tenant;
    const { db, blobs } = c.var.ports;
    const form = c.req.valid('form');
    const ds = await loadDataset(db, tenantId, c.req.valid('param').id);
    requireOpen(ds);
    const label = checkLabel(ds, form.label, 'label');
    const files = Array.isArray(form.file) ? form.file : [form.file];
    if (files.length > MAX_FILES_PER_REQUEST) {
      throw validationFailed(`At most ${MAX_FILES_PER_REQUEST} files per request (got ${files.length}); split the upload.`, 'file');
    }

    // Check every file before storing any.
    const checked: { bytes: Uint8Array; info: ImageInfo }[] = [];
    for (const [i, f] of files.entries()) {
      const what = fileName(f, i);
      if (f.size > MAX_IMAGE_BYTES) {
        throw new ApiError(413, 'payload_too_large', `${what} is ${f.size} bytes; the limit is ${MAX_IMAGE_BYTES} bytes per image.`, 'file');
      }
      const bytes = new Uint8Array(await f.arrayBuffer());
      let info: ImageInfo;
      try {
        info = probeImage(bytes);
      } catch (err) {
        if (!(err instanceof ImageProbeError)) throw err;
        throw new ApiError(415, 'unsupported_media_type', `${what} was rejected: ${err.message}. Send complete JPEG, PNG or WebP files; nothing was stored.`, 'file');
      }
      const tooBig = pixelCheck(info);
      if (tooBig) throw validationFailed(`${what} ${tooBig}; nothing was stored.`, 'file');
      checked.push({ bytes, info });
    }
    const totalBytes = checked.reduce((s, f) => s + f.bytes.byteLength, 0);
    await checkImageQuota(db, tenantId, c.var.config.quotas, checked.length, totalBytes);

    const now = new Date().toISOString();
    const rows = await Promise.all(
      checked.map(async ({ bytes, info }) => {
        const id = newId('image');
        return { id, bytes, info, key: imageObjectKey(tenantId, ds.id, id, info.contentType), sha256: await sha256Hex(bytes) };
      }),
    );
    await putAll(
      blobs,
      rows.map((r) => ({ key: r.key, bytes: r.bytes, contentType: r.info.contentType })),
    );
    const undo = () => blobs.delete(rows.map((r) => r.key)).catch(() => {});
    let results: { changes: number }[];
    try {
      results = await db.batch(
        rows.map((r) =>
          insertImageStatement(db, {
            id: r.id,
            tenantId,
            datasetId: ds.id,
            label,
            objectKey: r.key,
            contentType: r.info.contentType,
            bytes: r.bytes.byteLength,
            width: r.info.width,
            height: r.info.height,
            status: 'stored',
            expiresAt: null,
            createdAt: now,
            sha256: r.sha256,
          }),
        ),
      );
    } catch (err) {
      await undo();
      throw err;
    }
    if (results.some((r) => r.changes === 0)) {
      // The batch is one transaction and each insert has the same condition: all or none went in.
      await db.batch(rows.map((r) => db.prepare('DELETE FROM images WHERE id = ?').bind(r.id)));
      await undo();
      throw changedMeanwhile(ds.id);
    }
    return c.json({ images: rows.map((r) => ({ id: r.id, label, width: r.info.width, height: r.info.height })) }, 201);
  });

  app.openapi(createUploads, async (c) => {
    const { tenantId } = c.var.tenant;
    const { db, blobs } = c.var.ports;
    const { files } = c.req.valid('json');
    const ds = await loadDataset(db, tenantId, c.req.valid('param').id);
    requireOpen(ds);
    const labels = files.map((f, i) => checkLabel(ds, f.label, `files[${i}].label`));
    await checkImageQuota(
      db,
      tenantId,
      c.var.config.quotas,
      files.length,
      files.reduce((s, f) => s + f.bytes, 0),
    );

    const now = new Date().toISOString();
    const uploads = await Promise.all(
      files.map(async (f, i) => {
        const id = newId('image');
        const key = imageObjectKey(tenantId, ds.id, id, f.content_type);
        const put = await blobs.presignPut(key, f.content_type, f.bytes, UPLOAD_TTL_SECONDS);
        return { id, key, file: f, label: labels[i], put };
      }),
    );
    const results = await db.batch(
      uploads.map((u) =>
        insertImageStatement(db, {
          id: u.id,
          tenantId,
          datasetId: ds.id,
          label: u.label,
          objectKey: u.key,
          contentType: u.file.content_type,
          bytes: u.file.bytes,
          width: null,
          height: null,
          status: 'pending',
          expiresAt: u.put.expiresAt.toISOString(),
          createdAt: now,
          sha256: null,
        }),
      ),
    );
    if (results.some((r) => r.changes === 0)) {
      await db.batch(uploads.map((u) => db.prepare('DELETE FROM images WHERE id = ?').bind(u.id)));
      throw changedMeanwhile(ds.id);
    }
    return c.json(
      {
        uploads: uploads.map((u) => ({
          image_id: u.id,
          url: u.put.url,
          method: u.put.method,
          headers: u.put.headers,
          expires_at: u.put.expiresAt.toISOString(),
        })),
      },
      201,
    );
  });

  app.openapi(completeUploads, async (c) => {
    const { tenantId } = c.var.tenant;
    const { db, blobs } = c.var.ports;
    const { image_ids: ids } = c.req.valid('json');
    const ds = await loadDataset(db, tenantId, c.req.valid('param').id);
    requireOpen(ds);
    const found = await db
      .prepare(
        `SELECT id, label, object_key, content_type, bytes, width, height, status FROM images
         WHERE tenant_id = ? AND dataset_id = ? AND id IN (${ids.map(() => '?').join(', ')})`,
      )
      .bind(tenantId, ds.id, ...ids)
      .all<PendingRow>();
    const byId = new Map(found.map((r) => [r.id, r]));
    const missing = ids.findIndex((id) => !byId.has(id));
    if (missing >= 0) {
      throw notFound(`No upload with id ${JSON.stringify(ids[missing].slice(0, 64))} in dataset ${ds.id}.`, `image_ids[${missing}]`);
    }

    const rows = ids.map((id) => byId.get(id)!);
    const pending = rows.filter((r) => r.status === 'pending');
    const checks = await Promise.all(pending.map(async (r) => ({ row: r, result: await verifyUpload(blobs, r) })));
    const bad = checks.filter((ch) => !ch.result.ok);
    if (bad.length > 0) {
      await blobs.delete(bad.map((b) => b.row.object_key));
      await db.batch(bad.map((b) => db.prepare("DELETE FROM images WHERE id = ? AND tenant_id = ? AND status = 'pending'").bind(b.row.id, tenantId)));
      const list = bad.map((b) => `${b.row.id}: ${(b.result as { reason: string }).reason}`).join('; ');
      const kept = pending.length - bad.length;
      throw validationFailed(
        `${bad.length} upload${bad.length === 1 ? '' : 's'} failed verification and ${bad.length === 1 ? 'was' : 'were'} removed (${list}).` +
          (kept > 0 ? ` The other ${kept} are still pending: call complete again with them.` : '') +
          ' Upload failed files again through a new uploads request.',
        'image_ids',
      );
    }

    const results = await db.batch(
      checks.map(({ row, result }) => {
        const { info, sha256 } = result as { info: ImageInfo; sha256: string };
        row.width = info.width;
        row.height = info.height;
        return db
          .prepare(
            `UPDATE images SET status = 'stored', width = ?, height = ?, sha256 = ?, expires_at = NULL
             WHERE id = ? AND tenant_id = ? AND status = 'pending'
               AND EXISTS (SELECT 1 FROM datasets WHERE id = ? AND tenant_id = ? AND status = 'open')`,
          )
          .bind(info.width, info.height, sha256, row.id, tenantId, ds.id, tenantId);
      }),
    );
    if (checks.length > 0 && results.every((r) => r.changes === 0)) throw changedMeanwhile(ds.id);
    return c.json({ images: rows.map((r) => ({ id: r.id, label: r.label, width: r.width ?? 0, height: r.height ?? 0 })) }, 200);
  });

  app.openapi(finalizeDataset, async (c) => {
    const { tenantId } = c.var.tenant;
    const { db, blobs } = c.var.ports;
    const ds = await loadDataset(db, tenantId, c.req.valid('param').id);
    requireOpen(ds);

    // Unfinished presigned uploads are dropped (objects first, then rows).
    const pending = await db
      .prepare("SELECT id, object_key FROM images WHERE dataset_id = ? AND tenant_id = ? AND status = 'pending'")
      .bind(ds.id, tenantId)
      .all<{ id: string; object_key: string }>();
    if (pending.length > 0) {
      await blobs.delete(pending.map((p) => p.object_key));
      await db.batch(pending.map((p) => db.prepare("DELETE FROM images WHERE id = ? AND status = 'pending'").bind(p.id)));
    }

    const view = await loadDatasetView(db, ds);
    const reasons: { message: string; param?: string }[] = [];
    if (view.image_count === 0) reasons.push({ message: 'the dataset has no images' });
    const empty = view.classes.filter((k) => k.image_count === 0).map((k) => JSON.stringify(k.name));
    if (empty.length > 0 && view.image_count > 0) {
      reasons.push({ message: `declared class${empty.length === 1 ? '' : 'es'} ${empty.slice(0, 20).join(', ')} ha${empty.length === 1 ? 's' : 've'} no images`, param: 'classes' });
    }
    const withImages = view.classes.filter((k) => k.image_count > 0).length;
    if (withImages < 2) reasons.push({ message: `training needs images of at least 2 classes, this dataset has ${withImages}` });
    if (reasons.length > 0) {
      throw validationFailed(
        `Dataset ${ds.id} cannot be finalized: ${reasons.map((r) => r.message).join('; ')}. Upload the missing images, then finalize again.`,
        reasons.find((r) => r.param)?.param,
      );
    }

    const finalizedAt = new Date().toISOString();
    const { changes } = await db
      .prepare("UPDATE datasets SET status = 'ready', finalized_at = ? WHERE id = ? AND tenant_id = ? AND status = 'open'")
      .bind(finalizedAt, ds.id, tenantId)
      .run();
    if (changes === 0) throw conflict(`Dataset ${ds.id} was finalized or deleted while this request ran.`);
    return c.json(await loadDatasetView(db, { ...ds, status: 'ready', finalized_at: finalizedAt }), 200);
  });

  return app;
}

