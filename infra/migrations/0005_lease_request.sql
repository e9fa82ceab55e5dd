-- Idempotent lease requests: a worker names each lease request (request_id); a retry of a request whose answer was
-- lost gets the same lease back instead of a second job (which would strand the first until its lease expired and
-- cost it an attempt). The id is kept on the row while it is leased.
ALTER TABLE training_jobs ADD COLUMN lease_request TEXT;
CREATE INDEX training_jobs_lease_request ON training_jobs(lease_request);
