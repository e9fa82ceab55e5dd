-- When a leased job (or evaluation) last made progress (unix ms): set when it is leased and whenever a heartbeat
-- reports progress that moved. A heartbeat of a job whose progress has not moved for JOB_STALL_SECONDS, or that has
-- run longer than JOB_MAX_SECONDS, fails it (`stalled` / `timed_out`) instead of renewing its lease forever.
ALTER TABLE training_jobs ADD COLUMN progress_at INTEGER;
