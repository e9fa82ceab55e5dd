// Runs the real `cocoop` command (bin/cocoop.mjs → gpu-worker/cli.ts) in a child process.
import { execFile } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = join(REPO_ROOT, 'bin/cocoop.mjs');
export const CLIP_VOCAB = resolve(REPO_ROOT, 'models/clip-vocab');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `env` is added to the test process's environment (COCOOP_DEBUG is cleared unless given). */
export function cocoop(args: string[], timeoutMs = 110_000, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: REPO_ROOT, maxBuffer: 64 << 20, timeout: timeoutMs, env: { ...process.env, COCOOP_DEBUG: '', ...env } },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
        done({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** Runs the command, expects exit 0 and exactly one JSON document on stdout. */
export async function cocoopJson<T>(args: string[], timeoutMs?: number): Promise<T> {
  const r = await cocoop(args, timeoutMs);
  if (r.code !== 0) throw new Error(`cocoop ${args.join(' ')} → exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
