// sleep(ms, signal): resolves after the time, or at once when the signal aborts (before or during); never rejects.
import { describe, expect, it } from 'vitest';
import { sleep } from '../../../shared/util/sleep.ts';

describe('sleep', () => {
  it('resolves after the time', async () => {
    let done = false;
    const p = sleep(5).then(() => (done = true));
    expect(done).toBe(false);
    await p;
    expect(done).toBe(true);
  });

  it('an abort ends the wait at once without rejecting, and removes its listener', async () => {
    const stop = new AbortController();
    const p = sleep(60_000, stop.signal);
    stop.abort(new Error('stopping'));
    await expect(p).resolves.toBeUndefined();
  });

  it('an already aborted signal does not wait', async () => {
    const stop = new AbortController();
    stop.abort();
    await expect(sleep(60_000, stop.signal)).resolves.toBeUndefined();
  });

  it('a finished sleep leaves no listener on the signal', async () => {
    const stop = new AbortController();
    let added = 0;
    let removed = 0;
    const signal = stop.signal;
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = ((...a: Parameters<typeof add>) => (added++, add(...a))) as typeof signal.addEventListener;
    signal.removeEventListener = ((...a: Parameters<typeof remove>) => (removed++, remove(...a))) as typeof signal.removeEventListener;
    await sleep(1, signal);
    expect([added, removed]).toEqual([1, 1]);
  });
});
