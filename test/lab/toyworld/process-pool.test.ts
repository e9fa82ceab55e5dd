import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
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

  it('gives each process its own scratch folder, kept while it works and removed after it exits', async () => {
    // The base-to-new benchmark once shared one folder between its processes and the first to finish
    // removed it under the others (ENOTEMPTY, a failed run).
    const root = mkdtempSync(join(tmpdir(), 'pool-'));
    try {
      const results = await runPool<number, { value: number; pid: number; dir?: string; files?: string[] }>([1, 2, 3, 4, 5, 6, 7], {
        entry: ENTRY,
        args: ['t3'],
        concurrency: 2,
        workDir: join(root, 'scratch'),
      });
      const dirs = new Set(results.map((r) => r.dir));
      expect(dirs.size).toBe(2);
      for (const d of dirs) expect(dirname(d!)).toBe(join(root, 'scratch'));
      // Each answer sees its own job's file and only files of its own process's jobs: the folder is
      // private and nobody removed it while the process worked.
      const jobsOf = (pid: number) => results.flatMap((r, i) => (r.pid === pid ? [`job-${i}`] : []));
      for (const [i, r] of results.entries()) {
        expect(r.files).toContain(`job-${i}`);
        expect(r.files!.filter((f) => !jobsOf(r.pid).includes(f))).toEqual([]);
      }
      for (const d of dirs) expect(existsSync(d!)).toBe(false);
      expect(readdirSync(join(root, 'scratch'))).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('rejects with the job and its error when a job fails', async () => {
    await expect(runPool<number, unknown>([1, -2, 3], { entry: ENTRY, args: ['t2'], concurrency: 2 })).rejects.toThrow(/job 1 failed: negative input -2/);
  });
});
