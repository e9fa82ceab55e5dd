// Runs jobs on up to N child processes (each a TypeScript entry run through bin/run-ts.mjs), one job
// at a time per process, over the IPC channel: the parent sends {id, job}, the child answers
// {id, result} or {id, error}. Results come back in the jobs' order whatever the finishing order.
import { fork, type ChildProcess } from 'node:child_process';
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
  onResult?: (result: R, index: number) => void;
}

export async function runPool<J, R>(jobs: J[], o: PoolOptions<R>): Promise<R[]> {
  const results = new Array<R>(jobs.length);
  let next = 0;
  const children: ChildProcess[] = [];
  const worker = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const child = fork(RUN_TS, [o.entry, ...o.args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
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
        if (current >= 0 || code !== 0) reject(new Error(`worker exited (${signal ?? code}) ${current >= 0 ? `during job ${current}` : ''}`));
        else resolve();
      });
      child.on('error', reject);
      send();
    });
  const n = Math.max(1, Math.min(o.concurrency, jobs.length));
  try {
    await Promise.all(Array.from({ length: n }, worker));
  } catch (e) {
    for (const c of children) if (c.exitCode === null) c.kill();
    throw e;
  }
  return results;
}
