// A throwaway s3rver (S3 protocol on disk) for tests: loopback, random port, fresh temp directory.
// For fault tests it can go down (connections cut, the port refuses) and come back on the same port
// with the same directory, so every object stored before the outage is there again.
//
// Every PUT is answered once its object file is written (scripts/lib/s3rver-written-put.ts, as in the local stack):
// otherwise a write landing after the answer — after a test's setLastModified — gave the object a fresh mtime again (a
// reconciliation test then saw an orphan "inside the grace period").
import { mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type S3rverStore, answerPutsOnceWritten } from '../../scripts/lib/s3rver-written-put.ts';
import type { S3BlobStoreOptions } from '../../shared/storage/s3-blob-store.ts';

// s3rver ships no type declarations; this is the part of its API the helper uses.
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer?: Server;
  store: S3rverStore;
  /** s3rver is a Koa app: 'event' carries S3 event notifications (ObjectCreated:Put, ...). */
  on(event: 'event', listener: (e: { Records: { eventName: string; s3: { object: { key: string } } }[] }) => void): unknown;
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
  /** An outage: open connections are cut and the port refuses connections until up(). */
  down(): Promise<void>;
  /** Back on the same port with the same directory (no-op when up). */
  up(): Promise<void>;
  /** False between down() and up(). */
  readonly running: boolean;
  /** Calls `listener` with the key of every object stored from now on (across down/up). */
  onObjectCreated(listener: (key: string) => void): void;
}

export async function startS3rver(): Promise<RunningS3rver> {
  const dir = mkdtempSync(join(tmpdir(), 's3rver-'));
  const bucket = 'test';
  const created: ((key: string) => void)[] = [];
  const create = (port: number) => {
    const s = new S3rver({
      address: '127.0.0.1',
      port,
      silent: true,
      directory: dir,
      configureBuckets: [{ name: bucket }],
    });
    answerPutsOnceWritten(s.store);
    s.on('event', (e) => {
      for (const r of e.Records) if (r.eventName.startsWith('ObjectCreated')) for (const l of created) l(decodeURIComponent(r.s3.object.key));
    });
    return s;
  };
  let server: S3rverInstance | null = create(0);
  let address: AddressInfo;
  try {
    address = await server.run();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const port = address.port;
  const close = async () => {
    const s = server;
    server = null;
    if (!s) return;
    const closed = s.close();
    s.httpServer?.closeAllConnections();
    await closed;
  };
  let stopped = false;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    dir,
    get running() {
      return server !== null;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    down: close,
    onObjectCreated: (listener) => void created.push(listener),
    async up() {
      if (stopped) throw new Error('s3rver: up() after stop()');
      if (server) return;
      const s = create(port);
      await s.run();
      server = s;
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

/**
 * Sets the LastModified that s3rver reports for `key` (it is the mtime of the object's file), e.g. to make an object
 * look old to code that takes an injected clock. Final once the object's PUT was answered (see writtenPutObject).
 * `bucket`: another bucket of that s3rver than its default one (e.g. a testBlobStore's).
 */
export function setLastModified(s3: RunningS3rver, key: string, at: Date, bucket = s3.bucket): void {
  const parts = key.split('/');
  const name = parts.pop()!;
  utimesSync(join(s3.dir, bucket, ...parts, `${name}._S3rver_object`), at, at);
}
