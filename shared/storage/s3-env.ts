// S3 settings from the environment, shared by every Node process (edge, job worker, inference server).
// Kept apart from s3-blob-store.ts so reading settings does not load the AWS SDK.
import type { S3BlobStoreOptions } from './s3-blob-store.ts';

/**
 * The S3 settings every Node process reads (edge, worker, inference server): S3_BUCKET, S3_ENDPOINT, S3_REGION
 * (default us-east-1), S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_FORCE_PATH_STYLE ("true"/"1" or "false"/"0";
 * default: on when S3_ENDPOINT is set). Undefined when S3_BUCKET is not set.
 */
export function s3OptionsFromEnv(env: Record<string, string | undefined>): S3BlobStoreOptions | undefined {
  if (!env.S3_BUCKET) return undefined;
  const flag = env.S3_FORCE_PATH_STYLE?.trim().toLowerCase();
  if (flag && !['true', '1', 'false', '0'].includes(flag)) throw new Error(`S3_FORCE_PATH_STYLE must be true/1 or false/0, got "${env.S3_FORCE_PATH_STYLE}"`);
  return {
    endpoint: env.S3_ENDPOINT || undefined,
    region: env.S3_REGION || 'us-east-1',
    bucket: env.S3_BUCKET,
    accessKeyId: env.S3_ACCESS_KEY_ID ?? '',
    secretAccessKey: env.S3_SECRET_ACCESS_KEY ?? '',
    forcePathStyle: flag ? flag === 'true' || flag === '1' : Boolean(env.S3_ENDPOINT),
  };
}
