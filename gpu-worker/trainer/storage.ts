// The blob-store operations a trainer uses, and how they wait out a storage outage.
import type { BlobStore } from '../../shared/storage/blob-store.ts';
import { retry } from '../../shared/util/retry.ts';
import { errorMessage } from './errors.ts';

/** The subset of the BlobStore port (shared/storage/blob-store.ts) a trainer needs. */
export type TrainerBlobs = Pick<BlobStore, 'get' | 'put' | 'delete'>;

/** How long a failing blob-store read or write is retried before the job fails (default). */
export const DEFAULT_STORAGE_RETRY_MS = 120_000;

export interface StorageRetry {
  /** No retry starts later than this after the first failure (0: no retries). */
  budgetMs: number;
  /** Told about each retry. */
  log: (line: string) => void;
  /** Stops the waiting (the last failure is thrown). */
  signal?: AbortSignal;
}

/** `fn` (a blob-store call) retried on any failure within `o.budgetMs`; each retry logged as "<what> failed (…); retrying in N ms". */
export function retryStorage<T>(what: string, fn: () => Promise<T>, o: StorageRetry): Promise<T> {
  return retry(fn, {
    budgetMs: o.budgetMs,
    firstDelayMs: 500,
    maxDelayMs: 10_000,
    signal: o.signal,
    onRetry: (err, delayMs) => o.log(`${what} failed (${errorMessage(err)}); retrying in ${delayMs} ms`),
  });
}
