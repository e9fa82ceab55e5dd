// The training worker process: leases jobs from the edge and trains them, one at a time.
//
// Environment:
//   EDGE_URL               the edge's base URL, e.g. http://127.0.0.1:8787 (required)
//   WORKER_TOKEN           the edge's worker token (required)
//   WORKER_ID              this worker's name in leases and job events (default <hostname>-<pid>)
//   MODEL_DIR              the base CLIP model directory (default models/toy-clip)
//   S3_ENDPOINT            S3-protocol endpoint (omit for AWS S3)
//   S3_BUCKET              the bucket the edge stores images, checkpoints and artifacts in (required)
//   S3_ACCESS_KEY_ID       } credentials (required)
//   S3_SECRET_ACCESS_KEY   }
//   S3_REGION              default us-east-1 (R2: auto)
//   S3_FORCE_PATH_STYLE    "true"/"1" for path-style URLs (MinIO, s3rver); default on when S3_ENDPOINT is set
//   WORK_DIR               scratch space for datasets and checkpoints (default <tmpdir>/cocoop-worker)
//   POLL_MS                first poll interval; doubles while idle up to MAX_POLL_MS (default 2000)
//   MAX_POLL_MS            longest idle wait between lease requests (default 5000)
//   LEASE_SECONDS          lease length asked for (default 120)
//   HEARTBEAT_MS           heartbeat period (default 5000)
//   TF_BACKEND             auto | wasm | cpu (default auto)
// SIGTERM / SIGINT: the current job is abandoned after its current step (its lease expires and
// another worker resumes it from the last checkpoint) and the process exits.
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { S3BlobStore, type S3BlobStoreOptions } from '../../shared/storage/s3-blob-store.ts';
import type { BlobStore } from '../../shared/storage/blob-store.ts';
import { loadClipModel } from '../clip/model.ts';
import { OrtClipEncoders } from '../clip/ort-encoders.ts';
import { initTfBackend, type TfBackendPreference } from '../runtime/tf-backend.ts';
import { EdgeClient } from './edge-client.ts';
import { JobWorker } from './trainer.ts';
import { s3OptionsFromEnv } from '../../shared/storage/s3-env.ts';

export interface WorkerEnvConfig {
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
  tfBackend: TfBackendPreference;
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, dflt: number): number {
  const v = env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${v}"`);
  return n;
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerEnvConfig {
  const missing = ['EDGE_URL', 'WORKER_TOKEN', 'S3_BUCKET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'].filter((k) => !env[k]);
  if (missing.length) throw new Error(`missing environment: ${missing.join(', ')}`);
  const backend = env.TF_BACKEND ?? 'auto';
  if (backend !== 'auto' && backend !== 'wasm' && backend !== 'cpu') throw new Error(`TF_BACKEND must be auto, wasm or cpu, got "${backend}"`);
  return {
    edgeUrl: env.EDGE_URL!,
    workerToken: env.WORKER_TOKEN!,
    workerId: env.WORKER_ID || `${hostname()}-${process.pid}`,
    modelDir: resolve(env.MODEL_DIR || 'models/toy-clip'),
    s3: s3OptionsFromEnv(env)!,
    workDir: resolve(env.WORK_DIR || join(tmpdir(), 'cocoop-worker')),
    pollMs: positiveInt(env, 'POLL_MS', 2000),
    maxPollMs: positiveInt(env, 'MAX_POLL_MS', 5000),
    leaseSeconds: positiveInt(env, 'LEASE_SECONDS', 120),
    heartbeatMs: positiveInt(env, 'HEARTBEAT_MS', 5000),
    tfBackend: backend,
  };
}

/** The model, its encoders (release them after the worker stops), the TF.js backend and a JobWorker over `blobs`. */
export async function createJobWorker(
  cfg: WorkerEnvConfig,
  blobs: BlobStore,
  log: (line: string) => void,
): Promise<{ worker: JobWorker; encoders: OrtClipEncoders }> {
  const model = loadClipModel(cfg.modelDir);
  const encoders = new OrtClipEncoders(model, { log });
  const tf = await initTfBackend({ prefer: cfg.tfBackend, log });
  log(`job worker ${cfg.workerId}: model ${cfg.modelDir}, tfjs backend ${tf.backend}`);
  const worker = new JobWorker({
    client: new EdgeClient({ baseUrl: cfg.edgeUrl, token: cfg.workerToken }),
    blobs,
    model,
    encoders,
    workDir: cfg.workDir,
    workerId: cfg.workerId,
    pollMs: cfg.pollMs,
    maxPollMs: cfg.maxPollMs,
    leaseSeconds: cfg.leaseSeconds,
    heartbeatMs: cfg.heartbeatMs,
    log,
  });
  return { worker, encoders };
}

export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const cfg = configFromEnv(env);
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  const { worker, encoders } = await createJobWorker(cfg, new S3BlobStore(cfg.s3), log);
  const onSignal = (sig: string) => {
    log(`worker ${cfg.workerId}: ${sig}, stopping`);
    void worker.stop();
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  await worker.start();
  await encoders.release();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    process.stderr.write(`worker: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
