// Webhook delivery settings (kept out of EdgeConfig): retry schedule, timeout, batch size, resolver, the
// per-endpoint concurrency limit and the Workers queue consumer's timings.
import type { Resolver } from './url-guard.ts';

export const WEBHOOK_EVENT_TYPES = [
  'training_job.succeeded',
  'training_job.failed',
  'training_job.cancelled',
  'training_job.started',
  'evaluation.succeeded',
  'evaluation.failed',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];
/** The event of POST /v1/webhook-endpoints/{id}/test: sent on request only, to that endpoint, whatever its `events`. */
export const WEBHOOK_TEST_EVENT = 'webhook.test';
/** The event type of a delivery: a subscribable event or the test event. */
export const DELIVERY_EVENT_TYPES = [...WEBHOOK_EVENT_TYPES, WEBHOOK_TEST_EVENT] as const;
export type DeliveryEventType = (typeof DELIVERY_EVENT_TYPES)[number];
/** The states of a delivery (webhook_deliveries.status). */
export const DELIVERY_STATUSES = ['pending', 'succeeded', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];
/** Events of an endpoint created without `events` (API.md: the final events of jobs and evaluations; `started` only on request). */
export const DEFAULT_WEBHOOK_EVENTS: WebhookEventType[] = [
  'training_job.succeeded',
  'training_job.failed',
  'training_job.cancelled',
  'evaluation.succeeded',
  'evaluation.failed',
];

/** How long a rotated-out secret keeps signing next to the new one. */
export const SECRET_OVERLAP_MS = 24 * 60 * 60 * 1000;

/**
 * Delay before retry n (seconds): 5 s, 5 min, 30 min, 2 h, 5 h, then 10 h ×7 — the last retry 77.6 h (3.2 days) after
 * the first attempt, so a receiver down for three days (a long weekend) still gets the event, as with Stripe's
 * three-day live-mode retries; the opening steps are Svix's. docs/API.md and docs/reliability.md say "about 3 days"
 * (test/edge/webhooks/settings.test.ts holds the two together).
 */
export const PRODUCTION_RETRY_SCHEDULE_S = [5, 300, 1800, 7200, 18000, 36000, 36000, 36000, 36000, 36000, 36000, 36000];

export interface WebhookSettings {
  /** Delay in seconds before each retry; attempts in all = length + 1. */
  retryScheduleSeconds: number[];
  /** A receiver must answer (status line) within this. */
  timeoutMs: number;
  /** Loopback receivers allowed (npm start). */
  localMode: boolean;
  /** DNS lookup for the delivery-time address check; absent on Workers (see url-guard.ts). */
  resolver?: Resolver;
  /** Most deliveries one dispatch run picks. */
  batchSize: number;
  /**
   * Most attempts open at once to one endpoint, across every dispatcher and queue consumer (the claim counts them).
   * 6: a Worker invocation has at most 6 outbound connections waiting for headers, and one receiver gets no more.
   */
  endpointConcurrency: number;
  /** Queue consumer: how long it waits for an attempt before acknowledging its message and finishing it in the background. */
  holdMs: number;
  /** Queue consumer: when its endpoint is at endpointConcurrency, a message comes back after this many seconds. */
  deferSeconds: number;
  /** Cron on Workers: a row due this long ago, not in flight and not enqueued within it, lost its message: enqueue it again. */
  lostAfterMs: number;
  /** Cron on Workers: most rows it enqueues per run. */
  enqueueLimit: number;
}

export const DEFAULT_WEBHOOK_SETTINGS: WebhookSettings = {
  retryScheduleSeconds: PRODUCTION_RETRY_SCHEDULE_S,
  timeoutMs: 15_000,
  localMode: false,
  batchSize: 50,
  endpointConcurrency: 6,
  holdMs: 2_000,
  deferSeconds: 5,
  lostAfterMs: 5 * 60_000,
  enqueueLimit: 1_000,
};

export function webhookSettings(overrides: Partial<WebhookSettings> = {}): WebhookSettings {
  const s = { ...DEFAULT_WEBHOOK_SETTINGS, ...overrides };
  if (!s.retryScheduleSeconds.every((d) => Number.isFinite(d) && d >= 0)) throw new Error('webhook retry delays must be >= 0 seconds');
  if (!(s.timeoutMs > 0)) throw new Error('webhook timeoutMs must be > 0');
  for (const k of ['batchSize', 'endpointConcurrency', 'deferSeconds', 'enqueueLimit'] as const) {
    if (!(Number.isInteger(s[k]) && s[k] > 0)) throw new Error(`webhook ${k} must be a positive integer`);
  }
  if (!(s.holdMs >= 0) || !(s.lostAfterMs > 0)) throw new Error('webhook holdMs must be >= 0 and lostAfterMs > 0');
  return s;
}

/**
 * WEBHOOK_RETRY_SCHEDULE (optional) on Workers: comma-separated retry delays in seconds, read as on Node
 * (edge/node/server.ts); undefined when unset. Throws on anything else.
 */
export function retryScheduleFromEnv(env: Record<string, string | undefined>): number[] | undefined {
  const raw = env.WEBHOOK_RETRY_SCHEDULE?.trim();
  if (!raw) return undefined;
  const parts = raw.split(',').map((p) => p.trim());
  if (!parts.every((p) => /^\d+(\.\d+)?$/.test(p))) {
    throw new Error(`WEBHOOK_RETRY_SCHEDULE must be comma-separated seconds >= 0 (e.g. "1,5,30"), got ${JSON.stringify(env.WEBHOOK_RETRY_SCHEDULE)}`);
  }
  return parts.map(Number);
}

export function maxAttempts(s: WebhookSettings): number {
  return s.retryScheduleSeconds.length + 1;
}
