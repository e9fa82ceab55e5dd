-- Webhook management (PATCH, test events, resend, delivery lists filtered by status; edge/webhooks/deliveries.ts).
-- schedule_start: the number of attempts made before the delivery's current retry schedule began. 0 for a new
-- delivery; a resend sets it to the attempts so far, so the resent delivery gets the whole schedule again while
-- `attempts` keeps counting every attempt (the delivery's attempt_count).
ALTER TABLE webhook_deliveries ADD COLUMN schedule_start INTEGER NOT NULL DEFAULT 0;
-- GET /v1/webhook-endpoints/{id}/deliveries, newest first, and the same with ?status=.
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, id);
CREATE INDEX webhook_deliveries_endpoint_status ON webhook_deliveries(endpoint_id, status, id);
