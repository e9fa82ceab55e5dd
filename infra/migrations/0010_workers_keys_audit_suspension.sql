-- Per-worker tokens, API key expiry and last use, tenant suspension, and the audit log (docs/security.md G6, G10, G12).

-- A worker token is stored like an API key: only its sha256 and a display prefix. A revoked token stops working at
-- once (every request reads its row). last_used_at is written at most once a minute per token.
CREATE TABLE worker_tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  created_at TEXT NOT NULL,
  last_used_at TEXT,
  revoked_at TEXT
);

-- expires_at: NULL = never. last_used_at: written at most once a minute per key (not on every request).
ALTER TABLE api_keys ADD COLUMN expires_at TEXT;
ALTER TABLE api_keys ADD COLUMN last_used_at TEXT;
CREATE INDEX api_keys_tenant_id ON api_keys(tenant_id, id);

-- A suspended tenant's keys are refused with 403 until it is unsuspended.
ALTER TABLE tenants ADD COLUMN suspended_at TEXT;

-- Changes to keys, webhook endpoints, tenants and worker tokens, each written in the same batch as the change.
-- tenant_id is NULL for events that belong to no tenant (worker tokens).
CREATE TABLE audit_events (
  id TEXT PRIMARY KEY,
  tenant_id TEXT,
  created_at TEXT NOT NULL,
  actor_type TEXT NOT NULL CHECK (actor_type IN ('api_key', 'admin')),
  actor_id TEXT,
  action TEXT NOT NULL,
  target_type TEXT NOT NULL,
  target_id TEXT NOT NULL,
  data TEXT
);
CREATE INDEX audit_events_tenant ON audit_events(tenant_id, id);
