// Creates the S3 bucket when it does not exist yet, then exits: the one-shot `bucket` service of
// infra/docker/compose.yaml (run from the edge image, before the edge and the workers start). Reads the S3 settings
// every process reads (shared/storage/s3-env.ts: S3_BUCKET, S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY_ID,
// S3_SECRET_ACCESS_KEY, S3_FORCE_PATH_STYLE, S3_TIMEOUT_MS). A server that is still starting is tried again, for
// up to BUCKET_WAIT_SECONDS (default 60). Exit 0: the bucket exists.
// Run: node bin/run-ts.mjs infra/docker/ensure-bucket.ts
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { S3BlobStore } from '../../shared/storage/s3-blob-store.ts';
import { s3OptionsFromEnv } from '../../shared/storage/s3-env.ts';
import { intFromEnv } from '../../shared/util/env.ts';

export async function ensureBucketFromEnv(env: Record<string, string | undefined>, log: (line: string) => void): Promise<void> {
  const s3 = s3OptionsFromEnv(env);
  if (!s3) throw new Error('set S3_BUCKET (and S3_ENDPOINT, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY for a non-AWS server)');
  const deadline = Date.now() + intFromEnv(env, 'BUCKET_WAIT_SECONDS', 60, 0) * 1000;
  const store = new S3BlobStore(s3);
  for (;;) {
    try {
      await store.ensureBucket();
      log(`bucket ${s3.bucket} is ready at ${s3.endpoint ?? 'AWS S3'}`);
      return;
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      if (Date.now() >= deadline) throw new Error(`bucket ${s3.bucket}: ${why}`);
      log(`bucket ${s3.bucket} not ready yet (${why}); trying again in 2 s`);
      await new Promise((ok) => setTimeout(ok, 2000));
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  ensureBucketFromEnv(process.env, (line) => process.stdout.write(`${line}\n`)).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`ensure-bucket: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
