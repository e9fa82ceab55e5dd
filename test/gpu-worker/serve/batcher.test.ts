import { describe, expect, it } from 'vitest';
import { MicroBatcher } from '../../../gpu-worker/serve/batcher.ts';

/** A fake image encoder: one call per batch; "features" of image x are [x, 2x]. */
function fakeEncoder() {
  const calls: number[][] = [];
  const batcher = new MicroBatcher<number[], number[][]>({
    maxBatch: 32,
    maxWaitMs: 5,
    size: (imgs) => imgs.length,
    run: async (_key, items) => {
      const flat = items.flat();
      calls.push(flat);
      await new Promise((r) => setImmediate(r)); // answers on a later turn of the event loop, as a real encoder does
      const feats = flat.map((x) => [x, 2 * x]);
      let i = 0;
      return items.map((it) => it.map(() => feats[i++]));
    },
  });
  return { calls, batcher };
}

describe('MicroBatcher', () => {
  it('merges 8 concurrent requests into fewer encoder calls and splits results back in order', async () => {
    const { calls, batcher } = fakeEncoder();
    const reqs = Array.from({ length: 8 }, (_, r) => Array.from({ length: 1 + (r % 3) }, (_, k) => r * 10 + k));
    const out = await Promise.all(reqs.map((imgs) => batcher.submit('same', imgs)));
    out.forEach((rows, r) => expect(rows).toEqual(reqs[r].map((x) => [x, 2 * x])));
    expect(calls.length).toBeLessThan(8);
    expect(calls.length).toBe(1);
  });

  it('keeps different keys apart', async () => {
    const { calls, batcher } = fakeEncoder();
    const [a, b] = await Promise.all([batcher.submit('a', [1]), batcher.submit('b', [2])]);
    expect(a).toEqual([[1, 2]]);
    expect(b).toEqual([[2, 4]]);
    expect(calls.length).toBe(2);
  });

  it('respects the max batch size', async () => {
    const calls: number[] = [];
    const batcher = new MicroBatcher<number, number>({
      maxBatch: 3,
      maxWaitMs: 20,
      run: async (_k, items) => {
        calls.push(items.length);
        return items.map((x) => x * x);
      },
    });
    const out = await Promise.all([1, 2, 3, 4, 5, 6, 7].map((x) => batcher.submit('k', x)));
    expect(out).toEqual([1, 4, 9, 16, 25, 36, 49]);
    expect(calls).toEqual([3, 3, 1]);
  });

  it('flushes after maxWait for a lone request, and runs later requests in a new batch', async () => {
    const { calls, batcher } = fakeEncoder();
    expect(await batcher.submit('k', [3])).toEqual([[3, 6]]);
    expect(await batcher.submit('k', [4])).toEqual([[4, 8]]);
    expect(calls).toEqual([[3], [4]]);
  });

  it('rejects every request of a failed batch', async () => {
    const batcher = new MicroBatcher<number, number>({
      maxBatch: 8,
      maxWaitMs: 2,
      run: async () => {
        throw new Error('encoder down');
      },
    });
    const rs = await Promise.allSettled([batcher.submit('k', 1), batcher.submit('k', 2)]);
    expect(rs.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });
});

describe('MicroBatcher, adaptive', () => {
  /** A batch runner that holds each batch until released. */
  function gated() {
    const calls: number[][] = [];
    const gates: (() => void)[] = [];
    const batcher = new MicroBatcher<number, number>({
      maxBatch: 32,
      maxWaitMs: 60_000, // only a finished batch (or a full one) may flush a waiting batch in these tests
      run: async (_k, items) => {
        calls.push(items);
        await new Promise<void>((r) => gates.push(r));
        return items.map((x) => -x);
      },
    });
    return { calls, gates, batcher };
  }

  it('an idle batcher runs a lone request at once (no maxWait)', async () => {
    const { calls, gates, batcher } = gated();
    const a = batcher.submit('k', 1);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(calls).toEqual([[1]]); // started long before maxWaitMs (60 s)
    gates[0]!();
    expect(await a).toBe(-1);
  });

  it('requests that arrive while a batch runs go together as soon as it finishes', async () => {
    const { calls, gates, batcher } = gated();
    const first = batcher.submit('k', 1);
    await new Promise((r) => setImmediate(r));
    const rest = [2, 3, 4].map((x) => batcher.submit('k', x));
    const other = batcher.submit('other', 9); // another key waits for the busy period too
    await new Promise((r) => setImmediate(r));
    expect(calls).toEqual([[1]]);
    gates[0]!();
    expect(await first).toBe(-1);
    await new Promise((r) => setImmediate(r));
    expect(calls).toEqual([[1], [2, 3, 4], [9]]);
    gates[1]!();
    gates[2]!();
    expect(await Promise.all(rest)).toEqual([-2, -3, -4]);
    expect(await other).toBe(-9);
  });
});
