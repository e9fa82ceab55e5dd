// Retry with exponential backoff: the one retry layer of the worker process's calls to the edge and S3.
import { sleep } from './sleep.ts';

export interface RetryOptions {
  /** Whether a failure may be retried (default: every failure). */
  retryable?: (err: unknown) => boolean;
  /** No further try is started later than this after the first failure (default: unlimited, see `attempts`). */
  budgetMs?: number;
  /** Most tries in all, the first included (default: unlimited, see `budgetMs`). */
  attempts?: number;
  /** The first delay; it doubles per retry up to `maxDelayMs` (defaults 250 ms and 10 s). */
  firstDelayMs?: number;
  maxDelayMs?: number;
  /** Told before each wait. */
  onRetry?: (err: unknown, delayMs: number, attempt: number) => void;
  /** Aborting stops the waiting and throws the last failure. */
  signal?: AbortSignal;
}

/** Calls `fn` until it resolves; throws the last failure once it is not retryable or the budget is spent. */
export async function retry<T>(fn: (attempt: number) => Promise<T>, o: RetryOptions = {}): Promise<T> {
  const first = o.firstDelayMs ?? 250;
  const max = o.maxDelayMs ?? 10_000;
  let firstFailure = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      firstFailure ||= Date.now();
      const delay = Math.min(max, first * 2 ** (attempt - 1));
      const outOfTries = o.attempts !== undefined && attempt >= o.attempts;
      const outOfTime = o.budgetMs !== undefined && Date.now() + delay - firstFailure > o.budgetMs;
      if ((o.retryable && !o.retryable(err)) || o.signal?.aborted || outOfTries || outOfTime) throw err;
      o.onRetry?.(err, delay, attempt);
      await sleep(delay, o.signal);
      if (o.signal?.aborted) throw err;
    }
  }
}
