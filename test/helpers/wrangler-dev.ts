// The Workers build of the edge inside workerd: `wrangler dev` (local mode) on infra/cloudflare/wrangler.toml,
// with local D1 (migrations applied) and KV, its state, logs and config in a temp dir, metrics off.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WRANGLER = join(ROOT, 'node_modules/wrangler/bin/wrangler.js');

export interface WranglerDev {
  base: string;
  log(): string;
  stop(): Promise<void>;
}

export interface WranglerDevOptions {
  /** .dev.vars: vars and secrets. */
  vars: Record<string, string>;
  /** Changes to the text of wrangler.toml before it is used (e.g. smaller limits). */
  editConfig?: (toml: string) => string;
}

export async function startWranglerDev(opts: WranglerDevOptions): Promise<WranglerDev> {
  const dir = mkdtempSync(join(tmpdir(), 'wrangler-dev-'));
  mkdirSync(join(dir, 'config'));
  const src = readFileSync(join(ROOT, 'infra/cloudflare/wrangler.toml'), 'utf8').replace(
    /^(\s*(?:main|migrations_dir)\s*=\s*)"([^"]+)"/gm,
    (_, k: string, p: string) => `${k}${JSON.stringify(resolve(ROOT, 'infra/cloudflare', p))}`,
  );
  const config = join(dir, 'wrangler.toml');
  writeFileSync(config, opts.editConfig ? opts.editConfig(src) : src);
  writeFileSync(join(dir, '.dev.vars'), Object.entries(opts.vars).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join('\n') + '\n');
  const env = {
    ...process.env,
    CI: 'true',
    WRANGLER_SEND_METRICS: 'false',
    WRANGLER_SEND_ERROR_REPORTS: 'false',
    CLOUDFLARE_CF_FETCH_ENABLED: 'false',
    XDG_CONFIG_HOME: join(dir, 'config'),
    WRANGLER_LOG_PATH: join(dir, 'logs'),
    WRANGLER_CACHE_DIR: join(dir, 'cache'),
    NO_COLOR: '1',
    FORCE_COLOR: '0',
  };
  const state = join(dir, 'state');
  await promisify(execFile)(process.execPath, [WRANGLER, 'd1', 'migrations', 'apply', 'DB', '--local', '--persist-to', state, '-c', config], {
    cwd: dir,
    env,
    timeout: 30_000,
  });
  const child: ChildProcess = spawn(
    process.execPath,
    [WRANGLER, 'dev', '-c', config, '--ip', '127.0.0.1', '--port', '0', '--persist-to', state, '--show-interactive-dev-session=false'],
    { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let log = '';
  const stop = async () => {
    if (child.pid !== undefined && child.exitCode === null) {
      const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
      process.kill(-child.pid, 'SIGTERM'); // the child leads its own process group: wrangler and its workerd
      await Promise.race([exited, new Promise((ok) => setTimeout(ok, 5000))]);
      if (child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const base = await new Promise<string>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`wrangler dev not ready after 40 s:\n${log}`)), 40_000);
      const onData = (b: Buffer) => {
        log += b.toString();
        const m = /Ready on (http:\/\/[^\s]+)/.exec(log);
        if (m) {
          clearTimeout(timer);
          ok(m[1].replace(/\/+$/, ''));
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        fail(new Error(`wrangler dev exited with ${code}:\n${log}`));
      });
    });
    return { base, log: () => log, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
