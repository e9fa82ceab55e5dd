// The local stack behind `npm start` (API.md "Local mode"): an S3-protocol server on disk (s3rver) in its own
// process, the edge on Node with SQLite in this one, and one worker process (trainer + inference server,
// gpu-worker/worker-process.ts). Both child processes are supervised: restarted with a backoff when they die, stopped
// (SIGTERM, then SIGKILL) on stop.
// `--edge workerd` (or EDGE_RUNTIME=workerd) runs the edge's Workers build inside workerd instead (`wrangler dev
// --local`, D1, KV and Queues persisted in ${DATA_DIR}/workerd; scripts/lib/local-workerd.ts), also supervised.
//
// Environment: PORT (default 8787; 0 picks a free port), HOST (default 127.0.0.1), ADMIN_TOKEN (if unset: read from
// or generated into ${DATA_DIR}/admin-token and printed), DATA_DIR (default .data), CLIP_MODEL_DIR (default
// models/toy-clip), INFERENCE_PORT and S3_PORT (default: free ports). Other edge / worker settings pass through
// (RATE_LIMIT_*, QUOTA_*, POLL_MS, COCOOP_TF_BACKEND, ...). When ready it writes ${DATA_DIR}/stack.json (URLs, S3 settings)
// for `npm run worker` and `npm run demo`, and removes it on stop.
// Logs are prefixed per component: [s3] [edge] [worker] [local]. SIGINT / SIGTERM stop everything, exit 0.
//
// Memory sampling (for benchmarks, scripts/bench-load.ts): only when this process was spawned with an IPC channel
// (a parent passing 'ipc' in stdio; `npm start` from a shell has none) it answers { type: 'memory-sample', id } with
// the memory of the edge (this process) and of the s3 process, each read after a forced full garbage collection when
// the process runs with --expose-gc (the s3 process gets the flag when this one has it), and the pids of the parts;
// { type: 'heap-snapshot', id, file } writes a V8 heap snapshot of the edge to `file`. Nothing of it is reachable
// over HTTP.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeHeapSnapshot } from 'node:v8';
import { configFromEnv } from '../edge/config.ts';
import { adminToken, startEdge, workerToken, webhookSettingsFromEnv, type RunningEdge } from '../edge/node/server.ts';
import type { S3BlobStoreOptions } from '../shared/storage/s3-blob-store.ts';
import { portFromEnv } from '../shared/util/env.ts';
import { buildConsole } from './build-console.ts';
import { startLocalWorkerd } from './lib/local-workerd.ts';
import { memorySample, type MemorySample } from './lib/s3-process.ts';
import { removeStackInfo, writeStackInfo } from './local-stack-file.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BUCKET = 'cocoop';

/** The answer to a { type: 'memory-sample' } IPC message. */
export interface StackMemorySample {
  type: 'memory-sample';
  id: number;
  edge: MemorySample;
  /** null when the s3 process did not answer within 5 s (restarting, or gone). */
  s3: MemorySample | null;
  /** edge: this process on Node; the wrangler process (leading the group with workerd) with --edge workerd. */
  pids: { edge: number | null; s3: number | null; worker: number | null };
}

function logger(prefix: string): (line: string) => void {
  return (line) => process.stdout.write(`${prefix} ${line}\n`);
}
const logLocal = logger('[local]');
const logS3 = logger('[s3]');
const logEdge = logger('[edge]');
const logWorker = logger('[worker]');

/** Forwards a stream line by line with a prefix. */
function pipeLines(stream: NodeJS.ReadableStream | null, log: (line: string) => void): void {
  if (!stream) return;
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      log(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  stream.on('end', () => {
    if (buf) log(buf);
    buf = '';
  });
}

function freePort(host: string): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, host, () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => ok(port));
    });
  });
}

/** Keeps one child process running: restarts it with a backoff when it dies. */
class Supervisor {
  child: ChildProcess | null = null;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private backoffMs = 500;
  private startedAt = 0;

  constructor(
    private readonly log: (line: string) => void,
    private readonly nodeArgs: string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly ipc = false,
  ) {}

  start(): ChildProcess | null {
    if (this.stopping) return null;
    const child = spawn(process.execPath, this.nodeArgs, {
      cwd: ROOT,
      env: this.env,
      stdio: this.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.startedAt = Date.now();
    this.log(`pid ${child.pid}`);
    pipeLines(child.stdout, this.log);
    pipeLines(child.stderr, this.log);
    child.once('error', (err) => this.log(`spawn failed: ${err.message}`));
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      if (this.stopping) return;
      // A child that ran a while gets the short backoff again.
      if (Date.now() - this.startedAt > 60_000) this.backoffMs = 500;
      this.log(`pid ${child.pid} exited (${signal ? `signal ${signal}` : `code ${code}`}); restarting in ${this.backoffMs} ms`);
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        this.start();
      }, this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, 30_000);
    });
    return child;
  }

  /** SIGTERM to the child, SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((ok) => {
      const timer = setTimeout(() => {
        this.log(`pid ${child.pid} did not stop in ${graceMs} ms; killing it`);
        child.kill('SIGKILL');
      }, graceMs);
      child.once('exit', () => {
        clearTimeout(timer);
        ok();
      });
      child.kill('SIGTERM');
    });
  }
}

/** Resolves when `child` sends { type: 'ready' }; rejects if it exits first or takes longer than `timeoutMs`. */
function childReady(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => done(new Error(`not ready within ${timeoutMs / 1000} s`)), timeoutMs);
    const onMessage = (msg: { type?: string }) => {
      if (msg?.type === 'ready') done();
    };
    const onExit = (code: number | null, signal: string | null) => done(new Error(`exited before it was ready (${signal ? `signal ${signal}` : `code ${code}`})`));
    const done = (err?: Error) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) fail(err);
      else ok();
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** The memory sample of the s3 child, or null when it does not answer in 5 s. */
function childMemory(child: ChildProcess | null, id: number): Promise<MemorySample | null> {
  if (!child || !child.connected) return Promise.resolve(null);
  return new Promise((ok) => {
    const timer = setTimeout(() => done(null), 5000);
    const onMessage = (msg: { type?: string; id?: number; sample?: MemorySample }) => {
      if (msg?.type === 'memory-sample' && msg.id === id) done(msg.sample ?? null);
    };
    const done = (sample: MemorySample | null) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      ok(sample);
    };
    child.on('message', onMessage);
    child.send({ type: 'memory-sample', id }, (err) => {
      if (err) done(null);
    });
  });
}

/** The origins a browser may load the console from on this machine (the S3 server's CORS rule allows exactly these). */
export function consoleOrigins(host: string, port: number): string[] {
  const origins = [`http://127.0.0.1:${port}`, `http://localhost:${port}`];
  const wildcard = host === '0.0.0.0' || host === '::' || host === '127.0.0.1' || host === 'localhost';
  if (!wildcard) origins.push(`http://${host.includes(':') ? `[${host}]` : host}:${port}`);
  return origins;
}

export interface LocalStack {
  url: string;
  stop(): Promise<void>;
  /** Memory of this process (the edge on Node) and the s3 process, each after a forced GC when possible. */
  memory(id?: number): Promise<StackMemorySample>;
}

export type EdgeRuntime = 'node' | 'workerd';

/** The edge runtime from `--edge <node|workerd>` / `--edge=<...>` in `argv`, else EDGE_RUNTIME, else node. */
export function edgeRuntimeFrom(argv: string[], env: NodeJS.ProcessEnv): EdgeRuntime {
  let value = env.EDGE_RUNTIME || 'node';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--edge') value = argv[++i] ?? '';
    else if (a.startsWith('--edge=')) value = a.slice('--edge='.length);
    else throw new Error(`unknown argument ${JSON.stringify(a)} (usage: npm start -- [--edge node|workerd])`);
  }
  if (value !== 'node' && value !== 'workerd') throw new Error(`--edge must be node or workerd, got ${JSON.stringify(value)}`);
  return value;
}

export async function startLocal(env: NodeJS.ProcessEnv = process.env, runtime: EdgeRuntime = 'node'): Promise<LocalStack> {
  const dataDir = resolve(env.DATA_DIR || '.data');
  // The AWS SDK's multi-line notice that its 2027 releases need Node >= 22 (our versions are pinned; see
  // docs/deploy.md): muted in the local stack's logs unless the user set the variable.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const host = env.HOST || '127.0.0.1';
  // A free port is chosen here rather than by the edge: the S3 server's CORS rule names the edge's origin.
  const requestedPort = portFromEnv(env, 'PORT', 8787);
  const port = requestedPort === 0 ? await freePort(host) : requestedPort;
  const modelDir = resolve(env.CLIP_MODEL_DIR || join(ROOT, 'models/toy-clip'));
  mkdirSync(join(dataDir, 's3'), { recursive: true });

  // Tokens: the edge's own helpers (env, else ${DATA_DIR}/admin-token / worker-token, else generated there).
  const admin = adminToken(env, dataDir);
  const worker = workerToken(env, dataDir);

  // s3rver in its own process, on a fixed port (a restarted s3 process must come back where the edge and the worker
  // look for it).
  const s3Port = env.S3_PORT ? portFromEnv(env, 'S3_PORT', 0) : await freePort('127.0.0.1');
  const s3endpoint = `http://127.0.0.1:${s3Port}`;
  const gcFlag = process.execArgv.includes('--expose-gc') ? ['--expose-gc'] : [];
  const s3supervisor = new Supervisor(
    logS3,
    [...gcFlag, join(ROOT, 'bin/run-ts.mjs'), join(ROOT, 'scripts/lib/s3-process.ts')],
    { ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED, S3_DIR: join(dataDir, 's3'), S3_PORT: String(s3Port), S3_BUCKET: BUCKET, S3_CORS_ORIGINS: consoleOrigins(host, port).join(',') },
    true,
  );
  try {
    await childReady(s3supervisor.start()!, 30_000);
  } catch (err) {
    await s3supervisor.stop();
    throw new Error(`the s3 process: ${err instanceof Error ? err.message : String(err)}`);
  }
  const s3: S3BlobStoreOptions = {
    endpoint: s3endpoint,
    bucket: BUCKET,
    region: 'us-east-1',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    forcePathStyle: true,
  };

  // The web console at /console (docs/console.md), built unless up to date; the stack runs without it if that fails.
  try {
    const built = await buildConsole();
    logLocal(`web console ${built.built ? 'built' : 'up to date'} (${relative(ROOT, built.dir)})`);
  } catch (err) {
    logLocal(`web console build failed (/console will answer 404): ${err instanceof Error ? err.message : String(err)}`);
  }

  const inferencePort = env.INFERENCE_PORT ? portFromEnv(env, 'INFERENCE_PORT', 0) : await freePort('127.0.0.1');
  const inferenceUrl = `http://127.0.0.1:${inferencePort}`;

  let edge: { url: string; close(): Promise<void>; pid(): number | null };
  try {
    if (runtime === 'workerd') {
      const w = await startLocalWorkerd({
        dataDir,
        host,
        port,
        adminToken: admin.token,
        workerToken: worker,
        s3: { endpoint: s3endpoint, bucket: BUCKET, region: s3.region, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        inferenceUrl,
        env,
        log: logEdge,
      });
      edge = { url: w.url, close: () => w.stop(), pid: w.pid };
      logEdge(`listening on ${edge.url} (workerd; D1, KV and Queues: ${join(dataDir, 'workerd/state')}, inference: ${inferenceUrl})`);
    } else {
      const config = configFromEnv(env, { adminToken: admin.token, workerToken: worker, localMode: true, inferenceUrl });
      const running: RunningEdge = await startEdge({ dataDir, port, hostname: host, config, s3, webhooks: webhookSettingsFromEnv(env, config) });
      edge = { url: running.url, close: () => running.close(), pid: () => process.pid };
      logEdge(`listening on ${edge.url} (SQLite: ${join(dataDir, 'edge.sqlite')}, inference: ${inferenceUrl})`);
    }
  } catch (err) {
    await s3supervisor.stop();
    throw err;
  }

  const supervisor = new Supervisor(logWorker, [join(ROOT, 'bin/run-ts.mjs'), join(ROOT, 'gpu-worker/worker-process.ts')], {
    ...env,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED,
    EDGE_URL: edge.url,
    WORKER_TOKEN: worker,
    MODEL_DIR: modelDir,
    S3_ENDPOINT: s3endpoint,
    S3_BUCKET: BUCKET,
    S3_ACCESS_KEY_ID: 'S3RVER',
    S3_SECRET_ACCESS_KEY: 'S3RVER',
    S3_REGION: 'us-east-1',
    S3_FORCE_PATH_STYLE: '1',
    INFERENCE_PORT: String(inferencePort),
    INFERENCE_HOST: '127.0.0.1',
    WORK_DIR: env.WORK_DIR || join(dataDir, 'worker'),
  });
  supervisor.start();

  writeStackInfo(dataDir, {
    edge_url: edge.url,
    edge_runtime: runtime,
    inference_url: inferenceUrl,
    model_dir: modelDir,
    s3: { endpoint: s3endpoint, bucket: BUCKET, region: 'us-east-1', access_key_id: 'S3RVER', secret_access_key: 'S3RVER' },
    pid: process.pid,
    started_at: new Date().toISOString(),
  });
  if (admin.generated) logLocal(`admin token (also in ${join(dataDir, 'admin-token')}): ${admin.token}`);
  logLocal(`cocoop local stack ready at ${edge.url} (edge: ${runtime}, data: ${dataDir}, model: ${modelDir})`);
  logLocal(`web console: ${edge.url}/console`);

  let stopped: Promise<void> | null = null;
  return {
    url: edge.url,
    async memory(id = 0) {
      const s3Sample = await childMemory(s3supervisor.child, id);
      return {
        type: 'memory-sample',
        id,
        edge: memorySample(),
        s3: s3Sample,
        pids: { edge: edge.pid(), s3: s3supervisor.child?.pid ?? null, worker: supervisor.child?.pid ?? null },
      };
    },
    stop() {
      stopped ??= (async () => {
        removeStackInfo(dataDir);
        await supervisor.stop();
        logWorker('stopped');
        await edge.close();
        logEdge('stopped');
        await s3supervisor.stop();
        logS3('stopped');
      })();
      return stopped;
    },
  };
}

/** The IPC side of memory sampling (see the header); only called when this process has an IPC channel. */
function answerIpc(running: LocalStack): void {
  process.on('message', (msg: { type?: string; id?: number; file?: string }) => {
    const id = typeof msg?.id === 'number' ? msg.id : 0;
    if (msg?.type === 'memory-sample') {
      running.memory(id).then(
        (sample) => process.send?.(sample),
        (err: unknown) => process.send?.({ type: 'error', id, message: err instanceof Error ? err.message : String(err) }),
      );
    } else if (msg?.type === 'heap-snapshot' && typeof msg.file === 'string') {
      try {
        process.send?.({ type: 'heap-snapshot', id, file: writeHeapSnapshot(msg.file) });
      } catch (err) {
        process.send?.({ type: 'error', id, message: err instanceof Error ? err.message : String(err) });
      }
    }
  });
}

async function main(): Promise<void> {
  const running = await startLocal(process.env, edgeRuntimeFrom(process.argv.slice(2), process.env));
  if (process.send) answerIpc(running);
  let signalled = false;
  const onSignal = (sig: string) => {
    if (signalled) return;
    signalled = true;
    logLocal(`${sig}: stopping`);
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logLocal(`stop failed: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    logLocal(`failed to start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
