// The edge's clock: what "now" is for leases, heartbeats, rate windows, upload expiry, API key expiry, a rotated
// webhook secret's overlap, the background timer's webhook schedule and the ages in the metrics. Production uses the
// system clock; tests inject one they move (test/helpers/manual-clock.ts) so time passes without sleeping.

export type Clock = () => Date;

export const systemClock: Clock = () => new Date();
