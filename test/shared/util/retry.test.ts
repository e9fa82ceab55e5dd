// retry(fn, options): the one retry-with-backoff of the worker process. Tiny delays; no timing assertions.
import { describe, expect, it } from 'vitest';
import { retry } from '../../../shared/util/retry.ts';

/** fn that fails `failures` times (with errors numbered from 1), then resolves 'ok'; its calls are counted. */
function flaky(failures: number) {
  const f = {
    calls: 0,
    fn: async (attempt: number) => {
      f.calls++;
      expect(attempt).toBe(f.calls);
      if (f.calls <= failures) throw new Error(`failure ${f.calls}`);
      return 'ok';
    },
  };
  return f;
}

describe('retry', () => {
  it('returns the first success; onRetry gets each failure, a doubling delay capped at maxDelayMs, and the attempt', async () => {
    const f = flaky(5);
    const seen: [string, number, number][] = [];
    const v = await retry(f.fn, { firstDelayMs: 1, maxDelayMs: 8, onRetry: (err, delay, attempt) => seen.push([(err as Error).message, delay, attempt]) });
    expect(v).toBe('ok');
    expect(f.calls).toBe(6);
    expect(seen).toEqual([
      ['failure 1', 1, 1],
      ['failure 2', 2, 2],
      ['failure 3', 4, 3],
      ['failure 4', 8, 4],
      ['failure 5', 8, 5],
    ]);
  });

  it('a success at once calls neither onRetry nor waits', async () => {
    const f = flaky(0);
    let retries = 0;
    expect(await retry(f.fn, { onRetry: () => retries++ })).toBe('ok');
    expect([f.calls, retries]).toEqual([1, 0]);
  });

  it('stops after `attempts` tries (the first included) and throws the last failure', async () => {
    const f = flaky(10);
    await expect(retry(f.fn, { attempts: 3, firstDelayMs: 1 })).rejects.toThrow('failure 3');
    expect(f.calls).toBe(3);
    const once = flaky(10);
    await expect(retry(once.fn, { attempts: 1 })).rejects.toThrow('failure 1');
    expect(once.calls).toBe(1);
  });

  it('stops when the next try would start past the budget', async () => {
    const f = flaky(10);
    // The first delay alone is beyond the budget: no retry at all.
    await expect(retry(f.fn, { budgetMs: 5, firstDelayMs: 1000 })).rejects.toThrow('failure 1');
    expect(f.calls).toBe(1);
    const none = flaky(10);
    await expect(retry(none.fn, { budgetMs: 0, firstDelayMs: 1 })).rejects.toThrow('failure 1');
    expect(none.calls).toBe(1);
    const some = flaky(Infinity);
    await expect(retry(some.fn, { budgetMs: 50, firstDelayMs: 1, maxDelayMs: 1 })).rejects.toThrow(/failure \d+/);
    expect(some.calls).toBeGreaterThan(1);
  });

  it('a failure that is not retryable is thrown at once', async () => {
    const f = flaky(10);
    const seen: unknown[] = [];
    await expect(retry(f.fn, { retryable: (err) => (seen.push(err), (err as Error).message !== 'failure 2'), firstDelayMs: 1 })).rejects.toThrow('failure 2');
    expect(f.calls).toBe(2);
    expect(seen.map((e) => (e as Error).message)).toEqual(['failure 1', 'failure 2']);
  });

  it('an abort stops the waiting and throws the last failure; an aborted signal allows no retry', async () => {
    const stop = new AbortController();
    const f = flaky(10);
    await expect(retry(f.fn, { firstDelayMs: 60_000, signal: stop.signal, onRetry: () => stop.abort() })).rejects.toThrow('failure 1');
    expect(f.calls).toBe(1);
    const g = flaky(10);
    await expect(retry(g.fn, { firstDelayMs: 1, signal: stop.signal })).rejects.toThrow('failure 1');
    expect(g.calls).toBe(1);
  });
});
