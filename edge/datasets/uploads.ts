// Presigned uploads, for datasets too large to send through the API: createUploads reserves image rows
// (status 'pending', counted against the quotas) and returns one presigned S3 PUT per file;
// completeUploads verifies each uploaded object (present, the declared size and type, a complete image
// within the pixel limit) and stores it; expirePendingUploads removes what was never completed.
import { imageKey } from '../../shared/storage/keys.ts';
import type { Quotas } from '../config.ts';
import { sha256Hex } from '../crypto.ts';
import { notFound, validationFailed } from '../http/errors.ts';
import { newId } from '../ids.ts';
import type { BlobStore, Ports, SqlDatabase } from '../ports.ts';
import { EXTENSIONS, type ImageContentType, type ImageInfo, ImageProbeError, probeImage } from './image-probe.ts';
import { UPLOAD_TTL_SECONDS } from './limits.ts';
import { changedMeanwhile, checkImageQuota, checkLabel, insertImageStatement, loadDataset, pixelCheck, requireOpen } from './store.ts';
import type { StoredImage } from './images.ts';

/** Most expired uploads removed per run (the rest go in the next run). */
export const EXPIRED_UPLOADS_BATCH = 500;

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

/** Pending image rows and their presigned PUTs; 409 finalized or over quota, 422 a bad label. */
export async function createUploads(
  db: SqlDatabase,
  blobs: BlobStore,
  o: { tenantId: string; datasetId: string; files: UploadFile[]; quotas: Quotas },
): Promise<Upload[]> {
  const { tenantId, files } = o;
  const ds = await loadDataset(db, tenantId, o.datasetId);
  requireOpen(ds);
  const labels = files.map((f, i) => checkLabel(ds, f.label, `files[${i}].label`));
  await checkImageQuota(
    db,
    tenantId,
    o.quotas,
    files.length,
    files.reduce((s, f) => s + f.bytes, 0),
  );

  const now = new Date().toISOString();
  const uploads = await Promise.all(
    files.map(async (f, i) => {
      const id = newId('image');
      const key = imageKey(tenantId, ds.id, id, EXTENSIONS[f.content_type]);
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
  return uploads.map((u) => ({
    image_id: u.id,
    url: u.put.url,
    method: u.put.method,
    headers: u.put.headers,
    expires_at: u.put.expiresAt.toISOString(),
  }));
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

/**
 * Verifies and stores the named uploads (already stored ones are returned as they are). When any fails:
 * 422 naming them; those objects and rows are removed, the others stay pending. 404 an unknown id.
 */
export async function completeUploads(
  db: SqlDatabase,
  blobs: BlobStore,
  o: { tenantId: string; datasetId: string; imageIds: string[] },
): Promise<StoredImage[]> {
  const { tenantId, imageIds: ids } = o;
  const ds = await loadDataset(db, tenantId, o.datasetId);
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
  return rows.map((r) => ({ id: r.id, label: r.label, width: r.width ?? 0, height: r.height ?? 0 }));
}

/** Deletes pending uploads whose expires_at is before `now`: rows first (so a concurrent complete finds nothing), then their objects. */
export async function expirePendingUploads(ports: Pick<Ports, 'db' | 'blobs'>, now: Date, limit = EXPIRED_UPLOADS_BATCH): Promise<number> {
  const { db, blobs } = ports;
  const nowIso = now.toISOString();
  const rows = await db
    .prepare("SELECT id, object_key FROM images WHERE status = 'pending' AND expires_at IS NOT NULL AND expires_at < ? ORDER BY expires_at LIMIT ?")
    .bind(nowIso, limit)
    .all<{ id: string; object_key: string }>();
  if (rows.length === 0) return 0;
  const results = await db.batch(
    rows.map((r) => db.prepare("DELETE FROM images WHERE id = ? AND status = 'pending' AND expires_at < ?").bind(r.id, nowIso)),
  );
  const gone = rows.filter((_, i) => results[i].changes === 1);
  // Objects after rows: an upload completed meanwhile (row now 'stored') keeps its object.
  if (gone.length > 0) await blobs.delete(gone.map((r) => r.object_key));
  return gone.length;
}
