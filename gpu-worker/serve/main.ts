// Stand-alone inference service. Env: MODEL_DIR (default models/toy-clip), PORT (default 8790),
// HOST (default 127.0.0.1), WORKER_TOKEN (required), ADAPTER_CACHE_SIZE (default 16),
// INFERENCE_MAX_BATCH (images per micro-batch, default 32; 1 = no batching), INFERENCE_BATCH_WAIT_MS (longest wait
// for a busy model, default 20),
// S3_BUCKET, S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_FORCE_PATH_STYLE
// (as the edge's). Run: node bin/run-ts.mjs gpu-worker/serve/main.ts
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { serve } from '@hono/node-server';
import { S3BlobStore, type S3BlobStoreOptions } from '../../shared/storage/s3-blob-store.ts';
import { loadClipModel } from '../clip/model.ts';
import { OrtClipEncoders, type OrtEncoderOptions } from '../clip/ort-encoders.ts';
import type { BlobReader } from './adapter-cache.ts';
import { createInferenceApp } from './app.ts';
import { s3OptionsFromEnv } from '../../shared/storage/s3-env.ts';

export interface InferenceServerOptions {
  modelDir: string;
  workerToken: string;
  /** Blob store with the adapters: an existing reader, or S3 options. */
  blobs?: BlobReader;
  s3?: S3BlobStoreOptions;
  port?: number;
  hostname?: string;
  cacheSize?: number;
  maxWaitMs?: number;
  maxBatchImages?: number;
  ort?: OrtEncoderOptions;
}

/** Micro-batching settings: INFERENCE_MAX_BATCH (1..32 images; 1 turns batching off), INFERENCE_BATCH_WAIT_MS (0..1000). */
export function batchingFromEnv(env: NodeJS.ProcessEnv): Pick<InferenceServerOptions, 'maxBatchImages' | 'maxWaitMs'> {
  const int = (name: string, min: number, max: number): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    return n;
  };
  return { maxBatchImages: int('INFERENCE_MAX_BATCH', 1, 32), maxWaitMs: int('INFERENCE_BATCH_WAIT_MS', 0, 1000) };
}

export interface RunningInferenceServer {
  url: string;
  close(): Promise<void>;
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): InferenceServerOptions {
  if (!env.WORKER_TOKEN) throw new Error('set WORKER_TOKEN (the token the edge sends as Bearer)');
  if (!env.S3_BUCKET) throw new Error('set S3_BUCKET (and S3_ENDPOINT, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY for a non-AWS server)');
  const port = env.PORT ? Number(env.PORT) : 8790;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, got ${JSON.stringify(env.PORT)}`);
  const cacheSize = env.ADAPTER_CACHE_SIZE ? Number(env.ADAPTER_CACHE_SIZE) : 16;
  if (!Number.isInteger(cacheSize) || cacheSize < 1) throw new Error(`ADAPTER_CACHE_SIZE must be an integer ≥ 1`);
  return {
    modelDir: resolve(env.MODEL_DIR || 'models/toy-clip'),
    workerToken: env.WORKER_TOKEN,
    port,
    hostname: env.HOST || '127.0.0.1',
    cacheSize,
    s3: s3OptionsFromEnv(env),
    ...batchingFromEnv(env),
  };
}

export async function startInferenceServer(opts: InferenceServerOptions): Promise<RunningInferenceServer> {
  const blobs = opts.blobs ?? (opts.s3 ? new S3BlobStore(opts.s3) : undefined);
  if (!blobs) throw new Error('startInferenceServer: give blobs or s3');
  const model = loadClipModel(opts.modelDir);
  const encoders = new OrtClipEncoders(model, opts.ort ?? {});
  const { app, inference } = createInferenceApp({ model, encoders, blobs, workerToken: opts.workerToken, cacheSize: opts.cacheSize, maxWaitMs: opts.maxWaitMs, maxBatchImages: opts.maxBatchImages });
  const hostname = opts.hostname ?? '127.0.0.1';
  const { server, address } = await new Promise<{ server: ReturnType<typeof serve>; address: AddressInfo }>((ok, fail) => {
    const server = serve({ fetch: app.fetch, port: opts.port ?? 8790, hostname }, (address) => ok({ server, address }));
    server.once('error', fail);
  });
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closed = false;
  return {
    url: `http://${host}:${address.port}`,
    async close() {
      if (closed) return;
      closed = true;
      await new Promise<void>((ok) => {
        server.close(() => ok());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await inference.release();
      await encoders.release();
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
