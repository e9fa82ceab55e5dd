// S3 settings from the environment, read the same way by every process: the Node edge, the worker process
// (trainer + inference server) and the Workers edge (from its vars). Kept apart from s3-blob-store.ts so
// reading settings loads no AWS SDK.
import { flagFromEnv, intFromEnv } from '../util/env.ts';
import type { S3BlobStoreOptions } from './s3-blob-store.ts';

/**
 * The S3 settings every Node process reads (edge, worker, inference server): S3_BUCKET, S3_ENDPOINT, S3_REGION
 * (default us-east-1), S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_FORCE_PATH_STYLE ("true"/"1" or "false"/"0";
 * default: on when S3_ENDPOINT is set), S3_TIMEOUT_MS (a silent S3 call fails after this; default 30000). Undefined
 * when S3_BUCKET is not set.
 */
export function s3OptionsFromEnv(env: Record<string, string | undefined>, defaultRegion = 'us-east-1'): S3BlobStoreOptions | undefined {
  if (!env.S3_BUCKET) return undefined;
  return {
    endpoint: env.S3_ENDPOINT || undefined,
    region: env.S3_REGION || defaultRegion,
    bucket: env.S3_BUCKET,
    accessKeyId: env.S3_ACCESS_KEY_ID ?? '',
    secretAccessKey: env.S3_SECRET_ACCESS_KEY ?? '',
    forcePathStyle: flagFromEnv(env, 'S3_FORCE_PATH_STYLE', Boolean(env.S3_ENDPOINT)),
    ...(env.S3_TIMEOUT_MS ? { timeoutMs: intFromEnv(env, 'S3_TIMEOUT_MS', 30_000) } : {}),
  };
}
