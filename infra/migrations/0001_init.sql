-- One schema for D1 (Workers) and SQLite (Node). Timestamps: ISO-8601 text; lease/retry clocks: unix ms.
-- Every tenant-owned row carries tenant_id, and every query filters on it.

CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_at TEXT NOT NULL
);

CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  key_hash TEXT NOT NULL UNIQUE,          -- sha256 hex of the full key; the key itself is never stored
  prefix TEXT NOT NULL,                   -- first characters, for display
  created_at TEXT NOT NULL,
  revoked_at TEXT
);
CREATE INDEX api_keys_tenant ON api_keys(tenant_id);

CREATE TABLE datasets (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  name TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('open', 'ready')),
  declared_classes TEXT NOT NULL DEFAULT '[]', -- JSON array given at creation (may be empty)
  created_at TEXT NOT NULL,
  finalized_at TEXT
);
CREATE INDEX datasets_tenant ON datasets(tenant_id, id);

CREATE TABLE images (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  dataset_id TEXT NOT NULL REFERENCES datasets(id),
  label TEXT NOT NULL,
  object_key TEXT NOT NULL,
  content_type TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  width INTEGER,
  height INTEGER,
  status TEXT NOT NULL CHECK (status IN ('pending', 'stored')), -- pending = presigned upload not yet verified
  expires_at TEXT,                        -- pending uploads only
  created_at TEXT NOT NULL
);
CREATE INDEX images_dataset ON images(dataset_id, label);

CREATE TABLE training_jobs (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  dataset_id TEXT NOT NULL,
  method TEXT NOT NULL CHECK (method IN ('cocoop', 'coop')),
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'cancelling', 'succeeded', 'failed', 'cancelled')),
  hyperparameters TEXT NOT NULL,          -- JSON, complete (defaults applied)
  metadata TEXT NOT NULL DEFAULT '{}',
  progress TEXT NOT NULL DEFAULT '{}',
  metrics TEXT NOT NULL DEFAULT '{}',
  model_id TEXT,
  error TEXT,                             -- JSON {code, message} or NULL
  created_at TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT,
  lease_id TEXT,                          -- the current lease (one worker per job)
  lease_worker TEXT,
  lease_expires_at INTEGER,               -- unix ms; an expired lease puts the job back in the queue
  attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX training_jobs_tenant ON training_jobs(tenant_id, id);
CREATE INDEX training_jobs_queue ON training_jobs(status, created_at);

CREATE TABLE job_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  job_id TEXT NOT NULL,
  tenant_id TEXT NOT NULL,
  created_at TEXT NOT NULL,
  level TEXT NOT NULL CHECK (level IN ('info', 'warn', 'error')),
  type TEXT NOT NULL CHECK (type IN ('message', 'metrics')),
  message TEXT NOT NULL,
  data TEXT
);
CREATE INDEX job_events_job ON job_events(job_id, seq);

CREATE TABLE models (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  job_id TEXT NOT NULL UNIQUE,            -- a job publishes at most one model
  method TEXT NOT NULL,
  base_model TEXT NOT NULL,
  classes TEXT NOT NULL,                  -- JSON array
  metrics TEXT NOT NULL,
  artifact_key TEXT NOT NULL,
  artifact_bytes INTEGER NOT NULL,
  artifact_sha256 TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX models_tenant ON models(tenant_id, id);

CREATE TABLE webhook_endpoints (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  url TEXT NOT NULL,
  events TEXT NOT NULL,                   -- JSON array
  secret TEXT NOT NULL,
  previous_secret TEXT,                   -- still signs until previous_secret_expires_at (rotation overlap)
  previous_secret_expires_at TEXT,
  disabled_at TEXT,
  disabled_reason TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints(tenant_id, id);

-- The durable outbox: one row per (event, endpoint); webhook-id = id, stable across retries.
CREATE TABLE webhook_deliveries (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  endpoint_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  payload TEXT NOT NULL,                  -- the exact body sent on every attempt
  status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,       -- unix ms
  created_at TEXT NOT NULL,
  UNIQUE (endpoint_id, event_type, payload)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);

CREATE TABLE webhook_attempts (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  delivery_id TEXT NOT NULL,
  attempted_at TEXT NOT NULL,
  status_code INTEGER,                    -- NULL when no response (timeout, refused)
  error TEXT,
  duration_ms INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, seq);

CREATE TABLE idempotency_keys (
  tenant_id TEXT NOT NULL,
  key TEXT NOT NULL,
  route TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  status INTEGER NOT NULL,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL,            -- unix ms; entries older than 24 h are ignored and purged
  PRIMARY KEY (tenant_id, key)
);

-- Fixed-window request counters per API key (per-key rate limits on both runtimes).
CREATE TABLE rate_windows (
  key_id TEXT NOT NULL,
  window_start INTEGER NOT NULL,          -- unix ms
  count INTEGER NOT NULL,
  PRIMARY KEY (key_id, window_start)
);
