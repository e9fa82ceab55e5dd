// Images uploaded through the API (multipart): every file of a request is checked (size, format, pixel
// size) and the label and the quotas before anything is stored; the objects are put (recorded for the
// reconciliation first: edge/datasets/sweeps.ts) before their rows are inserted by one guarded INSERT that
// carries the quotas, and a failure removes the objects already put. Nothing is half-written.
import { imageKey } from '../../shared/storage/keys.ts';
import { sha256Hex } from '../crypto.ts';
import type { Quotas } from '../config.ts';
import { ApiError, validationFailed } from '../http/errors.ts';
import { newId } from '../ids.ts';
import { abortIfUnchangedStatement, isConstraintFailure } from '../batch-guard.ts';
import type { BlobStore, SqlDatabase, SqlStatement } from '../ports.ts';
import { EXTENSIONS, type ImageInfo, ImageProbeError, probeImage } from './image-probe.ts';
import { MAX_FILES_PER_REQUEST, MAX_IMAGE_BYTES } from './limits.ts';
import { checkImageQuota, checkLabel, insertImagesStatement, loadDataset, pixelCheck, refusedInsertError, requireOpen } from './store.ts';
import { UNCONFIRMED_GRACE_MS, deleteRecordedObjects, forgetReferencedStatement, recordSweepsStatement } from './sweeps.ts';

export interface AddImagesOptions {
  tenantId: string;
  datasetId: string;
  /** The label of every file, as sent (trimmed and checked here). */
  label: string;
  files: File[];
  quotas: Quotas;
}

export interface StoredImage {
  id: string;
  label: string;
  width: number;
  height: number;
}

function fileName(f: File, i: number): string {
  return f.name ? `file ${i + 1} (${JSON.stringify(f.name.slice(0, 100))})` : `file ${i + 1}`;
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

/**
 * Stores the files as images of the open dataset, all or none: 413 a file over MAX_IMAGE_BYTES, 415 not a
 * complete JPEG/PNG/WebP, 422 over the pixel limit / a bad label / too many files, 409 finalized or over quota.
 */
export async function addImages(
  db: SqlDatabase,
  blobs: BlobStore,
  o: AddImagesOptions,
  /** Statements committed with the rows (the request's Idempotency-Key), given the response's images. */
  commit: (images: StoredImage[]) => SqlStatement[] = () => [],
): Promise<StoredImage[]> {
  const { tenantId, files } = o;
  const ds = await loadDataset(db, tenantId, o.datasetId);
  requireOpen(ds);
  const label = checkLabel(ds, o.label, 'label');
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
  await checkImageQuota(db, tenantId, o.quotas, checked.length, totalBytes);

  const now = new Date();
  const rows = await Promise.all(
    checked.map(async ({ bytes, info }) => {
      const id = newId('image');
      return { id, bytes, info, key: imageKey(tenantId, ds.id, id, EXTENSIONS[info.contentType]), sha256: await sha256Hex(bytes) };
    }),
  );
  const keys = rows.map((r) => r.key);
  // Recorded before they exist: if this request dies after a put, the reconciliation removes the objects.
  await recordSweepsStatement(db, { tenantId, keys, sweepAfter: now.getTime() + UNCONFIRMED_GRACE_MS, reason: 'unconfirmed', now }).run();
  const undo = () => deleteRecordedObjects({ db, blobs }, keys);
  try {
    await putAll(
      blobs,
      rows.map((r) => ({ key: r.key, bytes: r.bytes, contentType: r.info.contentType })),
    );
  } catch (err) {
    await undo();
    throw err;
  }
  const stored: StoredImage[] = rows.map((r) => ({ id: r.id, label, width: r.info.width, height: r.info.height }));
  const committing = commit(stored);
  let inserted: number;
  try {
    const [insert] = await db.batch([
      insertImagesStatement(db, {
        tenantId,
        datasetId: ds.id,
        status: 'stored',
        createdAt: now.toISOString(),
        quotas: o.quotas,
        rows: rows.map((r) => ({
          id: r.id,
          label,
          objectKey: r.key,
          contentType: r.info.contentType,
          bytes: r.bytes.byteLength,
          width: r.info.width,
          height: r.info.height,
          expiresAt: null,
          sha256: r.sha256,
        })),
      }),
      // With an Idempotency-Key to complete: a refused insert must not complete it (the batch aborts instead).
      ...(committing.length > 0 ? [abortIfUnchangedStatement(db)] : []),
      // In the same transaction: the rows now refer to the objects (a refused insert forgets nothing).
      forgetReferencedStatement(db, keys),
      ...committing,
    ]);
    inserted = insert.changes;
  } catch (err) {
    await undo();
    if (!isConstraintFailure(err)) throw err;
    inserted = 0;
  }
  if (inserted === 0) {
    // The dataset was finalized or deleted meanwhile, or concurrent uploads filled a quota first.
    await undo();
    throw await refusedInsertError(db, { tenantId, datasetId: ds.id, quotas: o.quotas, images: rows.length, bytes: totalBytes });
  }
  return stored;
}
