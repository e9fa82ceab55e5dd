// A statement for a db.batch (D1 and SQLite run a batch as one transaction) that aborts the whole batch when the
// statement right before it changed no row: it inserts a row with a NULL in a NOT NULL column exactly when
// `changes()` is 0, so the constraint error rolls back everything before and after it. Used where a guarded write
// (a quota or state condition inside an INSERT … SELECT … WHERE) must not let the rest of its batch commit — e.g. the
// Idempotency-Key completion of edge/http/idempotency.ts — when the guard refused.
import type { SqlDatabase, SqlStatement } from './ports.ts';

export function abortIfUnchangedStatement(db: SqlDatabase): SqlStatement {
  return db.prepare(
    `INSERT INTO idempotency_keys (tenant_id, key, route, request_hash, status, body, created_at) SELECT NULL, '', '', '', 0, '', 0 WHERE changes() = 0`,
  );
}

/** True when the error is a constraint error (a guard of a batch refused, or a unique key was taken). */
export function isConstraintFailure(err: unknown): boolean {
  return err instanceof Error && /constraint/i.test(err.message);
}
