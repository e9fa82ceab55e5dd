-- Evaluations (POST /v1/evaluations) share the worker queue with training jobs: one table of leased work, so an
-- evaluation is leased, heartbeated, retried after an expired lease and finished by the same guarded statements
-- (edge/jobs/queue.ts). `kind` tells them apart; every public training-job query filters kind = 'training'.
-- For an evaluation: method is the evaluated model's method ('zero-shot' without a model), model_id the evaluated
-- model (NULL for zero-shot), hyperparameters holds {"labels": [...]}, result the figures once it succeeded.
-- A training job's result is {train, validation} once it succeeded.
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt (no foreign key points at it).
CREATE TABLE training_jobs_v4 (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  kind TEXT NOT NULL DEFAULT 'training' CHECK (kind IN ('training', 'evaluation')),
  dataset_id TEXT NOT NULL,
  method TEXT NOT NULL CHECK (method IN ('cocoop', 'coop', 'zero-shot')),
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'cancelling', 'succeeded', 'failed', 'cancelled')),
  hyperparameters TEXT NOT NULL,
  metadata TEXT NOT NULL DEFAULT '{}',
  progress TEXT NOT NULL DEFAULT '{}',
  metrics TEXT NOT NULL DEFAULT '{}',
  model_id TEXT,
  result TEXT,
  error TEXT,
  created_at TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT,
  lease_id TEXT,
  lease_worker TEXT,
  lease_expires_at INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0
);
INSERT INTO training_jobs_v4 (id, tenant_id, kind, dataset_id, method, status, hyperparameters, metadata, progress, metrics,
                              model_id, result, error, created_at, started_at, finished_at, lease_id, lease_worker, lease_expires_at, attempts)
  SELECT id, tenant_id, 'training', dataset_id, method, status, hyperparameters, metadata, progress, metrics,
         model_id, NULL, error, created_at, started_at, finished_at, lease_id, lease_worker, lease_expires_at, attempts
    FROM training_jobs;
DROP TABLE training_jobs;
ALTER TABLE training_jobs_v4 RENAME TO training_jobs;
CREATE INDEX training_jobs_tenant ON training_jobs(tenant_id, kind, id);
CREATE INDEX training_jobs_queue ON training_jobs(status, created_at);
CREATE INDEX training_jobs_tenant_status ON training_jobs(tenant_id, status);
CREATE INDEX training_jobs_model ON training_jobs(model_id);
