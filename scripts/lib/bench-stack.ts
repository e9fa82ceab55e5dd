// A local stack for benchmarks: `npm start` (bin/start.mjs) as a child process in a temporary DATA_DIR on a free
// port, plus what a benchmark needs from it: a tenant, a trained model, toy-world images, the machine's name. The
// launcher runs with --expose-gc and an IPC channel, so the benchmark can read the memory of the edge and the s3
// process after a forced garbage collection (scripts/start-local.ts, "Memory sampling").
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toyImageSet } from '../../lab/toyworld/image-sets.ts';
import { encodePng } from '../../lab/toyworld/png.ts';
import type { StackMemorySample } from '../start-local.ts';
import { apiCall } from './api-call.ts';

export { apiCall };

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export function machineName(): string {
  return `${(cpus()[0]?.model ?? 'unknown CPU').trim()}, ${availableParallelism()} cores, Node ${process.version}`;
}

export interface BenchStack {
  url: string;
  admin: string;
  dataDir: string;
  /** The stack's output lines (prefixed [s3] [edge] [worker] [local]). */
  lines: string[];
  /** Pids of the launcher (the edge) and of its current s3 and worker processes (for memory sampling). */
  pids(): { launcher: number; s3: number | null; worker: number | null };
  /** Memory of the edge and the s3 process, each after a forced full GC (over IPC). */
  memory(): Promise<StackMemorySample>;
  /** Writes a V8 heap snapshot of the edge process to `file`; resolves with its path. */
  heapSnapshot(file: string): Promise<string>;
  stop(): Promise<void>;
}

/** Starts the local stack with `env` added to the environment; resolves when its worker polls for jobs. */
export async function startBenchStack(env: NodeJS.ProcessEnv = {}, log: (line: string) => void = () => {}): Promise<BenchStack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cocoop-bench-'));
  const child: ChildProcess = spawn(process.execPath, ['--expose-gc', join(ROOT, 'bin/start.mjs')], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: dataDir, PORT: '0', ADMIN_TOKEN: '', WORKER_TOKEN: '', INFERENCE_PORT: '', S3_PORT: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let nextId = 1;
  /** One IPC request to the launcher; resolves with the answer of the same id. */
  const ask = <T>(msg: Record<string, unknown>, timeoutMs: number): Promise<T> =>
    new Promise((ok, fail) => {
      const id = nextId++;
      const timer = setTimeout(() => done(new Error(`no answer to ${String(msg.type)} in ${timeoutMs / 1000} s`)), timeoutMs);
      const onMessage = (m: { type?: string; id?: number; message?: string }) => {
        if (m?.id !== id) return;
        if (m.type === 'error') done(new Error(m.message));
        else done(undefined, m as T);
      };
      const done = (err?: Error, value?: T) => {
        clearTimeout(timer);
        child.off('message', onMessage);
        if (err) fail(err);
        else ok(value!);
      };
      child.on('message', onMessage);
      child.send({ ...msg, id });
    });
  const lines: string[] = [];
  let buf = '';
  let onLine: (() => void) | null = null;
  const take = (chunk: Buffer) => {
    buf += chunk.toString('utf8');
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      lines.push(line);
      log(line);
      buf = buf.slice(i + 1);
    }
    onLine?.();
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));

  const waitFor = (re: RegExp, timeoutMs: number) =>
    new Promise<RegExpMatchArray>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`the local stack did not print ${re} within ${timeoutMs / 1000} s:\n${lines.slice(-20).join('\n')}`)), timeoutMs);
      onLine = () => {
        for (const l of lines) {
          const m = l.match(re);
          if (m) {
            clearTimeout(timer);
            onLine = null;
            ok(m);
            return;
          }
        }
      };
      onLine();
    });
  const url = (await waitFor(/ready at (http:\/\/\S+)/, 90_000))[1]!;
  await waitFor(/^\[worker\] worker \S+: polling for jobs/, 90_000);
  const admin = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  return {
    url,
    admin,
    dataDir,
    lines,
    pids() {
      const last = (prefix: string) => {
        const pids = lines.map((l) => l.match(new RegExp(`^\\[${prefix}\\] pid (\\d+)$`))?.[1]).filter((x): x is string => !!x);
        return pids.length ? Number(pids.at(-1)) : null;
      };
      return { launcher: child.pid!, s3: last('s3'), worker: last('worker') };
    },
    memory: () => ask<StackMemorySample>({ type: 'memory-sample' }, 15_000),
    heapSnapshot: async (file) => (await ask<{ file: string }>({ type: 'heap-snapshot', file }, 300_000)).file,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A new tenant's API key, with its rate limit as the stack configured it. */
export async function benchTenant(stack: BenchStack, name = 'bench'): Promise<string> {
  return (await apiCall<{ api_key: string }>(stack.url, stack.admin, 'POST', '/v1/tenants', { name })).api_key;
}

/** Night-domain toy images as base64 PNGs with their labels. */
export async function nightImages(classes: string[], perClass: number, seed: number, split: 'train' | 'test' = 'test'): Promise<{ label: string; png: Buffer }[]> {
  const set = await toyImageSet('night', split, seed, classes, perClass, 48);
  return Promise.all(set.images.map(async (img, i) => ({ label: set.classNames[set.labels[i]!]!, png: await encodePng(img) })));
}

/** Uploads a few-shot night dataset and trains a model on it; returns the model id. */
export async function trainBenchModel(
  stack: BenchStack,
  key: string,
  o: { classes: string[]; shots: number; epochs: number; method: 'cocoop' | 'coop' },
): Promise<string> {
  const ds = await apiCall<{ id: string }>(stack.url, key, 'POST', '/v1/datasets', { name: 'bench' });
  const images = await nightImages(o.classes, o.shots, 1, 'train');
  for (const label of o.classes) {
    const form = new FormData();
    form.append('label', label);
    images.filter((x) => x.label === label).forEach((x, i) => form.append('file', new Blob([new Uint8Array(x.png)], { type: 'image/png' }), `${i}.png`));
    await apiCall(stack.url, key, 'POST', `/v1/datasets/${ds.id}/images`, form);
  }
  await apiCall(stack.url, key, 'POST', `/v1/datasets/${ds.id}/finalize`);
  const job = await apiCall<{ id: string }>(stack.url, key, 'POST', '/v1/training-jobs', {
    dataset_id: ds.id,
    method: o.method,
    hyperparameters: { epochs: o.epochs, shots: o.shots, crop_scale: [0.5, 1] },
  });
  for (;;) {
    const j = await apiCall<{ status: string; model_id: string | null; error: unknown }>(stack.url, key, 'GET', `/v1/training-jobs/${job.id}`);
    if (j.status === 'succeeded') return j.model_id!;
    if (j.status === 'failed' || j.status === 'cancelled') throw new Error(`bench model job ${job.id} ${j.status}: ${JSON.stringify(j.error)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Resident set size of a process in MB (Linux /proc), or null when it is gone. */
export function rssMb(pid: number): number | null {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}
