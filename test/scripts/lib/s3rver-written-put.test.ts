// answerPutsOnceWritten (scripts/lib/s3rver-written-put.ts): s3rver's store, patched, resolves a put only once the
// object file holds every byte — what s3rver then reports as the object's size. The disk is made slow here (each
// chunk written a few event-loop turns late, through the fs module object s3rver and the patch both use), which is
// what load does to a real disk. Unpatched, s3rver 3.7.1 resolves a Buffer put at once and a streamed put when its
// hashing stream finishes, the file still short at that moment; the "unpatched" test shows it for a Buffer put with
// the disk held shut (a streamed put cannot finish against a shut disk: its hashing stream waits for the file's).
import { createHash } from 'node:crypto';
import fs, { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type S3rverStore, answerPutsOnceWritten } from '../../../scripts/lib/s3rver-written-put.ts';

type S3rverCtor = new (o: { directory: string; silent: boolean; configureBuckets: { name: string }[] }) => { store: S3rverStore };
const load = createRequire(import.meta.url);
const fsExtra = load('fs-extra') as typeof fs; // the fs s3rver's store writes through

let dir = '';
const newStore = (patched: boolean): S3rverStore => {
  const S3rver = load('s3rver') as S3rverCtor;
  const store = new S3rver({ directory: dir, silent: true, configureBuckets: [{ name: 'b' }] }).store;
  if (patched) answerPutsOnceWritten(store);
  return store;
};

const realCreate = fs.createWriteStream;
const realExtraCreate = fsExtra.createWriteStream;
/**
 * A slow disk: each chunk reaches the real file stream once `ready` lets it — after five event-loop turns by
 * default, or (a closed gate) not until the test opens it.
 */
function slowDisk(ready: (write: () => void) => void = (write) => late(write, 5)): void {
  const slow = ((path: string) => {
    const real = realCreate(path);
    return new Writable({
      write: (chunk: Buffer, _enc, done) => ready(() => real.write(chunk, (err) => done(err ?? null))),
      final: (done) => ready(() => real.end(() => done())),
    });
  }) as unknown as typeof fs.createWriteStream;
  fs.createWriteStream = slow;
  fsExtra.createWriteStream = slow;
}
const late = (f: () => void, turns: number): void => void (turns === 0 ? f() : setImmediate(() => late(f, turns - 1)));

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 's3rver-put-'));
});
afterEach(() => {
  fs.createWriteStream = realCreate;
  fsExtra.createWriteStream = realExtraCreate;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** 2 MiB of bytes that differ from chunk to chunk. */
function payload(): Buffer {
  const b = Buffer.alloc(2 << 20);
  for (let i = 0; i < b.length; i += 4096) b.writeUInt32LE(i, i);
  return b;
}
const chunksOf = (b: Buffer) => Array.from({ length: b.length >> 16 }, (_, i) => b.subarray(i << 16, (i + 1) << 16));
const fileOf = (store: S3rverStore, key: string) => store.getResourcePath('b', key, 'object');

describe('answerPutsOnceWritten, on a slow disk', () => {
  it('a Buffer put resolves with every byte in the object file', async () => {
    const store = newStore(true);
    slowDisk();
    const bytes = payload();
    const r = await store.putObject({ bucket: 'b', key: 'buf/obj', content: bytes, metadata: { 'content-type': 'application/octet-stream' } });
    expect(statSync(fileOf(store, 'buf/obj')).size).toBe(bytes.length);
    expect(readFileSync(fileOf(store, 'buf/obj')).equals(bytes)).toBe(true);
    expect(r).toEqual({ size: bytes.length, md5: createHash('md5').update(bytes).digest('hex') });
  });

  it('a streamed put (as a PUT request is) resolves with every byte in the object file', async () => {
    const store = newStore(true);
    slowDisk();
    const bytes = payload();
    const r = await store.putObject({ bucket: 'b', key: 'stream/obj', content: Readable.from(chunksOf(bytes)), metadata: {} });
    expect(statSync(fileOf(store, 'stream/obj')).size).toBe(bytes.length);
    expect(r).toEqual({ size: bytes.length, md5: createHash('md5').update(bytes).digest('hex') });
  });

  it('unpatched, s3rver resolves a put with nothing written yet (what the patch is for)', async () => {
    const store = newStore(false);
    const held: (() => void)[] = [];
    slowDisk((write) => held.push(write)); // a closed gate: no chunk reaches the file until the test opens it
    const bytes = payload();
    await store.putObject({ bucket: 'b', key: 'raw/buf', content: bytes, metadata: {} });
    expect(statSync(fileOf(store, 'raw/buf')).size).toBe(0);
    expect(held.length).toBeGreaterThan(0);
    for (const write of held.splice(0)) write();
  });
});
