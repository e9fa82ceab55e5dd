// A trainer on its own (no inference server): leases jobs from the edge and trains them, one at a time.
// gpu-worker/worker-process.ts runs one beside an inference server; this entry runs only the trainer.
//
// Environment:
//   EDGE_URL               the edge's base URL, e.g. http://127.0.0.1:8787 (required)
//   WORKER_TOKEN           the edge's worker token (required)
//   WORKER_ID              this trainer's name in leases and job events (default <hostname>-<pid>)
//   MODEL_DIR              the base CLIP model directory (default models/toy-clip)
//   S3_ENDPOINT            S3-protocol endpoint (omit for AWS S3)
//   S3_BUCKET              the bucket the edge stores images, checkpoints and artifacts in (required)
//   S3_ACCESS_KEY_ID       } credentials (required)
//   S3_SECRET_ACCESS_KEY   }
//   S3_REGION              default us-east-1 (R2: auto)
//   S3_FORCE_PATH_STYLE    "true"/"1" or "false"/"0": path-style URLs (MinIO, s3rver); default on when S3_ENDPOINT is set
//   WORK_DIR               scratch space for datasets and checkpoints (default <tmpdir>/cocoop-worker)
//   POLL_MS                first poll interval; doubles while idle up to MAX_POLL_MS (default 2000)
//   MAX_POLL_MS            longest idle wait between lease requests (default 5000)
//   LEASE_SECONDS          lease length asked for (default 120)
//   HEARTBEAT_MS           heartbeat period (default 5000)
//   TRAIN_ENGINE           ort | tfjs (default ort: the text tower and its gradient on ONNX Runtime)
//   ORT_EP                 cpu | cuda: force ONNX Runtime's execution provider (default: CUDA when it loads, else CPU)
//   COCOOP_TF_BACKEND      auto | node-gpu | node | wasm | cpu (default auto; gpu-worker/runtime/tf-backend-env.ts;
//                          TF_BACKEND is a deprecated alias; used by the tfjs engine)
// SIGTERM / SIGINT: the current job is abandoned after its current step (its lease expires and
// another trainer resumes it from the last checkpoint) and the process exits.
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BlobStore } from '../../shared/storage/blob-store.ts';
import { S3BlobStore, type S3BlobStoreOptions } from '../../shared/storage/s3-blob-store.ts';
import { s3OptionsFromEnv } from '../../shared/storage/s3-env.ts';
import { intFromEnv } from '../../shared/util/env.ts';
import type { CocoopInference } from '../cocoop/ort-inference.ts';
import { type LoadedModel, loadModel, modelDirFromEnv } from '../runtime/model.ts';
import { DEFAULT_TRAIN_ENGINE, parseTrainEngine, type TrainEngineName } from '../cocoop/train-engines.ts';
import { ortProviderFromEnv } from '../runtime/ort.ts';
import { initTfBackend } from '../runtime/tf-backend.ts';
import { EdgeClient } from './edge-client.ts';
import { errorMessage } from './errors.ts';
import { Trainer } from './trainer.ts';

export interface TrainerConfig {
  edgeUrl: string;
  workerToken: string;
  workerId: string;
  modelDir: string;
  s3: S3BlobStoreOptions;
  workDir: string;
  pollMs: number;
  maxPollMs: number;
  leaseSeconds: number;
  heartbeatMs: number;
  trainEngine: TrainEngineName;
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): TrainerConfig {
  const missing = ['EDGE_URL', 'WORKER_TOKEN', 'S3_BUCKET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'].filter((k) => !env[k]);
  if (missing.length) throw new Error(`missing environment: ${missing.join(', ')}`);
  return {
    edgeUrl: env.EDGE_URL!,
    workerToken: env.WORKER_TOKEN!,
    workerId: env.WORKER_ID || `${hostname()}-${process.pid}`,
    modelDir: modelDirFromEnv(env),
    s3: s3OptionsFromEnv(env)!,
    workDir: resolve(env.WORK_DIR || join(tmpdir(), 'cocoop-worker')),
    pollMs: intFromEnv(env, 'POLL_MS', 2000),
    maxPollMs: intFromEnv(env, 'MAX_POLL_MS', 5000),
    leaseSeconds: intFromEnv(env, 'LEASE_SECONDS', 120),
    heartbeatMs: intFromEnv(env, 'HEARTBEAT_MS', 5000),
    trainEngine: parseTrainEngine(env.TRAIN_ENGINE || DEFAULT_TRAIN_ENGINE, 'TRAIN_ENGINE'),
  };
}

/** A Trainer over `blobs` on an already loaded model (runtime/model.ts), once the TF.js backend is chosen. */
export async function createTrainer(
  cfg: TrainerConfig,
  blobs: BlobStore,
  loaded: LoadedModel,
  log: (line: string) => void,
  inference?: CocoopInference,
): Promise<Trainer> {
  const tf = await initTfBackend({ log });
  log(`trainer ${cfg.workerId}: tfjs backend ${tf.backend}`);
  const where = cfg.trainEngine === 'ort' ? `onnxruntime, execution provider ${ortProviderFromEnv(process.env)}` : `tfjs ${tf.backend}`;
  log(`trainer ${cfg.workerId}: training engine ${cfg.trainEngine} (${where})`);
  return new Trainer({
    client: new EdgeClient({ baseUrl: cfg.edgeUrl, token: cfg.workerToken }),
    blobs,
    model: loaded.model,
    encoders: loaded.encoders,
    inference,
    workDir: cfg.workDir,
    workerId: cfg.workerId,
    pollMs: cfg.pollMs,
    maxPollMs: cfg.maxPollMs,
    leaseSeconds: cfg.leaseSeconds,
    heartbeatMs: cfg.heartbeatMs,
    engine: cfg.trainEngine,
    log,
  });
}

export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const cfg = configFromEnv(env);
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  const loaded = loadModel(cfg.modelDir, log);
  try {
    const trainer = await createTrainer(cfg, new S3BlobStore(cfg.s3), loaded, log);
    const onSignal = (sig: string) => {
      log(`worker ${cfg.workerId}: ${sig}, stopping`);
      void trainer.stop();
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
    await trainer.start();
  } finally {
    await loaded.encoders.release();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    process.stderr.write(`worker: ${errorMessage(err)}\n`);
    process.exit(1);
  });
}
