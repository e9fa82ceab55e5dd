// Datasets as a whole: create (within the datasets quota), list, read, delete (rows, then objects; refused
// while a job needs the images), finalize (open → ready: drops unfinished presigned uploads, then checks
// the dataset can be trained on). Every query filters on the caller's tenant. Rows go before objects, so no
// row ever names a deleted object; objects whose delete fails are left to the reconciliation (sweeps.ts).
import type { Logger } from '../config.ts';
import { isConstraintFailure } from '../batch-guard.ts';
import type { BlobStore, SqlDatabase, SqlStatement } from '../ports.ts';
import { conflict, validationFailed } from '../http/errors.ts';
import { type Pagination, listPage } from '../http/pagination.ts';
import { newId } from '../ids.ts';
import type { ImageContentType } from './image-probe.ts';
import { type DatasetRow, type DatasetView, classCounts, datasetView, loadDataset, loadDatasetView, requireOpen } from './store.ts';
import { deleteRecordedObjects } from './sweeps.ts';
import { stagingKeyOf } from './uploads.ts';

/** Job states that still need the dataset's images. */
const ACTIVE_JOB_STATES_SQL = "('queued', 'running', 'cancelling')";

/** A new open dataset; 409 over the tenant's datasets quota. */
/**
 * A new open dataset; 409 over the datasets quota. The quota is checked by the INSERT itself (parallel creates cannot
 * all pass it); `commit(view)`: statements committed in the same batch (the request's Idempotency-Key).
 */
export async function createDataset(
  db: SqlDatabase,
  o: { tenantId: string; name: string; classes: string[]; maxDatasets: number },
  commit: (view: DatasetView) => SqlStatement[] = () => [],
): Promise<DatasetView> {
  const { tenantId, maxDatasets: quota } = o;
  // API.md has no quota code: over a quota is a 409 conflict (the account's state), naming the quota.
  const overQuota = () => conflict(`You have reached your datasets quota (${quota}); delete a dataset you no longer need first.`);
  const row = await db.prepare('SELECT COUNT(*) AS n FROM datasets WHERE tenant_id = ?').bind(tenantId).first<{ n: number }>();
  if (Number(row?.n ?? 0) >= quota) throw overQuota();
  const ds: DatasetRow = {
    id: newId('dataset'),
    tenant_id: tenantId,
    name: o.name,
    status: 'open',
    declared_classes: JSON.stringify(o.classes),
    created_at: new Date().toISOString(),
    finalized_at: null,
  };
  const view = datasetView(ds);
  try {
    await db.batch([
      // The name becomes NULL (a NOT NULL error that rolls the batch back) when the quota is full by now.
      db
        .prepare(
          `INSERT INTO datasets (id, tenant_id, name, status, declared_classes, created_at)
           VALUES (?, ?, CASE WHEN (SELECT COUNT(*) FROM datasets WHERE tenant_id = ?) < ? THEN ? END, ?, ?, ?)`,
        )
        .bind(ds.id, ds.tenant_id, tenantId, quota, ds.name, ds.status, ds.declared_classes, ds.created_at),
      ...commit(view),
    ]);
  } catch (err) {
    if (!isConstraintFailure(err)) throw err;
    const now = await db.prepare('SELECT COUNT(*) AS n FROM datasets WHERE tenant_id = ?').bind(tenantId).first<{ n: number }>();
    if (Number(now?.n ?? 0) >= quota) throw overQuota();
    throw conflict('This request conflicted with a retry of it (the same Idempotency-Key); nothing was created. Retry with the same key to get its answer.');
  }
  return view;
}

/** A page of the tenant's datasets, newest first, with their class counts. */
export async function listDatasets(db: SqlDatabase, tenantId: string, page: Pagination): Promise<{ data: DatasetView[]; has_more: boolean }> {
  const rows = await listPage<DatasetRow>(db, { from: 'datasets', where: 'tenant_id = ?', binds: [tenantId], order: 'desc' }, page);
  const counts = await classCounts(
    db,
    tenantId,
    rows.data.map((d) => d.id),
  );
  return { data: rows.data.map((d) => datasetView(d, counts.get(d.id))), has_more: rows.has_more };
}

/** The tenant's dataset as the API shows it; 404 when it is not there. */
export async function getDataset(db: SqlDatabase, tenantId: string, id: string): Promise<DatasetView> {
  return loadDatasetView(db, await loadDataset(db, tenantId, id));
}

/** Deletes the dataset, its image objects and rows; 409 while a training job or evaluation of it (or validating on it) is queued or running. */
export async function deleteDataset(db: SqlDatabase, blobs: BlobStore, tenantId: string, id: string, logger?: Logger): Promise<void> {
  const ds = await loadDataset(db, tenantId, id);
  // A job still training (or about to) reads these images: refuse rather than pull them from under it.
  const active = await db
    .prepare(
      `SELECT id, kind, status FROM training_jobs
        WHERE tenant_id = ? AND status IN ${ACTIVE_JOB_STATES_SQL}
          AND (dataset_id = ? OR json_extract(hyperparameters, '$.validation_dataset_id') = ?)
        ORDER BY id LIMIT 1`,
    )
    .bind(tenantId, ds.id, ds.id)
    .first<{ id: string; kind: string; status: string }>();
  if (active) {
    const what = active.kind === 'evaluation' ? 'evaluation' : 'training job';
    throw conflict(
      `Dataset ${ds.id} is used by ${what} ${active.id}, which is ${active.status}; ${active.kind === 'evaluation' ? '' : 'cancel it or '}wait until it finishes, then delete the dataset. Nothing was deleted.`,
    );
  }
  const images = await db
    .prepare('SELECT id, tenant_id, dataset_id, object_key, content_type, status FROM images WHERE dataset_id = ? AND tenant_id = ?')
    .bind(ds.id, tenantId)
    .all<{ id: string; tenant_id: string; dataset_id: string; object_key: string; content_type: ImageContentType; status: string }>();
  // Rows first; in the same transaction every image key of the dataset (also of images added since the read
  // above) is recorded, so the reconciliation removes whatever the deletes below miss.
  const now = new Date();
  await db.batch([
    db
      .prepare(
        `INSERT INTO blob_sweeps (object_key, tenant_id, sweep_after, reason, created_at)
         SELECT object_key, tenant_id, ?, 'deleted', ? FROM images WHERE dataset_id = ? AND tenant_id = ? AND true
         ON CONFLICT (object_key) DO UPDATE SET sweep_after = MIN(sweep_after, excluded.sweep_after)`,
      )
      .bind(now.getTime(), now.toISOString(), ds.id, tenantId),
    db.prepare('DELETE FROM images WHERE dataset_id = ? AND tenant_id = ?').bind(ds.id, tenantId),
    db.prepare('DELETE FROM datasets WHERE id = ? AND tenant_id = ?').bind(ds.id, tenantId),
  ]);
  // Staging objects of unfinished uploads (their records stay until the URLs expire), then the images.
  const staged = images.filter((i) => i.status === 'pending').map(stagingKeyOf);
  if (staged.length > 0) await blobs.delete(staged).catch((err) => logger?.warn('[datasets] removing staged uploads failed', err));
  await deleteRecordedObjects(
    { db, blobs },
    images.map((i) => i.object_key),
    logger,
  );
}

/**
 * Makes the dataset ready (immutable) after dropping its unfinished presigned uploads. 422 with every reason
 * when it cannot be trained on (no images, a declared class without images, fewer than 2 classes with
 * images); 409 when it is already ready or changed meanwhile.
 */
export async function finalizeDataset(db: SqlDatabase, blobs: BlobStore, tenantId: string, id: string, logger?: Logger): Promise<DatasetView> {
  const ds = await loadDataset(db, tenantId, id);
  requireOpen(ds);

  // Unfinished presigned uploads are dropped: rows first (a complete running now finds nothing to store, or
  // stored its image before and keeps it), then their objects. Their staging keys stay recorded until the
  // URLs expire, so a PUT after this is removed by the reconciliation.
  const dropped = await db
    .prepare(
      `DELETE FROM images WHERE dataset_id = ? AND tenant_id = ? AND status = 'pending'
       RETURNING id, tenant_id, dataset_id, object_key, content_type`,
    )
    .bind(ds.id, tenantId)
    .all<{ id: string; tenant_id: string; dataset_id: string; object_key: string; content_type: ImageContentType }>();
  if (dropped.length > 0) {
    await blobs.delete(dropped.map(stagingKeyOf)).catch((err) => logger?.warn('[datasets] removing staged uploads failed', err));
    // A copy a concurrent complete made before it found its row gone (it removes it too).
    await deleteRecordedObjects(
      { db, blobs },
      dropped.map((p) => p.object_key),
      logger,
    );
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
  return loadDatasetView(db, { ...ds, status: 'ready', finalized_at: finalizedAt });
}
