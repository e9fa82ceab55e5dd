// The local stack's S3-protocol server (s3rver on disk) as its own process, started and supervised by
// scripts/start-local.ts (`npm start`), so that its memory is its own and not the edge's.
//
// Environment: S3_DIR (the data directory), S3_PORT, S3_BUCKET; listens on 127.0.0.1. S3_CORS_ORIGINS (comma-separated,
// e.g. the edge's http://127.0.0.1:8787): the bucket's CORS rule lets pages of exactly these origins PUT objects (the
// web console's presigned uploads, docs/console.md); without it browsers get no CORS answer.
// With an IPC channel (as start-local spawns it) it sends { type: 'ready', port } once listening and answers
// { type: 'memory-sample', id } with its memory after a forced garbage collection when run with --expose-gc
// (see memorySample). SIGTERM / SIGINT, or the parent going away (IPC disconnect), close the server and exit.
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type S3rverStore, answerPutsOnceWritten } from './s3rver-written-put.ts';

// s3rver ships no type declarations; the part of its API used here.
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  store: S3rverStore;
}
type S3rverCtor = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets: { name: string; configs?: string[] }[];
}) => S3rverInstance;

/**
 * The bucket CORS rule of the local stack: browsers on `origins` may PUT (the presigned uploads sign content-type,
 * the one header they set; the browser computes content-length itself).
 */
export function corsConfiguration(origins: string[]): string {
  const esc = (v: string) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return [
    '<CORSConfiguration>',
    '  <CORSRule>',
    ...origins.map((o) => `    <AllowedOrigin>${esc(o)}</AllowedOrigin>`),
    '    <AllowedMethod>PUT</AllowedMethod>',
    '    <AllowedHeader>content-type</AllowedHeader>',
    '    <MaxAgeSeconds>600</MaxAgeSeconds>',
    '  </CORSRule>',
    '</CORSConfiguration>',
  ].join('\n');
}

/** A process's memory in bytes; `gc` tells whether a full garbage collection ran just before it was read. */
export interface MemorySample {
  pid: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  gc: boolean;
}

/** This process's memory, after a forced full GC when the process runs with --expose-gc. */
export function memorySample(): MemorySample {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) gc();
  const m = process.memoryUsage();
  return { pid: process.pid, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, gc: !!gc };
}

async function main(): Promise<void> {
  const directory = process.env.S3_DIR;
  const bucket = process.env.S3_BUCKET || 'cocoop';
  const port = Number(process.env.S3_PORT ?? '0');
  if (!directory || !(Number.isInteger(port) && port >= 0 && port < 65536)) throw new Error('S3_DIR and S3_PORT (0..65535) are required');
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverCtor;
  const origins = (process.env.S3_CORS_ORIGINS ?? '').split(',').map((o) => o.trim()).filter((o) => o !== '');
  const configs = origins.length > 0 ? [corsConfiguration(origins)] : [];
  const server = new S3rver({ address: '127.0.0.1', port, silent: true, directory, configureBuckets: [{ name: bucket, configs }] });
  answerPutsOnceWritten(server.store); // a HEAD right after a PUT's answer sees the whole object
  const addr = await server.run();
  process.stdout.write(`s3rver listening on http://127.0.0.1:${addr.port} (bucket ${bucket}, data: ${directory})\n`);

  let closing = false;
  const close = (code: number) => {
    if (closing) return;
    closing = true;
    server.close().then(
      () => process.exit(code),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => close(0));
  process.on('SIGINT', () => close(0));
  if (process.send) {
    process.on('message', (msg: { type?: string; id?: number }) => {
      if (msg?.type === 'memory-sample') process.send!({ type: 'memory-sample', id: msg.id, sample: memorySample() });
    });
    process.on('disconnect', () => close(0));
    process.send({ type: 'ready', port: addr.port });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
