-- Webhook delivery with a per-endpoint concurrency limit, and through Cloudflare Queues on Workers
-- (edge/webhooks/dispatcher.ts, queue.ts, consumer.ts).
-- in_flight_until (unix ms): set when an attempt is claimed, to the end of its claim (timeout + margin); cleared when
-- the attempt's outcome is recorded. A claim counts the endpoint's rows with in_flight_until > now and is refused at
-- the limit (6), so no endpoint has more attempts open than that, whichever dispatcher or consumer sends them.
ALTER TABLE webhook_deliveries ADD COLUMN in_flight_until INTEGER;
-- enqueued_at (unix ms): when a queue message for the row was last sent (Workers); NULL: never. The cron enqueues due
-- rows that have none, and re-enqueues rows whose message was lost (due long ago, not enqueued recently).
ALTER TABLE webhook_deliveries ADD COLUMN enqueued_at INTEGER;
CREATE INDEX webhook_deliveries_in_flight ON webhook_deliveries(endpoint_id, in_flight_until) WHERE in_flight_until IS NOT NULL;
CREATE INDEX webhook_deliveries_unqueued ON webhook_deliveries(next_attempt_at) WHERE status = 'pending' AND enqueued_at IS NULL;
