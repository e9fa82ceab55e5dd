// s3rver 3.7.1's FilesystemStore.putObject resolves — and the PUT is answered — once the body has gone through its
// hashing stream, before the object file's write stream has written it. s3rver reports an object's size and
// LastModified from that file (fs.stat), so a HEAD or GET right after the answer could see a short file (the edge's
// uploads/complete would then refuse a correct upload as the wrong size), and a write landing late gives the object
// a fresh mtime. answerPutsOnceWritten replaces putObject by one that resolves after the file is written and closed.
// Used by the local stack's S3 process (s3-process.ts) and the tests' s3rver (test/helpers/s3rver.ts).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

// s3rver ships no type declarations; the part of its store this module uses.
export interface S3rverObject {
  bucket: string;
  key: string;
  /** The request (a PUT) or a Buffer/stream (multipart completion). */
  content: Readable | Buffer;
  metadata: Record<string, string>;
}
export interface S3rverStore {
  getResourcePath(bucket: string, key: string, resource: 'object'): string;
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5: string): Promise<void>;
  putObject(object: S3rverObject): Promise<{ size: number; md5: string }>;
}

/** Makes `store` answer every PUT only once its object file is written. */
export function answerPutsOnceWritten(store: S3rverStore): void {
  store.putObject = (object) => writtenPutObject(store, object);
}

/** s3rver's putObject (the object file, then its .md5 and metadata files), resolving once the file is written. */
async function writtenPutObject(store: S3rverStore, object: S3rverObject): Promise<{ size: number; md5: string }> {
  const path = store.getResourcePath(object.bucket, object.key, 'object');
  await mkdir(dirname(path), { recursive: true });
  const hash = createHash('md5');
  let size = 0;
  const source = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content;
  await pipeline(
    source,
    async function* (chunks: AsyncIterable<Buffer>) {
      for await (const chunk of chunks) {
        hash.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    },
    // Through the fs module object (as s3rver's own store does), so a test can slow the disk down for both.
    fs.createWriteStream(path), // pipeline resolves after its 'finish' and 'close': every write has reached the file
  );
  const md5 = hash.digest('hex');
  await store.putMetadata(object.bucket, object.key, object.metadata, md5);
  return { size, md5 };
}
