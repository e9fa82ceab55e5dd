// The bucket reconciliation: a background task (edge/background.ts) that lists the bucket under tenants/ and removes
// the objects no row refers to, whoever left them — a failed or crashed request, a worker's checkpoints and adapters
// of a superseded attempt or of a job that ended, the objects of deleted rows whose delete failed. It complements the
// record-based sweep (datasets/sweeps.ts), which removes the keys recorded in blob_sweeps; this one finds the objects
// nobody recorded.
//
// One run handles one page of the listing (RECONCILE_PAGE_SIZE keys) after the cursor stored in bucket_scan
// (migration 0013), so a big bucket is covered across runs and each run does bounded work: one list request, five
// lookups at most (references.ts), one delete request, one write batch. A run is due RECONCILE_INTERVAL_MS after the
// previous one, and RECONCILE_PASS_PAUSE_MS after a run that reached the end of the listing (the next pass starts
// from the beginning); an edge claims a due run by moving next_run_at forward, so edges sharing the database take turns.
//
// Per object: a key of no known shape (shared/storage/keys.ts parseObjectKey) is reported and kept; an object younger
// than the grace period (ORPHAN_GRACE_HOURS, default 24, by its LastModified) is kept without a lookup (a request
// or a worker may be about to write its row); an older one is kept when a row or a sweep record refers to it
// (references.ts: the rule of each kind) and deleted otherwise — an orphan. Every run writes one row to
// bucket_reconciliations (the counts and example keys: the operator's report, kept RETENTION_DAYS); runs that deleted
// or found something, and runs that complete a pass, are logged (describeReconciliation).
import { type ParsedKey, parseObjectKey } from '../../shared/storage/keys.ts';
import type { Ports, SqlDatabase } from '../ports.ts';
import { type KnownObject, referencedKeys } from './references.ts';

/** What the reconciliation lists: every object a tenant owns (shared/storage/keys.ts). */
export const RECONCILE_PREFIX = 'tenants/';
/** Objects listed per run (one ListObjects page). */
export const RECONCILE_PAGE_SIZE = 1000;
/** From a run to the next one while a pass is under way. */
export const RECONCILE_INTERVAL_MS = 60_000;
/** From the run that completed a pass to the first run of the next pass. */
export const RECONCILE_PASS_PAUSE_MS = 3_600_000;
/** Run rows purged per run once older than the retention. */
const REPORT_PURGE_BATCH = 500;
/** Keys of each list kept in a run's row and log line. */
const EXAMPLES = 10;
const DAY_MS = 86_400_000;

export interface ReconcileOptions {
  /** Objects younger than this (by LastModified) are never deleted. */
  graceMs: number;
  /** Run rows older than this many days are purged. */
  retentionDays: number;
  /** Defaults: the constants above (tests use small pages). */
  pageSize?: number;
  intervalMs?: number;
  passPauseMs?: number;
}

export interface ReconcileSummary {
  /** The cursor the run listed after (null: the start of tenants/). */
  startedAfter: string | null;
  /** Where the next run continues; null when this run reached the end of the listing (a pass is complete). */
  nextCursor: string | null;
  /** When the pass this run belongs to began (ISO). */
  passStartedAt: string;
  listed: number;
  /** Older than the grace period and referred to by a row or a sweep record: kept. */
  referenced: number;
  /** Younger than the grace period: kept, not looked up. */
  recent: number;
  /** The orphans deleted (keys). */
  deleted: string[];
  deletedByKind: Partial<Record<ParsedKey['kind'], number>>;
  /** Keys of no known shape: reported, kept. */
  unknown: string[];
}

/** Claims the run when it is due: the stored cursor and pass start, or null when it is not due (or another edge has it). */
async function claimRun(db: SqlDatabase, now: number, intervalMs: number) {
  return db
    .prepare('UPDATE bucket_scan SET next_run_at = ? WHERE id = 1 AND next_run_at <= ? RETURNING cursor, pass_started_at')
    .bind(now + intervalMs, now)
    .first<{ cursor: string | null; pass_started_at: string | null }>();
}

/**
 * One run of the reconciliation (see the header) at `now`; null when no run is due. Throws when listing, a lookup or
 * the delete fails: the cursor then stays, and a later run handles the same page again.
 */
export async function reconcileBucket(ports: Pick<Ports, 'db' | 'blobs'>, now: Date, o: ReconcileOptions): Promise<ReconcileSummary | null> {
  const { db, blobs } = ports;
  const t = now.getTime();
  const claim = await claimRun(db, t, o.intervalMs ?? RECONCILE_INTERVAL_MS);
  if (!claim) return null;
  const startedAfter = claim.cursor;
  const passStartedAt = startedAfter !== null && claim.pass_started_at ? claim.pass_started_at : now.toISOString();
  const page = await blobs.list(RECONCILE_PREFIX, { cursor: startedAfter, limit: o.pageSize ?? RECONCILE_PAGE_SIZE });

  const unknown: string[] = [];
  const old: KnownObject[] = [];
  let recent = 0;
  for (const obj of page.objects) {
    const parsed = parseObjectKey(obj.key);
    if (!parsed) unknown.push(obj.key);
    else if (obj.lastModified.getTime() > t - o.graceMs) recent++;
    else old.push({ key: obj.key, parsed });
  }
  const referenced = await referencedKeys(db, old);
  const orphans = old.filter((x) => !referenced.has(x.key));
  if (orphans.length > 0) await blobs.delete(orphans.map((x) => x.key));

  const deletedByKind: ReconcileSummary['deletedByKind'] = {};
  for (const x of orphans) deletedByKind[x.parsed.kind] = (deletedByKind[x.parsed.kind] ?? 0) + 1;
  const summary: ReconcileSummary = {
    startedAfter,
    nextCursor: page.cursor,
    passStartedAt,
    listed: page.objects.length,
    referenced: referenced.size,
    recent,
    deleted: orphans.map((x) => x.key),
    deletedByKind,
    unknown,
  };
  await db.batch([
    db
      .prepare('UPDATE bucket_scan SET cursor = ?, pass_started_at = ?, next_run_at = ? WHERE id = 1')
      .bind(page.cursor, page.cursor === null ? null : passStartedAt, t + (page.cursor === null ? (o.passPauseMs ?? RECONCILE_PASS_PAUSE_MS) : (o.intervalMs ?? RECONCILE_INTERVAL_MS))),
    db
      .prepare(
        `INSERT INTO bucket_reconciliations (ran_at, started_after, next_cursor, listed, referenced, recent, deleted, unknown, examples)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .bind(
        now.toISOString(),
        startedAfter,
        page.cursor,
        summary.listed,
        summary.referenced,
        recent,
        orphans.length,
        unknown.length,
        JSON.stringify({ deleted: summary.deleted.slice(0, EXAMPLES), unknown: unknown.slice(0, EXAMPLES), deleted_by_kind: deletedByKind }),
      ),
    db
      .prepare('DELETE FROM bucket_reconciliations WHERE seq IN (SELECT seq FROM bucket_reconciliations WHERE ran_at < ? LIMIT ?)')
      .bind(new Date(t - o.retentionDays * DAY_MS).toISOString(), REPORT_PURGE_BATCH),
  ]);
  return summary;
}

function examples(keys: string[]): string {
  return keys.slice(0, EXAMPLES).join(', ') + (keys.length > EXAMPLES ? ', …' : '');
}

/** The log line of a run: null for a quiet run (nothing deleted, nothing unknown) in the middle of a pass. */
export function describeReconciliation(s: ReconcileSummary): string | null {
  if (s.deleted.length === 0 && s.unknown.length === 0 && s.nextCursor !== null) return null;
  const kinds = Object.entries(s.deletedByKind).map(([k, n]) => `${k} ${n}`).join(', ');
  const parts = [
    `bucket reconciliation: listed ${s.listed} object(s) under ${RECONCILE_PREFIX}${s.startedAfter ? ` after ${s.startedAfter}` : ''}`,
    `${s.referenced} referenced, ${s.recent} within the grace period`,
    s.deleted.length > 0 ? `deleted ${s.deleted.length} orphaned object(s) (${kinds}): ${examples(s.deleted)}` : 'no orphans',
  ];
  if (s.unknown.length > 0) parts.push(`kept ${s.unknown.length} object(s) of unknown key shape: ${examples(s.unknown)}`);
  if (s.nextCursor === null) parts.push(`pass over the bucket complete (started ${s.passStartedAt})`);
  return parts.join('; ');
}
