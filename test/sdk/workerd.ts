// A Worker script inside workerd for the SDK tests: `wrangler dev --local` (wrangler bundles it as it would for a
// deploy) with a minimal wrangler.toml — no bindings, no compatibility flags, so no Node APIs — in a temp dir.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { wranglerEnv } from '../../scripts/lib/workerd-edge.ts';
import { ROOT } from '../helpers/processes.ts';

export interface RunningWorker {
  base: string;
  stop(): Promise<void>;
}

export async function startWorker(main: string, vars: Record<string, string>, timeoutMs = 90_000): Promise<RunningWorker> {
  const dir = mkdtempSync(join(tmpdir(), 'sdk-workerd-'));
  const config = join(dir, 'wrangler.toml');
  writeFileSync(config, `name = "sdk-test"\nmain = ${JSON.stringify(main)}\ncompatibility_date = "2026-04-01"\nsend_metrics = false\n`);
  writeFileSync(join(dir, '.dev.vars'), Object.entries(vars).map(([k, v]) => `${k}=${JSON.stringify(v)}\n`).join(''));
  const child = spawn(
    process.execPath,
    [join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'dev', '-c', config, '--local', '--ip', '127.0.0.1', '--port', '0', '--persist-to', join(dir, 'state'), '--show-interactive-dev-session=false'],
    {
      cwd: dir,
      detached: true, // its own process group: workerd goes with it
      stdio: ['ignore', 'pipe', 'pipe'],
      env: wranglerEnv(dir),
    },
  );
  let log = '';
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  const group = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
      return true;
    } catch {
      return false;
    }
  };
  const stop = async () => {
    if (group('SIGTERM')) await Promise.race([exited, new Promise((ok) => setTimeout(ok, 5000))]);
    // workerd may outlive wrangler by a moment.
    const deadline = Date.now() + 5000;
    while (group('SIGKILL') && Date.now() < deadline) await new Promise((ok) => setTimeout(ok, 50));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const base = await new Promise<string>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`wrangler dev not ready after ${timeoutMs} ms:\n${log}`)), timeoutMs);
      const onData = (b: Buffer) => {
        log += b.toString();
        const m = /Ready on (http:\/\/\S+)/.exec(log);
        if (m) {
          clearTimeout(timer);
          ok(m[1]!.replace(/\/+$/, ''));
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        fail(new Error(`wrangler dev exited with ${code}:\n${log}`));
      });
    });
    return { base, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
