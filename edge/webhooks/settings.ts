// Webhook delivery settings (kept out of EdgeConfig): retry schedule, timeout, batch size, resolver.
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

/** Delay before retry n (seconds): 5 s, 5 min, 30 min, 2 h, 5 h, then 10 h ×5 — about 3 days in all. */
export const PRODUCTION_RETRY_SCHEDULE_S = [5, 300, 1800, 7200, 18000, 36000, 36000, 36000, 36000, 36000];

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
}

export const DEFAULT_WEBHOOK_SETTINGS: WebhookSettings = {
  retryScheduleSeconds: PRODUCTION_RETRY_SCHEDULE_S,
  timeoutMs: 15_000,
  localMode: false,
  batchSize: 50,
};

export function webhookSettings(overrides: Partial<WebhookSettings> = {}): WebhookSettings {
  const s = { ...DEFAULT_WEBHOOK_SETTINGS, ...overrides };
  if (!s.retryScheduleSeconds.every((d) => Number.isFinite(d) && d >= 0)) throw new Error('webhook retry delays must be >= 0 seconds');
  if (!(s.timeoutMs > 0)) throw new Error('webhook timeoutMs must be > 0');
  if (!(Number.isInteger(s.batchSize) && s.batchSize > 0)) throw new Error('webhook batchSize must be a positive integer');
  return s;
}

export function maxAttempts(s: WebhookSettings): number {
  return s.retryScheduleSeconds.length + 1;
}
