// Real child processes for end-to-end tests: launch a Node entry, collect its output lines, wait for a line.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => ok(port));
    });
  });
}

export interface Launched {
  child: ChildProcess;
  /** stdout and stderr, line by line, in arrival order. */
  lines: string[];
  /** Resolves with the match of the first line (from index `from`) matching `re`. */
  waitFor(re: RegExp, timeoutMs?: number, from?: number): Promise<RegExpMatchArray>;
  /** The exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

/** Starts `node <args>` in the repo root; `args` are relative to it (e.g. bin/start.mjs). */
export function launch(args: string[], env: NodeJS.ProcessEnv): Launched {
  const child = spawn(process.execPath, [join(ROOT, args[0]!), ...args.slice(1)], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const buffers = { out: '', err: '' };
  const onData = (which: 'out' | 'err') => (chunk: Buffer) => {
    buffers[which] += chunk.toString('utf8');
    let i: number;
    while ((i = buffers[which].indexOf('\n')) >= 0) {
      lines.push(buffers[which].slice(0, i));
      buffers[which] = buffers[which].slice(i + 1);
    }
    for (const w of waiters) w();
  };
  child.stdout!.on('data', onData('out'));
  child.stderr!.on('data', onData('err'));
  const exited = new Promise<number | null>((ok) =>
    child.once('exit', (code) => {
      for (const which of ['out', 'err'] as const) if (buffers[which]) lines.push(buffers[which]);
      ok(code);
    }),
  );
  return {
    child,
    lines,
    exited,
    waitFor(re, timeoutMs = 20_000, from = 0) {
      return new Promise((ok, fail) => {
        const check = () => {
          for (let i = from; i < lines.length; i++) {
            const m = lines[i]!.match(re);
            if (m) {
              waiters.delete(check);
              clearTimeout(timer);
              ok(m);
              return;
            }
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          fail(new Error(`timed out waiting for ${re}; output:\n${lines.slice(-40).join('\n')}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}

/** The environment of a test launch: the parent's, without settings that would point it elsewhere. */
export function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['ADMIN_TOKEN', 'WORKER_TOKEN', 'S3_BUCKET', 'S3_ENDPOINT', 'S3_PORT', 'INFERENCE_PORT', 'WORK_DIR', 'EDGE_URL', 'WORKER_ID']) delete env[k];
  return { ...env, ...extra };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
