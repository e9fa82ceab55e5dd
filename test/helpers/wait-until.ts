// Waiting for a state, never for a length of time: `check` is polled (vitest's vi.waitUntil, one call at a time)
// until it returns something truthy, which is returned. The deadline is generous, only there to end a hung test with
// a message that says what never happened (and, from `context`, what the system under test was saying).
import { vi } from 'vitest';

export interface WaitOptions {
  /** Overall deadline (default 30 s): a bound on a hang, not an expectation about speed. */
  timeoutMs?: number;
  /** Pause between checks (default 50 ms). */
  intervalMs?: number;
  /** Appended to the timeout error, e.g. the last lines of a process's log. */
  context?: () => string;
}

type Falsy = null | undefined | false | 0 | '';

export async function waitUntil<T>(what: string, check: () => T | Falsy | Promise<T | Falsy>, opts: WaitOptions = {}): Promise<T> {
  const timeout = opts.timeoutMs ?? 30_000;
  try {
    return (await vi.waitUntil(check, { timeout, interval: opts.intervalMs ?? 50 })) as T;
  } catch (err) {
    // Only the deadline is reworded; an error thrown by `check` itself is passed on as it is.
    if (!(err instanceof Error && err.message === 'Timed out in waitUntil!')) throw err;
    const context = opts.context?.();
    throw new Error(`timed out after ${timeout / 1000} s waiting for ${what}${context ? `\n${context}` : ''}`);
  }
}
