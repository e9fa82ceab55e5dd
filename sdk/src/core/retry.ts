// When a failed attempt is tried again, and after how long. Pure functions (the client does the waiting).
import { APIConnectionError, type APIError } from './errors.ts';

/** First backoff ceiling; each retry doubles it up to MAX_BACKOFF_MS. */
export const INITIAL_BACKOFF_MS = 500;
export const MAX_BACKOFF_MS = 8_000;
/** A Retry-After longer than this is not waited for: the error is thrown and the caller decides. */
export const MAX_RETRY_AFTER_MS = 60_000;

/**
 * How safe it is to send a request again after an attempt whose outcome is unknown (no response, a timeout, a 5xx):
 * - `repeatable`: sending it twice does what sending it once does — GET and DELETE, POSTs that carry an
 *   Idempotency-Key the API deduplicates, and POSTs that are safe to repeat (classify, uploads/complete);
 * - `once`: a second copy could act twice (e.g. rotating a webhook secret); retried only when the answer shows the
 *   API did not act on it (429: refused before any handler ran).
 */
export type RetryPolicy = 'repeatable' | 'once';

/** Milliseconds a `Retry-After` value asks for: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value == null) return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Exponential backoff with jitter for the retry numbered `retry` (0 for the first): between half and all of the ceiling. */
export function backoffMs(retry: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_BACKOFF_MS, INITIAL_BACKOFF_MS * 2 ** retry);
  return ceiling / 2 + (random() * ceiling) / 2;
}

/** Whether `error` (of one attempt of a request with this policy) is worth another attempt. */
export function isRetryable(error: APIError, policy: RetryPolicy): boolean {
  if (error instanceof APIConnectionError) return policy === 'repeatable';
  const status = error.status ?? 0;
  if (status === 429) return true;
  // The same Idempotency-Key is still being handled (e.g. an attempt that timed out on our side): wait for it.
  if (status === 409 && error.headers?.has('retry-after')) return policy === 'repeatable';
  if (status === 408 || status >= 500) return policy === 'repeatable';
  return false;
}

/**
 * Milliseconds to wait before the retry numbered `retry`: the answer's Retry-After when it has one, else the backoff.
 * undefined when the server asks for longer than MAX_RETRY_AFTER_MS (do not retry).
 */
export function retryDelayMs(error: APIError, retry: number, now: number = Date.now(), random: () => number = Math.random): number | undefined {
  const asked = parseRetryAfter(error.headers?.get('retry-after'), now);
  if (asked === undefined) return backoffMs(retry, random);
  return asked > MAX_RETRY_AFTER_MS ? undefined : asked;
}
