// One worker process for the local stack (npm start): the job worker (leases and trains jobs from the edge)
// and the inference server, sharing this process. Environment: as gpu-worker/trainer/main.ts (EDGE_URL,
// WORKER_TOKEN, MODEL_DIR, S3_*, WORK_DIR, POLL_MS, ...) plus INFERENCE_PORT (default 8790) and
// INFERENCE_HOST (default 127.0.0.1), INFERENCE_MAX_BATCH and INFERENCE_BATCH_WAIT_MS (micro-batching, see
// serve/main.ts) for the inference server.
// SIGTERM / SIGINT: the inference server closes, the job worker stops after its current step, exit 0.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { S3BlobStore } from '../shared/storage/s3-blob-store.ts';
import { configFromEnv, createJobWorker } from './trainer/main.ts';
import { batchingFromEnv, startInferenceServer } from './serve/main.ts';

export async function runWorkerProcess(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const cfg = configFromEnv(env);
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const port = env.INFERENCE_PORT ? Number(env.INFERENCE_PORT) : 8790;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`INFERENCE_PORT must be a port number, got ${JSON.stringify(env.INFERENCE_PORT)}`);
  const blobs = new S3BlobStore(cfg.s3);

  const inference = await startInferenceServer({
    modelDir: cfg.modelDir,
    workerToken: cfg.workerToken,
    blobs,
    port,
    hostname: env.INFERENCE_HOST || '127.0.0.1',
    ...batchingFromEnv(env),
  });
  log(`inference server listening on ${inference.url}`);

  const { worker, encoders } = await createJobWorker(cfg, blobs, log);

  let stopping = false;
  const onSignal = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log(`${sig}, stopping`);
    void worker.stop();
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  try {
    await worker.start();
  } finally {
    await inference.close();
    await encoders.release();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  runWorkerProcess().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`worker: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
