// The storage meter: once per UTC day, each tenant's stored bytes (images, pending uploads included, plus model
// artifacts: the same count as the `bytes` quota) are written into its usage_daily row of that day. A day's snapshot
// times one day is that day's byte-days, so GET /v1/usage reports `storage_bytes` per day and their sum as
// `storage_byte_days`.
//
// Why a snapshot and not a running integral: the byte count changes in many places (uploads, presigned completes,
// expiries, deletes, published and deleted models), and a byte-day counter would need a write in each of them; the
// snapshot needs none on any request path. Its cost is precision: bytes stored and removed between two snapshots
// are not billed, and a change counts from the next day's snapshot.
//
// Run by the background task (edge/background.ts: every few seconds on Node, the Workers cron every minute). Each run
// snapshots at most SNAPSHOT_BATCH tenants, in id order after the highest one already snapshotted that day (the last
// entry of the day in the index usage_daily_storage: one lookup, no scan of the tenants), so a deployment with many
// tenants is covered over the first runs of the day and a run after that costs one lookup. A tenant created during the
// day after the cursor passed it gets that day's snapshot too (ids grow with time), unless the clocks of two edge
// instances disagree about its id's order; then its first day goes unbilled.
import type { SqlDatabase } from '../ports.ts';
import { storedBytesSql } from '../tenants/usage.ts';
import { utcDay } from './record.ts';

/** Tenants snapshotted per background run at most. */
export const SNAPSHOT_BATCH = 100;

/** Takes today's storage snapshot of the next tenants that have none yet; how many it took. */
export async function snapshotStorage(db: SqlDatabase, now: Date, batch = SNAPSHOT_BATCH): Promise<number> {
  const day = utcDay(now);
  const { changes } = await db
    .prepare(
      `INSERT INTO usage_daily (tenant_id, day, storage_bytes)
       SELECT t.id, ?, ${storedBytesSql('t.id')}
         FROM tenants t
        WHERE t.id > COALESCE((SELECT u.tenant_id FROM usage_daily u WHERE u.day = ? AND u.storage_bytes IS NOT NULL
                                ORDER BY u.tenant_id DESC LIMIT 1), '')
        ORDER BY t.id LIMIT ?
       ON CONFLICT (tenant_id, day) DO UPDATE SET storage_bytes = excluded.storage_bytes WHERE usage_daily.storage_bytes IS NULL`,
    )
    .bind(day, day, batch)
    .run();
  return changes;
}
