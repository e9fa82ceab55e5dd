// A real edge for tests: SQLite in a temp dir, @hono/node-server on a random loopback port, and
// in-memory fakes for the blob store and cache (tests of those use the real adapters).
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EdgeConfigInput } from '../../edge/config.ts';
import { type RunningEdge, type StartEdgeOptions, startEdge } from '../../edge/node/server.ts';
import type { BlobHead, BlobStore, KeyValueCache, PresignedPut } from '../../edge/ports.ts';
import { type BlobListOptions, type BlobListPage, listLimit } from '../../shared/storage/blob-store.ts';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';
export const WORKER_TOKEN = 'test-worker-token-0123456789';

export class FakeBlobStore implements BlobStore {
  /** lastModified: when put() stored it (tests may change it). */
  readonly objects = new Map<string, { body: Uint8Array; contentType: string; lastModified?: Date }>();
  async put(key: string, body: Uint8Array, contentType: string): Promise<void> {
    this.objects.set(key, { body: body.slice(), contentType, lastModified: new Date() });
  }
  async get(key: string): Promise<Uint8Array | null> {
    return this.objects.get(key)?.body.slice() ?? null;
  }
  async head(key: string): Promise<BlobHead | null> {
    const o = this.objects.get(key);
    return o ? { size: o.body.byteLength, contentType: o.contentType } : null;
  }
  async delete(keys: string[]): Promise<void> {
    for (const k of keys) this.objects.delete(k);
  }
  /** S3's order: UTF-16 code units and UTF-8 bytes sort ASCII keys alike. */
  async list(prefix: string, opts: BlobListOptions = {}): Promise<BlobListPage> {
    const limit = listLimit(opts);
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix) && (!opts.cursor || k > opts.cursor)).sort();
    const page = keys.slice(0, limit);
    const objects = page.map((key) => {
      const o = this.objects.get(key)!;
      return { key, size: o.body.byteLength, lastModified: o.lastModified ?? new Date() };
    });
    return { objects, cursor: keys.length > limit ? page[page.length - 1] : null };
  }
  async presignPut(key: string, contentType: string, bytes: number, expiresInSeconds: number): Promise<PresignedPut> {
    return {
      url: `http://fake-s3.invalid/${key}`,
      method: 'PUT',
      headers: { 'content-type': contentType, 'content-length': String(bytes) },
      expiresAt: new Date(Date.now() + expiresInSeconds * 1000),
    };
  }
}

export class FakeCache implements KeyValueCache {
  readonly map = new Map<string, string>();
  async get(key: string) {
    return this.map.get(key) ?? null;
  }
  async put(key: string, value: string) {
    this.map.set(key, value);
  }
  async delete(key: string) {
    this.map.delete(key);
  }
}

export interface TestEdge extends RunningEdge {
  dataDir: string;
  /** What the app logged through config.logger.error ([message, detail] pairs). */
  loggedErrors: unknown[][];
  /** fetch relative to the edge URL. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** POST /v1/tenants as admin; the new tenant's id and key. */
  createTenant(name?: string): Promise<{ id: string; name: string; api_key: string }>;
}

/** The background timer (edge/background.ts) is off unless `opts.backgroundIntervalMs` is given, so tests drive it. */
export async function startTestEdge(
  config: Partial<EdgeConfigInput> = {},
  opts: Pick<StartEdgeOptions, 'backgroundIntervalMs' | 'webhooks' | 'fetchImpl'> = {},
): Promise<TestEdge> {
  const dataDir = mkdtempSync(join(tmpdir(), 'edge-test-'));
  const errors: unknown[][] = [];
  const edge = await startEdge({
    dataDir,
    port: 0,
    config: {
      adminToken: ADMIN_TOKEN,
      workerToken: WORKER_TOKEN,
      logger: { error: (m, d) => errors.push([m, d]), warn: () => {} },
      ...config,
    },
    blobs: new FakeBlobStore(),
    cache: new FakeCache(),
    backgroundIntervalMs: 0,
    ...opts,
  });
  const f = (path: string, init?: RequestInit) => fetch(edge.url + path, init);
  return {
    ...edge,
    dataDir,
    loggedErrors: errors,
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
      await edge.close();
      rmSync(dataDir, { recursive: true, force: true });
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
