// Presigned uploads, for datasets too large to send through the API: createUploads reserves image rows
// (status 'pending', counted against the quotas by the insert itself) and returns one presigned S3 PUT per
// file to a staging key (uploadStagingKey); completeUploads verifies each staged object (present, the
// declared size and type, a complete image within the pixel limit), copies the verified bytes to the image's
// key (imageKey, which no URL can write) and stores it; expirePendingUploads removes what was never
// completed. Every staging key is recorded for the reconciliation (sweeps.ts) and removed once its URL
// expired, so a PUT through a URL whose row is gone (finalize, delete, expiry, complete) leaves nothing.
import { imageKey, uploadStagingKey } from '../../shared/storage/keys.ts';
import type { Logger, Quotas } from '../config.ts';
import { sha256Hex } from '../crypto.ts';
import { conflict, notFound, validationFailed } from '../http/errors.ts';
import { newId } from '../ids.ts';
import { abortIfUnchangedStatement, isConstraintFailure } from '../batch-guard.ts';
import type { BlobStore, Ports, SqlDatabase, SqlStatement } from '../ports.ts';
import { EXTENSIONS, type ImageContentType, type ImageInfo, ImageProbeError, probeImage } from './image-probe.ts';
import type { StoredImage } from './images.ts';
import { UPLOAD_TTL_SECONDS } from './limits.ts';
import { changedMeanwhile, checkImageQuota, checkLabel, insertImagesStatement, loadDataset, pixelCheck, refusedInsertError, requireOpen } from './store.ts';
import { UNCONFIRMED_GRACE_MS, deleteRecordedObjects, forgetReferencedStatement, recordSweepsStatement } from './sweeps.ts';

/** Most expired uploads removed per run (the rest go in the next run). */
export const EXPIRED_UPLOADS_BATCH = 500;
/** A staging key is swept this long after its URL expired (clock differences between the edge and S3). */
const STAGING_SWEEP_MARGIN_MS = 5 * 60 * 1000;
/** Staged objects verified and copied at the same time. */
const VERIFY_CONCURRENCY = 8;

export interface UploadFile {
  label: string;
  content_type: ImageContentType;
  /** Exact size; the presigned PUT must send exactly this many bytes. */
  bytes: number;
}

export interface Upload {
  image_id: string;
  url: string;
  method: 'PUT';
  headers: Record<string, string>;
  expires_at: string;
}

/** The staging key of an image row (where its presigned URL writes). */
export function stagingKeyOf(r: { tenant_id: string; dataset_id: string; id: string; content_type: ImageContentType }): string {
  return uploadStagingKey(r.tenant_id, r.dataset_id, r.id, EXTENSIONS[r.content_type]);
}

/** Pending image rows and their presigned PUTs; 409 finalized or over quota, 422 a bad label. */
export async function createUploads(
  db: SqlDatabase,
  blobs: BlobStore,
  o: { tenantId: string; datasetId: string; files: UploadFile[]; quotas: Quotas },
  /** Statements committed with the rows (the request's Idempotency-Key), given the response's uploads. */
  commit: (uploads: Upload[]) => SqlStatement[] = () => [],
): Promise<Upload[]> {
  const { tenantId, files } = o;
  const ds = await loadDataset(db, tenantId, o.datasetId);
  requireOpen(ds);
  const labels = files.map((f, i) => checkLabel(ds, f.label, `files[${i}].label`));
  const bytes = files.reduce((s, f) => s + f.bytes, 0);
  await checkImageQuota(db, tenantId, o.quotas, files.length, bytes);

  const now = new Date();
  const uploads = await Promise.all(
    files.map(async (f, i) => {
      const id = newId('image');
      const ext = EXTENSIONS[f.content_type];
      const staging = uploadStagingKey(tenantId, ds.id, id, ext);
      const put = await blobs.presignPut(staging, f.content_type, f.bytes, UPLOAD_TTL_SECONDS);
      return { id, key: imageKey(tenantId, ds.id, id, ext), staging, file: f, label: labels[i], put };
    }),
  );
  const lastExpiry = Math.max(...uploads.map((u) => u.put.expiresAt.getTime()));
  const answer: Upload[] = uploads.map((u) => ({
    image_id: u.id,
    url: u.put.url,
    method: u.put.method,
    headers: u.put.headers,
    expires_at: u.put.expiresAt.toISOString(),
  }));
  const committing = commit(answer);
  const batch = db.batch([
    insertImagesStatement(db, {
      tenantId,
      datasetId: ds.id,
      status: 'pending',
      createdAt: now.toISOString(),
      quotas: o.quotas,
      rows: uploads.map((u) => ({
        id: u.id,
        label: u.label,
        objectKey: u.key,
        contentType: u.file.content_type,
        bytes: u.file.bytes,
        width: null,
        height: null,
        expiresAt: u.put.expiresAt.toISOString(),
        sha256: null,
      })),
    }),
    // With an Idempotency-Key to complete: a refused insert must not complete it (the batch aborts instead).
    ...(committing.length > 0 ? [abortIfUnchangedStatement(db)] : []),
    recordSweepsStatement(db, { tenantId, keys: uploads.map((u) => u.staging), sweepAfter: lastExpiry + STAGING_SWEEP_MARGIN_MS, reason: 'staging', now }),
    ...committing,
  ]);
  let inserted: number;
  try {
    inserted = (await batch)[0].changes;
  } catch (err) {
    if (!isConstraintFailure(err)) throw err;
    inserted = 0;
  }
  // Refused: the URLs are never handed out (their staging records are swept harmlessly).
  if (inserted === 0) throw await refusedInsertError(db, { tenantId, datasetId: ds.id, quotas: o.quotas, images: files.length, bytes });
  return answer;
}

interface UploadRow {
  id: string;
  tenant_id: string;
  dataset_id: string;
  label: string;
  object_key: string;
  content_type: ImageContentType;
  bytes: number;
  width: number | null;
  height: number | null;
  status: 'pending' | 'stored';
}

type Verified = { ok: true; info: ImageInfo; sha256: string } | { ok: false; reason: string };

/** Checks the staged object; when acceptable, puts exactly the checked bytes at the image's key. */
async function verifyAndCopy(blobs: BlobStore, row: UploadRow): Promise<Verified> {
  const staging = stagingKeyOf(row);
  const head = await blobs.head(staging);
  if (!head) return { ok: false, reason: 'nothing was uploaded' };
  if (head.size !== row.bytes) return { ok: false, reason: `${head.size} bytes were uploaded, ${row.bytes} were declared` };
  // The presigned URL signs the Content-Type; a store that does not check signatures must not let another one through.
  const sentType = head.contentType?.split(';')[0].trim().toLowerCase();
  if (sentType !== undefined && sentType !== row.content_type) {
    return { ok: false, reason: `it was uploaded as ${JSON.stringify(sentType.slice(0, 100))}, ${row.content_type} was declared` };
  }
  const bytes = await blobs.get(staging);
  if (!bytes) return { ok: false, reason: 'nothing was uploaded' };
  if (bytes.byteLength !== row.bytes) return { ok: false, reason: `${bytes.byteLength} bytes were uploaded, ${row.bytes} were declared` };
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
  const sha256 = await sha256Hex(bytes);
  await blobs.put(row.object_key, bytes, row.content_type);
  return { ok: true, info, sha256 };
}

/** fn over items, at most `n` at a time; the first error is thrown after all started calls ended. */
async function inPool<T, R>(items: T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  let failure: { err: unknown } | null = null;
  const worker = async () => {
    while (failure === null && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  if (failure !== null) throw (failure as { err: unknown }).err;
  return out;
}

const plural = (n: number, one: string, many: string) => (n === 1 ? one : many);

/**
 * Verifies and stores the named uploads (already stored ones are returned as they are). When any fails:
 * 422 naming them; those uploads are removed, the others stay pending. 404 an unknown id.
 */
export async function completeUploads(
  db: SqlDatabase,
  blobs: BlobStore,
  o: { tenantId: string; datasetId: string; imageIds: string[]; logger?: Logger },
): Promise<StoredImage[]> {
  const { tenantId, imageIds: ids } = o;
  const ds = await loadDataset(db, tenantId, o.datasetId);
  requireOpen(ds);
  const found = await db
    .prepare(
      `SELECT id, tenant_id, dataset_id, label, object_key, content_type, bytes, width, height, status FROM images
       WHERE tenant_id = ? AND dataset_id = ? AND id IN (SELECT value FROM json_each(?))`,
    )
    .bind(tenantId, ds.id, JSON.stringify(ids))
    .all<UploadRow>();
  const byId = new Map(found.map((r) => [r.id, r]));
  const missing = ids.findIndex((id) => !byId.has(id));
  if (missing >= 0) {
    throw notFound(`No upload with id ${JSON.stringify(ids[missing].slice(0, 64))} in dataset ${ds.id}.`, `image_ids[${missing}]`);
  }
  const rows = ids.map((id) => byId.get(id)!);
  const view = () => rows.map((r) => ({ id: r.id, label: r.label, width: r.width ?? 0, height: r.height ?? 0 }));
  const pending = rows.filter((r) => r.status === 'pending');
  if (pending.length === 0) return view();

  // The image keys are recorded before anything is put there: a request that dies leaves nothing for good.
  const now = new Date();
  const finalKeys = pending.map((r) => r.object_key);
  await recordSweepsStatement(db, { tenantId, keys: finalKeys, sweepAfter: now.getTime() + UNCONFIRMED_GRACE_MS, reason: 'unconfirmed', now }).run();
  const ports = { db, blobs };
  let checks: { row: UploadRow; result: Verified }[];
  try {
    checks = await inPool(pending, VERIFY_CONCURRENCY, async (row) => ({ row, result: await verifyAndCopy(blobs, row) }));
  } catch (err) {
    await deleteRecordedObjects(ports, finalKeys, o.logger);
    throw err;
  }

  const bad = checks.filter((ch) => !ch.result.ok);
  if (bad.length > 0) {
    // Rows first, then objects: the failed uploads are gone; the good ones stay pending (their copies are removed).
    await db
      .prepare("DELETE FROM images WHERE tenant_id = ? AND status = 'pending' AND id IN (SELECT value FROM json_each(?))")
      .bind(tenantId, JSON.stringify(bad.map((b) => b.row.id)))
      .run();
    await blobs.delete(bad.map((b) => stagingKeyOf(b.row))).catch((err) => o.logger?.warn('[datasets] removing staged uploads failed', err));
    await deleteRecordedObjects(ports, finalKeys, o.logger);
    const list = bad.map((b) => `${b.row.id}: ${(b.result as { reason: string }).reason}`).join('; ');
    const kept = pending.length - bad.length;
    throw validationFailed(
      `${bad.length} upload${plural(bad.length, '', 's')} failed verification and ${plural(bad.length, 'was', 'were')} removed (${list}).` +
        (kept > 0 ? ` The other ${kept} ${plural(kept, 'is', 'are')} still pending: call complete again with ${plural(kept, 'it', 'them')}.` : '') +
        ' Upload failed files again through a new uploads request.',
      'image_ids',
    );
  }

  const results = await db.batch([
    ...checks.map(({ row, result }) => {
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
    // In the same transaction: the stored rows now refer to their copies.
    forgetReferencedStatement(db, finalKeys),
  ]);
  const unchanged = checks.filter((_, i) => results[i].changes === 0).map((ch) => ch.row);
  // The staged objects are not needed any more (their records stay until the URLs expire: a later PUT is swept).
  await blobs.delete(pending.map(stagingKeyOf)).catch((err) => o.logger?.warn('[datasets] removing staged uploads failed', err));
  if (unchanged.length === 0) return view();

  // Not updated: stored by a concurrent complete (keep), or removed meanwhile by finalize, delete or expiry.
  const now2 = await db
    .prepare("SELECT id FROM images WHERE tenant_id = ? AND status = 'stored' AND id IN (SELECT value FROM json_each(?))")
    .bind(tenantId, JSON.stringify(unchanged.map((r) => r.id)))
    .all<{ id: string }>();
  const storedNow = new Set(now2.map((r) => r.id));
  const gone = unchanged.filter((r) => !storedNow.has(r.id));
  if (gone.length === 0) return view();
  await deleteRecordedObjects(ports, gone.map((r) => r.object_key), o.logger);
  if (gone.length === checks.length) throw changedMeanwhile(ds.id);
  throw conflict(
    `Upload${plural(gone.length, '', 's')} ${gone.map((r) => r.id).join(', ')} ${plural(gone.length, 'was', 'were')} removed while this request ran ` +
      `(expired, or dropped by finalize); the other ${checks.length - gone.length} ${plural(checks.length - gone.length, 'was', 'were')} stored.`,
  );
}

interface ExpiredRow {
  id: string;
  tenant_id: string;
  dataset_id: string;
  object_key: string;
  content_type: ImageContentType;
}

/**
 * Deletes pending uploads whose expires_at is before `now`: rows first (their image keys recorded for the
 * reconciliation in the same transaction, so a concurrent complete finds nothing), then the objects.
 */
export async function expirePendingUploads(ports: Pick<Ports, 'db' | 'blobs'>, now: Date, limit = EXPIRED_UPLOADS_BATCH, logger?: Logger): Promise<number> {
  const { db, blobs } = ports;
  const nowIso = now.toISOString();
  const rows = await db
    .prepare(
      `SELECT id, tenant_id, dataset_id, object_key, content_type FROM images
        WHERE status = 'pending' AND expires_at < ? ORDER BY expires_at LIMIT ?`,
    )
    .bind(nowIso, limit)
    .all<ExpiredRow>();
  if (rows.length === 0) return 0;
  const tenants = [...new Set(rows.map((r) => r.tenant_id))];
  const results = await db.batch([
    ...tenants.map((t) =>
      recordSweepsStatement(db, {
        tenantId: t,
        keys: rows.filter((r) => r.tenant_id === t).map((r) => r.object_key),
        sweepAfter: now.getTime(),
        reason: 'deleted',
        now,
      }),
    ),
    db
      .prepare("DELETE FROM images WHERE status = 'pending' AND expires_at < ? AND id IN (SELECT value FROM json_each(?))")
      .bind(nowIso, JSON.stringify(rows.map((r) => r.id))),
  ]);
  const deleted = results[results.length - 1].changes;
  // An upload completed meanwhile (row now 'stored') keeps its object (deleteRecordedObjects skips keys a stored row names).
  await blobs.delete(rows.map(stagingKeyOf)).catch((err) => logger?.warn('[datasets] removing staged uploads failed', err));
  await deleteRecordedObjects(ports, rows.map((r) => r.object_key), logger);
  return deleted;
}
