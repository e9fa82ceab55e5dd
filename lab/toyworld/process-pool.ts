// Runs jobs on up to N child processes (each a TypeScript entry run through bin/run-ts.mjs), one job
// at a time per process, over the IPC channel: the parent sends {id, job}, the child answers
// {id, result} or {id, error}. Results come back in the jobs' order whatever the finishing order.
// With `workDir`, child i gets its own folder workDir/worker-i as its last argument; the pool removes it
// when that child has exited (children finish at different times, so a shared folder would be removed
// under a child still writing to it).
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RUN_TS = join(fileURLToPath(new URL('../..', import.meta.url)), 'bin', 'run-ts.mjs');

export type PoolRequest<J> = { id: number; job: J };
export type PoolReply<R> = { id: number; result: R } | { id: number; error: string };

export interface PoolOptions<R> {
  /** The worker entry file (answers PoolRequest messages with PoolReply messages). */
  entry: string;
  args: string[];
  concurrency: number;
  /** A folder under which each child gets a private scratch folder (passed as its last argument). */
  workDir?: string;
  onResult?: (result: R, index: number) => void;
}

export async function runPool<J, R>(jobs: J[], o: PoolOptions<R>): Promise<R[]> {
  const results = new Array<R>(jobs.length);
  let next = 0;
  const children: ChildProcess[] = [];
  const worker = (index: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const dir = o.workDir === undefined ? undefined : join(o.workDir, `worker-${index}`);
      if (dir) mkdirSync(dir, { recursive: true });
      const child = fork(RUN_TS, [o.entry, ...o.args, ...(dir ? [dir] : [])], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(child);
      let current = -1;
      const send = () => {
        if (next >= jobs.length) {
          child.disconnect();
          return;
        }
        current = next++;
        child.send({ id: current, job: jobs[current] } satisfies PoolRequest<J>);
      };
      child.on('message', (msg: PoolReply<R>) => {
        if ('error' in msg) {
          reject(new Error(`job ${msg.id} failed: ${msg.error}`));
          child.kill();
          return;
        }
        results[msg.id] = msg.result;
        o.onResult?.(msg.result, msg.id);
        current = -1;
        send();
      });
      child.on('exit', (code, signal) => {
        if (dir) rmSync(dir, { recursive: true, force: true });
        if (current >= 0 || code !== 0) reject(new Error(`worker exited (${signal ?? code}) ${current >= 0 ? `during job ${current}` : ''}`));
        else resolve();
      });
      child.on('error', reject);
      send();
    });
  const n = Math.max(1, Math.min(o.concurrency, jobs.length));
  try {
    await Promise.all(Array.from({ length: n }, (_, i) => worker(i)));
  } catch (e) {
    for (const c of children) if (c.exitCode === null) c.kill();
    throw e;
  }
  return results;
}
