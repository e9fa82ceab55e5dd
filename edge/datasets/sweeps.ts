// The reconciliation of the bucket against the database, for the objects the edge writes (dataset images).
// Every object that may end up without an image row referring to it is recorded in blob_sweeps, in the same
// transaction as the change that may orphan it, before the object exists or before its row is deleted:
//   'staging'     every presigned upload's staging key, due once its URL expired (after that nothing can be
//                 written there; a PUT after finalize, delete or complete lands there and is removed then);
//   'unconfirmed' an image key put before its row is inserted or marked stored; the same batch that writes the
//                 row forgets the key, so it stays only when the request failed or died in between;
//   'deleted'     the image keys of rows deleted before their objects (dataset delete, finalize, expiry); the
//                 request deletes the objects and forgets the keys, a failed delete leaves them here.
// sweepOrphanedObjects (a background task) deletes the due keys that no image row refers to and reports them.
// Statements take their keys as one JSON array (json_each), so a statement binds a few values however many keys.
// Objects nobody recorded are found by listing the bucket: edge/bucket/reconcile.ts (it leaves recorded keys to this).
import type { Logger } from '../config.ts';
import type { Ports, SqlDatabase, SqlStatement } from '../ports.ts';

export type SweepReason = 'staging' | 'unconfirmed' | 'deleted';

/** Longest a request may take between putting an object and writing the row that refers to it. */
export const UNCONFIRMED_GRACE_MS = 60 * 60 * 1000;
/** Most due keys handled per run (the rest go in the next run). */
export const SWEEP_BATCH = 500;

/** Records `keys` to be removed from `sweepAfter` (unix ms) unless an image row refers to them then. */
export function recordSweepsStatement(db: SqlDatabase, o: { tenantId: string; keys: string[]; sweepAfter: number; reason: SweepReason; now: Date }): SqlStatement {
  return db
    .prepare(
      `INSERT INTO blob_sweeps (object_key, tenant_id, sweep_after, reason, created_at)
       SELECT value, ?, ?, ?, ? FROM json_each(?) WHERE true
       ON CONFLICT (object_key) DO UPDATE SET sweep_after = MAX(sweep_after, excluded.sweep_after)`,
    )
    .bind(o.tenantId, o.sweepAfter, o.reason, o.now.toISOString(), JSON.stringify(o.keys));
}

/** Forgets `keys` (their objects were deleted, or a row now refers to them). */
export function forgetSweepsStatement(db: SqlDatabase, keys: string[]): SqlStatement {
  return db.prepare('DELETE FROM blob_sweeps WHERE object_key IN (SELECT value FROM json_each(?))').bind(JSON.stringify(keys));
}

/** Forgets those of `keys` an image row refers to (run in the batch that writes the rows). */
export function forgetReferencedStatement(db: SqlDatabase, keys: string[]): SqlStatement {
  return db
    .prepare(
      `DELETE FROM blob_sweeps WHERE object_key IN (SELECT value FROM json_each(?))
         AND EXISTS (SELECT 1 FROM images WHERE images.object_key = blob_sweeps.object_key)`,
    )
    .bind(JSON.stringify(keys));
}

/**
 * Deletes those of `keys` that no stored image row names from the bucket now and forgets their records; when
 * the delete fails the records stay and the reconciliation retries. Never throws (the caller's rows are
 * already written).
 */
export async function deleteRecordedObjects(ports: Pick<Ports, 'db' | 'blobs'>, keys: string[], logger?: Logger): Promise<void> {
  if (keys.length === 0) return;
  try {
    const named = await ports.db
      .prepare("SELECT object_key FROM images WHERE object_key IN (SELECT value FROM json_each(?)) AND status = 'stored'")
      .bind(JSON.stringify(keys))
      .all<{ object_key: string }>();
    const keep = new Set(named.map((r) => r.object_key));
    const remove = keys.filter((k) => !keep.has(k));
    if (remove.length > 0) await ports.blobs.delete(remove);
    await forgetSweepsStatement(ports.db, keys).run();
  } catch (err) {
    logger?.warn(`[datasets] removing ${keys.length} object(s) failed; the background reconciliation retries`, err);
  }
}

export interface SweepSummary {
  /** Due keys handled (deleted from the bucket, or forgotten because a row refers to them). */
  due: number;
  /** Keys deleted that were not routine staging sweeps: left behind by a failed or interrupted request. */
  orphans: string[];
}

/**
 * One reconciliation run: deletes the due recorded keys that no image row refers to and forgets every due
 * record. Keys other than staging keys are orphans a request left behind: returned (and logged by the caller).
 */
export async function sweepOrphanedObjects(ports: Pick<Ports, 'db' | 'blobs'>, now: Date, limit = SWEEP_BATCH): Promise<SweepSummary> {
  const { db, blobs } = ports;
  const due = await db
    .prepare(
      `SELECT s.object_key, s.reason, EXISTS (SELECT 1 FROM images i WHERE i.object_key = s.object_key) AS referenced
         FROM blob_sweeps s WHERE s.sweep_after <= ? ORDER BY s.sweep_after LIMIT ?`,
    )
    .bind(now.getTime(), limit)
    .all<{ object_key: string; reason: SweepReason; referenced: number }>();
  if (due.length === 0) return { due: 0, orphans: [] };
  const remove = due.filter((d) => Number(d.referenced) === 0);
  if (remove.length > 0) await blobs.delete(remove.map((d) => d.object_key));
  await db
    .prepare('DELETE FROM blob_sweeps WHERE object_key IN (SELECT value FROM json_each(?)) AND sweep_after <= ?')
    .bind(JSON.stringify(due.map((d) => d.object_key)), now.getTime())
    .run();
  return { due: due.length, orphans: remove.filter((d) => d.reason !== 'staging').map((d) => d.object_key) };
}
