// One worker process (what `npm start` supervises and each Kubernetes pod runs): a trainer (leases and trains jobs
// from the edge) and an inference server, sharing this process and one loaded model: the CLIP model and its ONNX
// encoders are loaded once here and handed to both. Environment: as gpu-worker/trainer/main.ts (EDGE_URL,
// WORKER_TOKEN, MODEL_DIR, S3_*, WORK_DIR, POLL_MS, COCOOP_TF_BACKEND, ...) plus INFERENCE_PORT (default 8790) and
// INFERENCE_HOST (default 127.0.0.1), INFERENCE_MAX_BATCH and INFERENCE_BATCH_WAIT_MS (micro-batching, see
// serve/main.ts) for the inference server, and INFERENCE_TOKEN: the token the inference server accepts (the edge's
// INFERENCE_TOKEN; default WORKER_TOKEN). Set it when WORKER_TOKEN is a per-worker token (docs/deploy.md).
// METRICS_TOKEN (optional) opens the inference server's GET /metrics too, which also reports the trainer.
// SIGTERM / SIGINT: the inference server closes, the trainer stops after its current step, exit 0.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { S3BlobStore } from '../shared/storage/s3-blob-store.ts';
import { portFromEnv } from '../shared/util/env.ts';
import { loadModel } from './runtime/model.ts';
import { batchingFromEnv, startInferenceServer } from './serve/main.ts';
import { configFromEnv, createTrainer } from './trainer/main.ts';

export async function runWorkerProcess(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const cfg = configFromEnv(env);
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const port = portFromEnv(env, 'INFERENCE_PORT', 8790);
  const batching = batchingFromEnv(env);
  const blobs = new S3BlobStore(cfg.s3);

  const loaded = loadModel(cfg.modelDir, log);
  try {
    const inference = await startInferenceServer({ model: loaded, workerToken: env.INFERENCE_TOKEN || cfg.workerToken, metricsToken: env.METRICS_TOKEN || undefined, blobs, port, hostname: env.INFERENCE_HOST || '127.0.0.1', ...batching });
    log(`inference server listening on ${inference.url}`);
    try {
      // One CocoopInference for both: the trainer's validation and evaluations reuse the server's text sessions.
      const trainer = await createTrainer(cfg, blobs, loaded, log, inference.inference);
      inference.metrics.watchTrainer(trainer);
      let stopping = false;
      const onSignal = (sig: string) => {
        if (stopping) return;
        stopping = true;
        log(`${sig}, stopping`);
        void trainer.stop();
      };
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      process.on('SIGINT', () => onSignal('SIGINT'));
      await trainer.start();
    } finally {
      await inference.close();
    }
  } finally {
    await loaded.encoders.release();
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
