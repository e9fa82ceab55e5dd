// The local stack behind `npm start` (API.md "Local mode"): an S3-protocol server on disk (s3rver), the edge on
// Node with SQLite, and one supervised worker process (trainer + inference server, gpu-worker/worker-process.ts).
//
// Environment: PORT (default 8787; 0 picks a free port), HOST (default 127.0.0.1), ADMIN_TOKEN (if unset: read from
// or generated into ${DATA_DIR}/admin-token and printed), DATA_DIR (default .data), CLIP_MODEL_DIR (default
// models/toy-clip), INFERENCE_PORT and S3_PORT (default: free ports). Other edge / worker settings pass through
// (RATE_LIMIT_*, QUOTA_*, POLL_MS, COCOOP_TF_BACKEND, ...). When ready it writes ${DATA_DIR}/stack.json (URLs, S3 settings)
// for `npm run worker` and `npm run demo`, and removes it on stop.
// Logs are prefixed per component: [s3] [edge] [worker] [local]. SIGINT / SIGTERM stop everything, exit 0.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configFromEnv } from '../edge/config.ts';
import { adminToken, startEdge, workerToken, webhookSettingsFromEnv, type RunningEdge } from '../edge/node/server.ts';
import type { S3BlobStoreOptions } from '../shared/storage/s3-blob-store.ts';
import { portFromEnv } from '../shared/util/env.ts';
import { removeStackInfo, writeStackInfo } from './local-stack-file.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BUCKET = 'cocoop';

// s3rver ships no type declarations; the part of its API used here.
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverCtor = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets: { name: string }[];
}) => S3rverInstance;

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

/** Keeps one worker child running: restarts it with a backoff when it dies. */
class WorkerSupervisor {
  private child: ChildProcess | null = null;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private backoffMs = 500;
  private startedAt = 0;

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  start(): void {
    if (this.stopping) return;
    const child = spawn(process.execPath, [join(ROOT, 'bin/run-ts.mjs'), join(ROOT, 'gpu-worker/worker-process.ts')], {
      cwd: ROOT,
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.startedAt = Date.now();
    logWorker(`pid ${child.pid}`);
    pipeLines(child.stdout, logWorker);
    pipeLines(child.stderr, logWorker);
    child.once('error', (err) => logWorker(`spawn failed: ${err.message}`));
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      if (this.stopping) return;
      // A worker that ran a while gets the short backoff again.
      if (Date.now() - this.startedAt > 60_000) this.backoffMs = 500;
      logWorker(`pid ${child.pid} exited (${signal ? `signal ${signal}` : `code ${code}`}); restarting in ${this.backoffMs} ms`);
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        this.start();
      }, this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, 30_000);
    });
  }

  /** SIGTERM to the child, SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((ok) => {
      const timer = setTimeout(() => {
        logWorker(`pid ${child.pid} did not stop in ${graceMs} ms; killing it`);
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

export async function startLocal(env: NodeJS.ProcessEnv = process.env): Promise<{ url: string; stop(): Promise<void> }> {
  const dataDir = resolve(env.DATA_DIR || '.data');
  // The AWS SDK's multi-line notice that its 2027 releases need Node >= 22 (our versions are pinned; see
  // docs/deploy.md): muted in the local stack's logs unless the user set the variable.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const host = env.HOST || '127.0.0.1';
  const port = portFromEnv(env, 'PORT', 8787);
  const modelDir = resolve(env.CLIP_MODEL_DIR || join(ROOT, 'models/toy-clip'));
  mkdirSync(join(dataDir, 's3'), { recursive: true });

  // Tokens: the edge's own helpers (env, else ${DATA_DIR}/admin-token / worker-token, else generated there).
  const admin = adminToken(env, dataDir);
  const worker = workerToken(env, dataDir);

  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverCtor;
  const s3server = new S3rver({
    address: '127.0.0.1',
    port: portFromEnv(env, 'S3_PORT', 0),
    silent: true,
    directory: join(dataDir, 's3'),
    configureBuckets: [{ name: BUCKET }],
  });
  const s3addr = await s3server.run();
  const s3endpoint = `http://127.0.0.1:${s3addr.port}`;
  logS3(`s3rver listening on ${s3endpoint} (bucket ${BUCKET}, data: ${join(dataDir, 's3')})`);
  const s3: S3BlobStoreOptions = {
    endpoint: s3endpoint,
    bucket: BUCKET,
    region: 'us-east-1',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    forcePathStyle: true,
  };

  const inferencePort = env.INFERENCE_PORT ? portFromEnv(env, 'INFERENCE_PORT', 0) : await freePort('127.0.0.1');
  const inferenceUrl = `http://127.0.0.1:${inferencePort}`;

  let edge: RunningEdge;
  try {
    const config = configFromEnv(env, { adminToken: admin.token, workerToken: worker, localMode: true, inferenceUrl });
    edge = await startEdge({ dataDir, port, hostname: host, config, s3, webhooks: webhookSettingsFromEnv(env, config) });
  } catch (err) {
    await s3server.close();
    throw err;
  }
  logEdge(`listening on ${edge.url} (SQLite: ${join(dataDir, 'edge.sqlite')}, inference: ${inferenceUrl})`);

  const supervisor = new WorkerSupervisor({
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
    inference_url: inferenceUrl,
    model_dir: modelDir,
    s3: { endpoint: s3endpoint, bucket: BUCKET, region: 'us-east-1', access_key_id: 'S3RVER', secret_access_key: 'S3RVER' },
    pid: process.pid,
    started_at: new Date().toISOString(),
  });
  if (admin.generated) logLocal(`admin token (also in ${join(dataDir, 'admin-token')}): ${admin.token}`);
  logLocal(`cocoop local stack ready at ${edge.url} (data: ${dataDir}, model: ${modelDir})`);

  let stopped: Promise<void> | null = null;
  return {
    url: edge.url,
    stop() {
      stopped ??= (async () => {
        removeStackInfo(dataDir);
        await supervisor.stop();
        logWorker('stopped');
        await edge.close();
        logEdge('stopped');
        await s3server.close();
        logS3('stopped');
      })();
      return stopped;
    },
  };
}

async function main(): Promise<void> {
  const running = await startLocal();
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
