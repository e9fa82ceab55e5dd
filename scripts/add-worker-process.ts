// `npm run worker`: one more trainer against a running local stack (`npm start`), to scale out on one
// machine. Reads the stack's settings from ${DATA_DIR}/stack.json and ${DATA_DIR}/worker-token (DATA_DIR default
// .data; WORKER_TOKEN overrides the file). It leases and trains jobs like the trainer of the stack's worker process; classification
// stays with the stack's worker process (the edge has one inference URL). Other trainer settings pass through
// (WORKER_ID, POLL_MS, LEASE_SECONDS, HEARTBEAT_MS, COCOOP_TF_BACKEND, WORK_DIR). Stops on Ctrl-C / SIGTERM (the job
// in hand is resumed by another trainer from its last checkpoint) and when the stack that started it stops.
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { S3BlobStore } from '../shared/storage/s3-blob-store.ts';
import { loadModel } from '../gpu-worker/runtime/model.ts';
import { configFromEnv, createTrainer } from '../gpu-worker/trainer/main.ts';
import { readStackInfo, readTokenFile } from './local-stack-file.ts';

const log = (line: string) => process.stdout.write(`[worker] ${line}\n`);

export async function runLocalWorker(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const dataDir = resolve(env.DATA_DIR || '.data');
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'; // as in the stack (scripts/start-local.ts)
  const stack = readStackInfo(dataDir);
  const workerId = env.WORKER_ID || `${hostname()}-${process.pid}`;
  const cfg = configFromEnv({
    ...env,
    EDGE_URL: stack.edge_url,
    WORKER_TOKEN: env.WORKER_TOKEN || readTokenFile(dataDir, 'worker-token'),
    WORKER_ID: workerId,
    MODEL_DIR: env.MODEL_DIR || stack.model_dir,
    S3_ENDPOINT: stack.s3.endpoint,
    S3_BUCKET: stack.s3.bucket,
    S3_REGION: stack.s3.region,
    S3_ACCESS_KEY_ID: stack.s3.access_key_id,
    S3_SECRET_ACCESS_KEY: stack.s3.secret_access_key,
    S3_FORCE_PATH_STYLE: '1',
    WORK_DIR: env.WORK_DIR || join(dataDir, 'workers', workerId),
  });
  log(`joining the local stack at ${stack.edge_url} as ${workerId} (work dir ${cfg.workDir})`);
  const loaded = loadModel(cfg.modelDir, log);
  const trainer = await createTrainer(cfg, new S3BlobStore(cfg.s3), loaded, log);

  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    log(`${why}; stopping`);
    void trainer.stop();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // The stack's launcher went away (its stack.json is removed on a clean stop, its pid is gone on a crash).
  const watch = setInterval(() => {
    let now: ReturnType<typeof readStackInfo> | null = null;
    try {
      now = readStackInfo(dataDir);
    } catch {
      // gone
    }
    if (!now || now.pid !== stack.pid) stop('the local stack this worker joined stopped');
  }, 2000);
  watch.unref();
  try {
    await trainer.start();
  } finally {
    clearInterval(watch);
    await loaded.encoders.release();
  }
  log('stopped');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runLocalWorker().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`worker: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
