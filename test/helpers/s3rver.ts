// A throwaway s3rver (S3 protocol on disk) for tests: loopback, random port, fresh temp directory.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3BlobStoreOptions } from '../../edge/node/s3-blob-store.ts';

// s3rver ships no type declarations; this is the part of its API the helper uses.
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverCtor = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets: { name: string; configs?: (string | Buffer)[] }[];
}) => S3rverInstance;

const S3rver = createRequire(import.meta.url)('s3rver') as S3rverCtor;

export interface RunningS3rver {
  /** e.g. http://127.0.0.1:41234 */
  endpoint: string;
  /** A bucket that exists from the start. */
  bucket: string;
  /** The data directory (removed by stop()). */
  dir: string;
  stop(): Promise<void>;
}

export async function startS3rver(): Promise<RunningS3rver> {
  const dir = mkdtempSync(join(tmpdir(), 's3rver-'));
  const bucket = 'test';
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: dir,
    configureBuckets: [{ name: bucket }],
  });
  let address: AddressInfo;
  try {
    address = await server.run();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  let stopped = false;
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    bucket,
    dir,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await server.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** S3BlobStore options that s3rver accepts (its built-in S3RVER/S3RVER key pair, path-style URLs). */
export function s3Config(endpoint: string, bucket: string): S3BlobStoreOptions {
  return {
    endpoint,
    bucket,
    region: 'us-east-1',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    forcePathStyle: true,
  };
}
