// A real edge for tests: SQLite in a temp dir, @hono/node-server on a random loopback port, the real S3 blob store
// (S3BlobStore over an s3rver on disk, one per test file, a fresh bucket per edge) and the real Node cache
// (MemoryCache, TTLs honoured). A test that needs a fault the real parts cannot produce passes its own `blobs`.
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EdgeConfigInput } from '../../edge/config.ts';
import { MemoryCache } from '../../edge/node/memory-cache.ts';
import { type RunningEdge, type StartEdgeOptions, startEdge } from '../../edge/node/server.ts';
import { S3BlobStore } from '../../shared/storage/s3-blob-store.ts';
import { type RunningS3rver, s3Config, startS3rver } from './s3rver.ts';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';
export const WORKER_TOKEN = 'test-worker-token-0123456789';

// One s3rver per test file (vitest loads this module once per file): started by the first store asked for,
// stopped when the last store using it is released (the last edge closes).
let s3rver: Promise<RunningS3rver> | null = null;
let s3rverUsers = 0;
let bucketSeq = 0;

export interface TestBlobStore {
  blobs: S3BlobStore;
  /** The file's s3rver (e.g. to age an object with setLastModified). */
  s3: RunningS3rver;
  /** Gives the s3rver back; the last release stops it (and removes its directory). */
  release(): Promise<void>;
}

/** An S3BlobStore on a new, empty bucket of this test file's s3rver (started on first use). */
export async function testBlobStore(): Promise<TestBlobStore> {
  s3rverUsers++;
  let s3: RunningS3rver;
  try {
    s3 = await (s3rver ??= startS3rver());
    const blobs = new S3BlobStore(s3Config(s3.endpoint, `edge-${process.pid}-${++bucketSeq}`));
    await blobs.ensureBucket();
    let released = false;
    return {
      blobs,
      s3,
      async release() {
        if (released) return;
        released = true;
        await releaseS3rver();
      },
    };
  } catch (err) {
    await releaseS3rver();
    throw err;
  }
}

async function releaseS3rver(): Promise<void> {
  if (--s3rverUsers > 0 || !s3rver) return;
  const running = s3rver;
  s3rver = null;
  await (await running.catch(() => null))?.stop();
}

/**
 * A blob store for apps built with createApp whose routes never touch blobs: the real S3 adapter pointed at a port
 * nothing listens on, so a call that does reach it fails loudly instead of passing against a stand-in.
 */
export function unreachableBlobStore(): S3BlobStore {
  return new S3BlobStore({ ...s3Config('http://127.0.0.1:1', 'unreachable'), timeoutMs: 2000 });
}

export interface TestEdge extends RunningEdge {
  dataDir: string;
  /** What the app logged through config.logger.error ([message, detail] pairs). */
  loggedErrors: unknown[][];
  /** The file's s3rver behind the edge's blob store; null when the test passed its own `blobs`. */
  s3: RunningS3rver | null;
  /** fetch relative to the edge URL. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** POST /v1/tenants as admin; the new tenant's id and key. */
  createTenant(name?: string): Promise<{ id: string; name: string; api_key: string }>;
}

/**
 * The background timer (edge/background.ts) is off unless `opts.backgroundIntervalMs` is given, so tests drive it.
 * Blobs: S3BlobStore on a fresh bucket of the file's s3rver unless `opts.blobs` is given; cache: MemoryCache unless
 * `opts.cache` is given.
 */
export async function startTestEdge(
  config: Partial<EdgeConfigInput> = {},
  opts: Pick<StartEdgeOptions, 'backgroundIntervalMs' | 'webhooks' | 'fetchImpl' | 'blobs' | 'cache'> = {},
): Promise<TestEdge> {
  const store = opts.blobs ? null : await testBlobStore();
  const dataDir = mkdtempSync(join(tmpdir(), 'edge-test-'));
  const errors: unknown[][] = [];
  let edge: RunningEdge;
  try {
    edge = await startEdge({
      dataDir,
      port: 0,
      config: {
        adminToken: ADMIN_TOKEN,
        workerToken: WORKER_TOKEN,
        logger: { error: (m, d) => errors.push([m, d]), warn: () => {} },
        ...config,
      },
      backgroundIntervalMs: 0,
      ...opts,
      blobs: opts.blobs ?? store!.blobs,
      cache: opts.cache ?? new MemoryCache(),
    });
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    await store?.release();
    throw err;
  }
  const f = (path: string, init?: RequestInit) => fetch(edge.url + path, init);
  let closed = false;
  return {
    ...edge,
    dataDir,
    loggedErrors: errors,
    s3: store?.s3 ?? null,
    fetch: f,
    async createTenant(name = 'Acme') {
      const res = await f('/v1/tenants', {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name }),
      });
      if (res.status !== 201) throw new Error(`createTenant: ${res.status} ${await res.text()}`);
      return (await res.json()) as { id: string; name: string; api_key: string };
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await edge.close();
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
        await store?.release();
      }
    },
  };
}

/** Serves any Hono app on a random loopback port (for middleware/helper tests). */
export async function serveApp(app: Hono<any, any, any>): Promise<{ url: string; close(): Promise<void> }> {
  return new Promise((ok, fail) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) =>
      ok({
        url: `http://127.0.0.1:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            (server as { closeAllConnections?: () => void }).closeAllConnections?.();
          }),
      }),
    );
    server.once('error', fail);
  });
}

export function bearer(token: string, extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${token}`, ...extra };
}

export function jsonHeaders(token: string, extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...extra };
}
