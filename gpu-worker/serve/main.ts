// The inference server on its own (gpu-worker/worker-process.ts runs one beside a trainer, on the model it loaded
// for both). Env: MODEL_DIR (default models/toy-clip), PORT (default 8790),
// HOST (default 127.0.0.1), WORKER_TOKEN (required), METRICS_TOKEN (optional: opens GET /metrics too), ADAPTER_CACHE_SIZE (default 16),
// INFERENCE_MAX_BATCH (images per micro-batch, default 32; 1 = no batching), INFERENCE_BATCH_WAIT_MS (longest wait
// for a busy model, default 20),
// S3_BUCKET, S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_FORCE_PATH_STYLE
// (as the edge's). Run: node bin/run-ts.mjs gpu-worker/serve/main.ts
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { serve } from '@hono/node-server';
import { MAX_IMAGES } from '../../shared/contracts/inference-api.ts';
import { S3BlobStore, type S3BlobStoreOptions } from '../../shared/storage/s3-blob-store.ts';
import { s3OptionsFromEnv } from '../../shared/storage/s3-env.ts';
import { intFromEnv, portFromEnv } from '../../shared/util/env.ts';
import type { OrtEncoderOptions } from '../clip/ort-encoders.ts';
import type { CocoopInference } from '../cocoop/ort-inference.ts';
import { type LoadedModel, loadModel, modelDirFromEnv } from '../runtime/model.ts';
import type { BlobReader } from './adapter-cache.ts';
import { DEFAULT_MAX_WAIT_MS, createInferenceApp } from './app.ts';
import type { InferenceMetrics } from './metrics.ts';

export interface InferenceServerOptions {
  /** The model to serve: one already loaded (shared with a trainer; left to its owner on close), or its directory. */
  model?: LoadedModel;
  modelDir?: string;
  workerToken: string;
  /** METRICS_TOKEN: a read-only token for GET /metrics besides the worker token. */
  metricsToken?: string;
  /** Blob store with the adapters: an existing reader, or S3 options. */
  blobs?: BlobReader;
  s3?: S3BlobStoreOptions;
  port?: number;
  hostname?: string;
  cacheSize?: number;
  maxWaitMs?: number;
  maxBatchImages?: number;
  /** Encoder options when the server loads the model itself. */
  ort?: OrtEncoderOptions;
  /** The model-load line when the server loads the model itself (default: ort.log, else stderr). */
  log?: (line: string) => void;
}

/** Micro-batching settings: INFERENCE_MAX_BATCH (1..32 images; 1 turns batching off), INFERENCE_BATCH_WAIT_MS (0..1000). */
export function batchingFromEnv(env: NodeJS.ProcessEnv): Pick<InferenceServerOptions, 'maxBatchImages' | 'maxWaitMs'> {
  return {
    maxBatchImages: intFromEnv(env, 'INFERENCE_MAX_BATCH', MAX_IMAGES, 1, MAX_IMAGES),
    maxWaitMs: intFromEnv(env, 'INFERENCE_BATCH_WAIT_MS', DEFAULT_MAX_WAIT_MS, 0, 1000),
  };
}

export interface RunningInferenceServer {
  url: string;
  /** The server's inference engine (a worker process's trainer shares it). */
  inference: CocoopInference;
  /** Its metrics (worker-process.ts adds the trainer's). */
  metrics: InferenceMetrics;
  close(): Promise<void>;
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): InferenceServerOptions {
  if (!env.WORKER_TOKEN) throw new Error('set WORKER_TOKEN (the token the edge sends as Bearer)');
  if (!env.S3_BUCKET) throw new Error('set S3_BUCKET (and S3_ENDPOINT, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY for a non-AWS server)');
  return {
    modelDir: modelDirFromEnv(env),
    workerToken: env.WORKER_TOKEN,
    metricsToken: env.METRICS_TOKEN || undefined,
    port: portFromEnv(env, 'PORT', 8790),
    hostname: env.HOST || '127.0.0.1',
    cacheSize: intFromEnv(env, 'ADAPTER_CACHE_SIZE', 16),
    s3: s3OptionsFromEnv(env),
    ...batchingFromEnv(env),
  };
}

export async function startInferenceServer(opts: InferenceServerOptions): Promise<RunningInferenceServer> {
  const blobs = opts.blobs ?? (opts.s3 ? new S3BlobStore(opts.s3) : undefined);
  if (!blobs) throw new Error('startInferenceServer: give blobs or s3');
  if (!opts.model && !opts.modelDir) throw new Error('startInferenceServer: give model or modelDir');
  const own = opts.model ? null : loadModel(opts.modelDir!, opts.log ?? opts.ort?.log ?? ((line) => process.stderr.write(`${line}\n`)), opts.ort);
  const { model, encoders } = opts.model ?? own!;
  const { app, inference, metrics } = createInferenceApp({ model, encoders, blobs, workerToken: opts.workerToken, metricsToken: opts.metricsToken, cacheSize: opts.cacheSize, maxWaitMs: opts.maxWaitMs, maxBatchImages: opts.maxBatchImages });
  const hostname = opts.hostname ?? '127.0.0.1';
  const { server, address } = await new Promise<{ server: ReturnType<typeof serve>; address: AddressInfo }>((ok, fail) => {
    const server = serve({ fetch: app.fetch, port: opts.port ?? 8790, hostname }, (address) => ok({ server, address }));
    server.once('error', fail);
  });
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closed = false;
  return {
    url: `http://${host}:${address.port}`,
    inference,
    metrics,
    async close() {
      if (closed) return;
      closed = true;
      await new Promise<void>((ok) => {
        server.close(() => ok());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await inference.release();
      await own?.encoders.release();
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const opts = configFromEnv();
  const running = await startInferenceServer(opts);
  process.stderr.write(`inference service for ${opts.modelDir} listening on ${running.url}\n`);
  const stop = () => void running.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
