-- Billable usage (edge/usage/, GET /v1/usage) and per-tenant limits (edge/tenants/limits.ts, PATCH /v1/tenants/{id}).
-- Usage rows are billing records: the retention purge (edge/retention.ts) does not touch them.

-- One row per tenant and UTC day: the counters of the billable calls, each added to by one upsert in the request that
-- the answer reports as a success (POST /v1/classify, POST /v1/embeddings/text), and the day's storage snapshot, taken
-- by the background task (NULL until it reached the tenant that day).
CREATE TABLE usage_daily (
  tenant_id TEXT NOT NULL,
  day TEXT NOT NULL,                          -- YYYY-MM-DD, UTC
  classify_requests INTEGER NOT NULL DEFAULT 0,
  classify_images INTEGER NOT NULL DEFAULT 0,
  embedding_texts INTEGER NOT NULL DEFAULT 0,
  storage_bytes INTEGER,                      -- images + model artifacts when the day's snapshot was taken
  PRIMARY KEY (tenant_id, day)
);
-- The snapshot's cursor: the highest tenant id already snapshotted on a day.
CREATE INDEX usage_daily_storage ON usage_daily(day, tenant_id) WHERE storage_bytes IS NOT NULL;

-- One row per training job or evaluation that ran (started_at set) and ended, written in the batch of its final
-- transition (edge/jobs/transitions.ts); the job id as key makes a second write of the same job impossible.
CREATE TABLE usage_work (
  job_id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  day TEXT NOT NULL,                          -- the UTC day it ended
  kind TEXT NOT NULL CHECK (kind IN ('training', 'evaluation')),
  method TEXT NOT NULL CHECK (method IN ('cocoop', 'coop', 'zero-shot')),
  duration_ms INTEGER NOT NULL,               -- finished_at - started_at, as the edge recorded them
  started_at TEXT NOT NULL,
  finished_at TEXT NOT NULL
);
CREATE INDEX usage_work_tenant_day ON usage_work(tenant_id, day);

-- The tenant's overrides of the configured quotas and rate limit, as JSON:
-- {"quotas": {"datasets": 1, ...}, "rate_limit": {"requests_per_window": 1200}}; a missing key means the default.
ALTER TABLE tenants ADD COLUMN limits TEXT NOT NULL DEFAULT '{}';
