// Dataset rows and image rows: tenant-scoped reads, the public dataset view, the rules every write of
// images checks (open dataset, label, quota, pixel limit). The operations are in datasets.ts (create, list,
// delete, finalize), images.ts (multipart uploads) and uploads.ts (presigned uploads). Object keys are
// server-generated (shared/storage/keys.ts imageKey).
import type { LeaseImage } from '../../shared/contracts/worker-api.ts';
import { quoteId } from '../../shared/util/quote.ts';
import type { Quotas } from '../config.ts';
import { ApiError, conflict, notFound, validationFailed } from '../http/errors.ts';
import { PLAIN_TEXT_RULE, isPlainText } from '../http/text.ts';
import type { SqlDatabase, SqlStatement } from '../ports.ts';
import { tenantUsage } from '../tenants/usage.ts';
import type { ImageContentType, ImageInfo } from './image-probe.ts';
import { MAX_IMAGE_PIXELS, MAX_LABEL_LENGTH } from './limits.ts';

export interface DatasetRow {
  id: string;
  tenant_id: string;
  name: string;
  status: 'open' | 'ready';
  declared_classes: string;
  created_at: string;
  finalized_at: string | null;
}

export interface DatasetView {
  id: string;
  name: string;
  status: 'open' | 'ready';
  image_count: number;
  classes: { name: string; image_count: number }[];
  created_at: string;
}

/** The tenant's dataset, or 404 (another tenant's dataset is "not found" too). */
export async function loadDataset(db: SqlDatabase, tenantId: string, id: string): Promise<DatasetRow> {
  const row = await db.prepare('SELECT * FROM datasets WHERE id = ? AND tenant_id = ?').bind(id, tenantId).first<DatasetRow>();
  if (!row) throw notFound(`No dataset with id ${quoteId(id)} in your tenant.`, 'id');
  return row;
}

/** 409 after a conditional insert/update found the dataset no longer open (finalized or deleted meanwhile). */
export function changedMeanwhile(id: string): ApiError {
  return conflict(`Dataset ${id} was finalized or deleted while this request ran; nothing was added.`);
}

/** 409 unless the dataset still takes images. */
export function requireOpen(ds: DatasetRow): void {
  if (ds.status !== 'open') {
    throw conflict(`Dataset ${ds.id} is ${ds.status} (finalized) and can no longer change; create a new dataset to add images.`);
  }
}

export function declaredClasses(ds: DatasetRow): string[] {
  return JSON.parse(ds.declared_classes) as string[];
}

/** The trimmed label, or 422: non-empty, at most MAX_LABEL_LENGTH, plain text, one of the declared classes when there are any. */
export function checkLabel(ds: DatasetRow, raw: string, param: string): string {
  const label = raw.trim();
  if (label.length === 0) throw validationFailed(`The label must not be empty; give the class name of the images.`, param);
  if (label.length > MAX_LABEL_LENGTH) throw validationFailed(`The label must have at most ${MAX_LABEL_LENGTH} characters.`, param);
  if (!isPlainText(label)) throw validationFailed(`The label ${PLAIN_TEXT_RULE}.`, param);
  const classes = declaredClasses(ds);
  if (classes.length > 0 && !classes.includes(label)) {
    const shown = classes.slice(0, 20).map((c) => JSON.stringify(c)).join(', ');
    throw validationFailed(
      `The label ${JSON.stringify(label)} is not a class of this dataset; use one of ${shown}${classes.length > 20 ? ', …' : ''}.`,
      param,
    );
  }
  return label;
}

/**
 * 409 when adding `images` images of `bytes` bytes would exceed the tenant's quotas. (API.md has no
 * quota error code; a quota is the current state of the account, so it is a 409 conflict whose message
 * names the quota.) An early check with a clear message; what enforces the quotas is the insert itself
 * (insertImagesStatement), which concurrent requests cannot all pass.
 */
export async function checkImageQuota(db: SqlDatabase, tenantId: string, quotas: Quotas, images: number, bytes: number): Promise<void> {
  const usage = await tenantUsage(db, tenantId);
  if (usage.images + images > quotas.images) {
    throw conflict(
      `This would exceed your images quota: ${usage.images} of ${quotas.images} used, this request adds ${images}. Delete datasets you no longer need.`,
    );
  }
  if (usage.bytes + bytes > quotas.bytes) {
    throw conflict(
      `This would exceed your storage quota: ${usage.bytes} of ${quotas.bytes} bytes used, this request adds ${bytes}. Delete datasets or models you no longer need.`,
    );
  }
}

/** Why an image is over the pixel limit (decompression-bomb guard), or null. */
export function pixelCheck(info: ImageInfo): string | null {
  const pixels = info.width * info.height;
  return pixels > MAX_IMAGE_PIXELS
    ? `is ${info.width}x${info.height} = ${pixels} pixels, over the limit of ${MAX_IMAGE_PIXELS}; downscale it`
    : null;
}

export interface NewImageRow {
  id: string;
  label: string;
  /** Where the verified bytes live (imageKey), also while the upload is pending. */
  objectKey: string;
  contentType: ImageContentType;
  bytes: number;
  width: number | null;
  height: number | null;
  /** Pending presigned uploads only. */
  expiresAt: string | null;
  /** sha256 of the verified bytes (null while pending). */
  sha256: string | null;
}

/**
 * One INSERT of all `rows` into the open dataset, guarded in the same statement: it inserts all of them only
 * while the dataset is open and the tenant's images and bytes (images + model artifacts) stay within the
 * quotas with them, else none (changes = 0: see refusedInsertError). The rows travel as one JSON value.
 */
export function insertImagesStatement(
  db: SqlDatabase,
  o: { tenantId: string; datasetId: string; status: 'pending' | 'stored'; createdAt: string; quotas: Quotas; rows: NewImageRow[] },
): SqlStatement {
  const { tenantId } = o;
  const rows = o.rows.map((r) => ({
    id: r.id,
    label: r.label,
    key: r.objectKey,
    type: r.contentType,
    bytes: r.bytes,
    width: r.width,
    height: r.height,
    expires: r.expiresAt,
    sha256: r.sha256,
  }));
  const bytes = o.rows.reduce((s, r) => s + r.bytes, 0);
  const field = (name: string) => `json_extract(value, '$.${name}')`;
  return db
    .prepare(
      `INSERT INTO images (id, tenant_id, dataset_id, label, object_key, content_type, bytes, width, height, status, expires_at, created_at, sha256)
       SELECT ${field('id')}, ?, ?, ${field('label')}, ${field('key')}, ${field('type')}, ${field('bytes')}, ${field('width')}, ${field('height')},
              ?, ${field('expires')}, ?, ${field('sha256')}
         FROM json_each(?)
        WHERE EXISTS (SELECT 1 FROM datasets WHERE id = ? AND tenant_id = ? AND status = 'open')
          AND (SELECT COUNT(*) FROM images WHERE tenant_id = ?) + ? <= ?
          AND (SELECT COALESCE(SUM(bytes), 0) FROM images WHERE tenant_id = ?)
              + (SELECT COALESCE(SUM(artifact_bytes), 0) FROM models WHERE tenant_id = ?) + ? <= ?`,
    )
    .bind(
      tenantId,
      o.datasetId,
      o.status,
      o.createdAt,
      JSON.stringify(rows),
      o.datasetId,
      tenantId,
      tenantId,
      rows.length,
      o.quotas.images,
      tenantId,
      tenantId,
      bytes,
      o.quotas.bytes,
    );
}

/** Why insertImagesStatement inserted nothing: the dataset changed meanwhile (409) or a quota is full (409 naming it). */
export async function refusedInsertError(db: SqlDatabase, o: { tenantId: string; datasetId: string; quotas: Quotas; images: number; bytes: number }): Promise<ApiError> {
  const ds = await db.prepare('SELECT status FROM datasets WHERE id = ? AND tenant_id = ?').bind(o.datasetId, o.tenantId).first<{ status: string }>();
  if (ds?.status !== 'open') return changedMeanwhile(o.datasetId);
  try {
    await checkImageQuota(db, o.tenantId, o.quotas, o.images, o.bytes);
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  // Room again by now (something was deleted meanwhile): the request may simply be retried.
  return conflict('Your images or storage quota was full while this request ran; nothing was added. Try again.');
}

/** Per-label counts of stored images for the given datasets. */
export async function classCounts(db: SqlDatabase, tenantId: string, datasetIds: string[]): Promise<Map<string, Map<string, number>>> {
  const out = new Map<string, Map<string, number>>();
  if (datasetIds.length === 0) return out;
  const rows = await db
    .prepare(
      `SELECT dataset_id, label, COUNT(*) AS n FROM images
       WHERE tenant_id = ? AND status = 'stored' AND dataset_id IN (SELECT value FROM json_each(?))
       GROUP BY dataset_id, label`,
    )
    .bind(tenantId, JSON.stringify(datasetIds))
    .all<{ dataset_id: string; label: string; n: number }>();
  for (const r of rows) {
    let m = out.get(r.dataset_id);
    if (!m) out.set(r.dataset_id, (m = new Map()));
    m.set(r.label, Number(r.n));
  }
  return out;
}

/** The public shape: declared classes first (in their order, with 0 when empty), then other labels sorted. */
export function datasetView(ds: DatasetRow, counts: Map<string, number> = new Map()): DatasetView {
  const declared = declaredClasses(ds);
  const others = [...counts.keys()].filter((l) => !declared.includes(l)).sort();
  const classes = [...declared, ...others].map((name) => ({ name, image_count: counts.get(name) ?? 0 }));
  return {
    id: ds.id,
    name: ds.name,
    status: ds.status,
    image_count: classes.reduce((s, c) => s + c.image_count, 0),
    classes,
    created_at: ds.created_at,
  };
}

export async function loadDatasetView(db: SqlDatabase, ds: DatasetRow): Promise<DatasetView> {
  const counts = await classCounts(db, ds.tenant_id, [ds.id]);
  return datasetView(ds, counts.get(ds.id));
}

/** The stored (verified) images of a dataset, as a lease hands them to a trainer: by label, then id. */
export function storedImagesOf(db: SqlDatabase, tenantId: string, datasetId: string): Promise<LeaseImage[]> {
  return db
    .prepare(`SELECT id, label, object_key, sha256 FROM images WHERE dataset_id = ? AND tenant_id = ? AND status = 'stored' ORDER BY label, id`)
    .bind(datasetId, tenantId)
    .all<LeaseImage>();
}
