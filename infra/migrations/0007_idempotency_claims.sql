-- Idempotency keys as short claims recorded with the work they protect (edge/http/idempotency.ts).
-- A claim (status 0) is locked from locked_at (or, for claims stored before this migration, from created_at) for a
-- short lock time; a retry after it lapses may take the claim over (a new lock_token). The route's domain batch
-- that creates the resource also completes the claim (status, resource_id and, when known then, the response), and
-- only while lock_token is still the request's own: a request whose claim was taken over cannot commit twice.
ALTER TABLE idempotency_keys ADD COLUMN locked_at INTEGER;          -- unix ms of the current claim; NULL once complete
ALTER TABLE idempotency_keys ADD COLUMN lock_token TEXT;            -- the request holding (or that completed) the claim
ALTER TABLE idempotency_keys ADD COLUMN resource_id TEXT;           -- what the request created, written in its batch
