-- The bucket reconciliation (edge/bucket/reconcile.ts): a background pass that lists the bucket under tenants/ one
-- page per run and removes the objects no row refers to (past a grace period), so objects nobody recorded do not stay.
-- bucket_scan: its one row says where the listing continues and when the next run is due, so a big bucket is covered
-- across runs (and across edges and restarts: any edge that claims a due run continues from the stored cursor).
CREATE TABLE bucket_scan (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  cursor TEXT,                            -- the last key handled; NULL: the next run starts at the beginning
  next_run_at INTEGER NOT NULL,           -- unix ms; a run claims the row by moving this forward
  pass_started_at TEXT                    -- when the current pass over the whole bucket began
);
INSERT INTO bucket_scan (id, cursor, next_run_at, pass_started_at) VALUES (1, NULL, 0, NULL);
-- One row per run, the report an operator reads (kept RETENTION_DAYS): how many objects it listed, kept because a row
-- or a sweep record names them, kept because they are younger than the grace period, deleted as orphans, and kept
-- because their key has no known shape; examples holds up to 10 keys of each of the last two, with the orphans' kinds.
CREATE TABLE bucket_reconciliations (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  ran_at TEXT NOT NULL,
  started_after TEXT,                     -- the cursor the run listed after (NULL: the start of tenants/)
  next_cursor TEXT,                       -- where the next run continues (NULL: this run finished a pass)
  listed INTEGER NOT NULL,
  referenced INTEGER NOT NULL,
  recent INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  unknown INTEGER NOT NULL,
  examples TEXT NOT NULL                  -- JSON {"deleted": [...], "unknown": [...], "deleted_by_kind": {...}}
);
CREATE INDEX bucket_reconciliations_ran ON bucket_reconciliations(ran_at);
