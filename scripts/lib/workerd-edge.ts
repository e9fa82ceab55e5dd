// The Workers build of the edge inside workerd: `wrangler dev --local` on a copy of infra/cloudflare/wrangler.toml
// (paths made absolute, optionally edited), vars and secrets in a generated .dev.vars (mode 0600) next to it, local
// D1 (migrations applied before start), KV and Queues persisted under `stateDir`; wrangler's own config, logs and
// cache under `dir`, metrics and error reports off. Used by the local stack (`npm start -- --edge workerd`,
// scripts/start-local.ts) and by the tests of the Workers build (test/helpers/wrangler-dev.ts).
//
// wrangler runs in its own process group (it starts workerd as its child): stop() signals the group, SIGTERM then
// SIGKILL.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WRANGLER = join(ROOT, 'node_modules/wrangler/bin/wrangler.js');
export const WRANGLER_TOML = join(ROOT, 'infra/cloudflare/wrangler.toml');
/** The `[build]` table of wrangler.toml, up to the next table. */
const BUILD_SECTION = /^\[build\]\n(?:(?!\[)[^\n]*\n)*/m;

/** Runs wrangler.toml's `[build] command` from the repository root, as wrangler would; nothing when it has none. */
export async function runCustomBuild(env: NodeJS.ProcessEnv): Promise<void> {
  const section = readFileSync(WRANGLER_TOML, 'utf8').match(BUILD_SECTION)?.[0] ?? '';
  const command = section.match(/^command\s*=\s*"([^"]+)"/m)?.[1];
  if (command) await promisify(execFile)('sh', ['-c', command], { cwd: ROOT, env, timeout: 300_000 });
}

/** A TCP port free on 127.0.0.1 now (for wrangler's devtools inspector, which would otherwise take 9229). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok, fail) => server.once('error', fail).listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((ok) => server.close(() => ok()));
  return port;
}

export interface WorkerdEdgeOptions {
  /** Where the generated wrangler.toml, .dev.vars, wrangler's config, logs and cache go (created if missing). */
  dir: string;
  /** The persisted state of D1, KV and Queues (`--persist-to`). */
  stateDir: string;
  /** .dev.vars: vars and secrets. */
  vars: Record<string, string>;
  /** Changes to the text of wrangler.toml before it is used (e.g. other limits). */
  editConfig?: (toml: string) => string;
  /** Serve /__scheduled, which runs the cron trigger (`wrangler dev --test-scheduled`). */
  testScheduled?: boolean;
  host?: string;
  /** 0 (the default) lets wrangler pick a free port. */
  port?: number;
  /** Every output line of wrangler and workerd, as it arrives. */
  onLine?: (line: string) => void;
  readyTimeoutMs?: number;
}

export interface WorkerdEdge {
  /** e.g. http://127.0.0.1:8787 */
  base: string;
  child: ChildProcess;
  /** All output so far. */
  log(): string;
  /** Resolves with the exit code (null on a signal) when wrangler exits. */
  exited: Promise<number | null>;
  /** SIGTERM to the process group, SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** The environment wrangler runs with: no prompts, metrics, colours or network look-ups; its files under `dir`. */
export function wranglerEnv(dir: string): NodeJS.ProcessEnv {
  return {
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
}

/** Writes `dir`/wrangler.toml (paths absolute, edited) and `dir`/.dev.vars; the config's path. */
export function writeWranglerConfig(dir: string, vars: Record<string, string>, editConfig?: (toml: string) => string): string {
  mkdirSync(join(dir, 'config'), { recursive: true });
  const src = readFileSync(WRANGLER_TOML, 'utf8').replace(
    /^(\s*(?:main|migrations_dir|directory|watch_dir)\s*=\s*)"([^"]+)"/gm,
    (_, k: string, p: string) => `${k}${JSON.stringify(resolve(ROOT, 'infra/cloudflare', p))}`,
  )
    // The custom build (the web console) runs once before wrangler starts (runCustomBuild), not under wrangler: wrangler
    // watches its build folder and rebuilds and restarts on any event there, and a restart re-binds the devtools
    // inspector, failing when another wrangler dev holds that port (seen in CI, even for an empty watched folder).
    .replace(BUILD_SECTION, '');
  const config = join(dir, 'wrangler.toml');
  writeFileSync(config, editConfig ? editConfig(src) : src);
  const devVars = Object.entries(vars).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join('\n') + '\n';
  writeFileSync(join(dir, '.dev.vars'), devVars, { mode: 0o600 });
  return config;
}

/** Sends `signal` to the process group `child` leads; false when it is gone. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): boolean {
  if (child.pid === undefined) return false;
  try {
    process.kill(-child.pid, signal);
    return true;
  } catch {
    return false;
  }
}

export async function startWorkerdEdge(opts: WorkerdEdgeOptions): Promise<WorkerdEdge> {
  const { dir, stateDir } = opts;
  const config = writeWranglerConfig(dir, opts.vars, opts.editConfig);
  const env = wranglerEnv(dir);
  mkdirSync(stateDir, { recursive: true });
  // Applies only the migrations the persisted database has not had yet.
  await promisify(execFile)(process.execPath, [WRANGLER, 'd1', 'migrations', 'apply', 'DB', '--local', '--persist-to', stateDir, '-c', config], {
    cwd: dir,
    env,
    timeout: 60_000,
  });
  await runCustomBuild(env);
  const inspectorPort = await freePort();
  const child = spawn(
    process.execPath,
    [
      WRANGLER, 'dev', '-c', config, '--local', '--ip', opts.host ?? '127.0.0.1', '--port', String(opts.port ?? 0), '--persist-to', stateDir,
      '--show-interactive-dev-session=false', '--inspector-port', String(inspectorPort), ...(opts.testScheduled ? ['--test-scheduled'] : []),
    ],
    { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let log = '';
  let partial = '';
  const listeners = new Set<() => void>();
  const onData = (b: Buffer) => {
    const text = b.toString();
    log += text;
    if (opts.onLine) {
      partial += text;
      let i: number;
      while ((i = partial.indexOf('\n')) >= 0) {
        opts.onLine(partial.slice(0, i));
        partial = partial.slice(i + 1);
      }
    }
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));

  let stopping: Promise<void> | null = null;
  const stop = (graceMs = 5000) => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (!signalGroup(child, 'SIGTERM')) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((ok) => (timer = setTimeout(ok, graceMs)))]);
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) {
        signalGroup(child, 'SIGKILL');
        await exited;
      }
      // workerd may outlive wrangler by a moment: the group gets SIGKILL until it is empty (at most 5 s more).
      const deadline = Date.now() + 5000;
      while (signalGroup(child, 'SIGKILL') && Date.now() < deadline) await new Promise((ok) => setTimeout(ok, 50));
    })();
    return stopping;
  };

  const timeoutMs = opts.readyTimeoutMs ?? 60_000;
  try {
    const base = await new Promise<string>((ok, fail) => {
      const timer = setTimeout(() => done(new Error(`wrangler dev not ready after ${timeoutMs / 1000} s:\n${log}`)), timeoutMs);
      const check = () => {
        const m = /Ready on (http:\/\/[^\s]+)/.exec(log);
        if (m) done(undefined, m[1]!.replace(/\/+$/, ''));
      };
      const onExit = (code: number | null) => done(new Error(`wrangler dev exited with ${code}:\n${log}`));
      const done = (err?: Error, url?: string) => {
        clearTimeout(timer);
        listeners.delete(check);
        child.off('exit', onExit);
        if (err) fail(err);
        else ok(url!);
      };
      listeners.add(check);
      child.once('exit', onExit);
      check();
    });
    return { base, child, log: () => log, exited, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
