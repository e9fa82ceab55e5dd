-- Objects to remove from the bucket once due (edge/datasets/sweeps.ts): every presigned upload's staging key
-- (swept after its URL expired, whatever happened to the upload), the keys of image rows deleted before their
-- objects, and objects a request puts before the row that refers to them exists (removed unless a row refers
-- to them by then). The reconciliation in the background tasks deletes due keys that no image row refers to.
CREATE TABLE blob_sweeps (
  object_key TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  sweep_after INTEGER NOT NULL,           -- unix ms; not before (a presigned URL to the key may be valid until then)
  reason TEXT NOT NULL CHECK (reason IN ('staging', 'deleted', 'unconfirmed')),
  created_at TEXT NOT NULL
);
CREATE INDEX blob_sweeps_due ON blob_sweeps(sweep_after);
-- The reconciliation's check that no image row refers to a key.
CREATE INDEX images_object_key ON images(object_key);
-- Purges: expired presigned uploads, idempotency keys, rate-limit windows, and the retention of job events,
-- final jobs and evaluations, webhook deliveries (their attempts go by webhook_attempts_delivery).
CREATE INDEX images_pending_expiry ON images(status, expires_at);
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);
CREATE INDEX rate_windows_start ON rate_windows(window_start);
CREATE INDEX job_events_created ON job_events(created_at);
CREATE INDEX training_jobs_finished ON training_jobs(status, finished_at);
CREATE INDEX webhook_deliveries_created ON webhook_deliveries(status, created_at);
-- The worker API finds a job by its lease (heartbeat, events, complete, fail).
CREATE INDEX training_jobs_lease ON training_jobs(lease_id);
