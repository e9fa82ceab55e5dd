import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPool } from '../../../lab/toyworld/process-pool.ts';
import { REPO_ROOT } from '../../helpers/cli.ts';

const ENTRY = join(REPO_ROOT, 'test/lab/toyworld/fixtures/square-worker.ts');

describe('process pool', () => {
  it('runs every job once on at most N processes and returns the results in job order', async () => {
    const seen: number[] = [];
    const results = await runPool<number, { value: number; tag: string; pid: number }>([1, 2, 3, 4, 5, 6, 7], {
      entry: ENTRY,
      args: ['t1'],
      concurrency: 2,
      onResult: (_, i) => seen.push(i),
    });
    expect(results.map((r) => r.value)).toEqual([1, 4, 9, 16, 25, 36, 49]);
    expect(results.every((r) => r.tag === 't1')).toBe(true);
    expect(new Set(results.map((r) => r.pid)).size).toBe(2);
    expect([...seen].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('rejects with the job and its error when a job fails', async () => {
    await expect(runPool<number, unknown>([1, -2, 3], { entry: ENTRY, args: ['t2'], concurrency: 2 })).rejects.toThrow(/job 1 failed: negative input -2/);
  });
});
