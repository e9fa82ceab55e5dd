// The edge on Node: SQLite at ${dataDir}/edge.sqlite (migrations applied), S3BlobStore, MemoryCache,
// served by @hono/node-server. `startEdge` for tests and the local launcher; run this file for a
// stand-alone edge (env: PORT, HOST, DATA_DIR, ADMIN_TOKEN, WORKER_TOKEN, S3_*, see configFromEnv;
// WEBHOOK_RETRY_SCHEDULE, BACKGROUND_INTERVAL_MS). A background timer (edge/background.ts) sends webhooks
// and purges expired rows while the edge runs.
import { serve } from '@hono/node-server';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type EdgeApp, createApp } from '../app.ts';
import { type BackgroundTimer, startBackgroundTimer } from '../background.ts';
import { type EdgeConfig, type EdgeConfigInput, configFromEnv, resolveConfig } from '../config.ts';
import { randomString } from '../crypto.ts';
import { guardedFetch, nodeResolver } from './dns-resolver.ts';
import { nodeRateLimits } from './rate-limits.ts';
import { PrometheusMetrics } from '../metrics/prometheus.ts';
import { SqliteDatabase } from './sqlite-database.ts';
import { BUILT_CONSOLE_DIR, fileConsoleAssets } from './console-assets.ts';
import type { S3BlobStoreOptions } from '../../shared/storage/s3-blob-store.ts';
import type { BlobStore, KeyValueCache, Ports } from '../ports.ts';
import { type WebhookSettings, webhookSettings } from '../webhooks/settings.ts';
import { s3OptionsFromEnv } from '../../shared/storage/s3-env.ts';
import { portFromEnv } from '../../shared/util/env.ts';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../infra/migrations/', import.meta.url));

export interface StartEdgeOptions {
  /** Holds edge.sqlite; created when missing. */
  dataDir: string;
  /** Default 8787; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  hostname?: string;
  config: EdgeConfigInput;
  /** S3 server of the blob store; not needed when `blobs` is given. */
  s3?: S3BlobStoreOptions;
  /** Create the bucket when missing (local servers). Default: config.localMode. */
  ensureBucket?: boolean;
  /** Replace the S3 blob store / memory cache (tests). */
  blobs?: BlobStore;
  cache?: KeyValueCache;
  /**
   * Period of the background tasks (webhook dispatch, purges, expired uploads; edge/background.ts).
   * Default 1000 ms in local mode, 5000 ms otherwise; 0 disables the timer.
   */
  backgroundIntervalMs?: number;
  /** Overrides of the webhook settings (defaults: production schedule, loopback allowed in local mode, Node DNS check). */
  webhooks?: Partial<WebhookSettings>;
  /** fetch used for webhook deliveries (tests). */
  fetchImpl?: typeof fetch;
  /** The built web console served at /console (default: console/dist/site/console, see scripts/build-console.ts). */
  consoleDir?: string;
}

export interface RunningEdge {
  /** e.g. http://127.0.0.1:41234 (no trailing slash) */
  url: string;
  app: EdgeApp;
  ports: Ports;
  db: SqliteDatabase;
  config: EdgeConfig;
  webhookSettings: WebhookSettings;
  /** null when disabled (backgroundIntervalMs: 0). */
  background: BackgroundTimer | null;
  close(): Promise<void>;
}

/** Background timer period when not given: snappy on a developer machine, lighter on a server. */
export function defaultBackgroundIntervalMs(config: Pick<EdgeConfig, 'localMode'>): number {
  return config.localMode ? 1000 : 5000;
}

/**
 * Webhook settings from the environment: WEBHOOK_RETRY_SCHEDULE (optional) = comma-separated retry delays
 * in seconds, e.g. "1,5,30" (attempts in all = count + 1); loopback receivers allowed in local mode;
 * the Node DNS resolver for the delivery-time address check.
 */
export function webhookSettingsFromEnv(
  env: Record<string, string | undefined>,
  config: Pick<EdgeConfig, 'localMode'>,
): WebhookSettings {
  const out: Partial<WebhookSettings> = {};
  const raw = env.WEBHOOK_RETRY_SCHEDULE?.trim();
  if (raw) {
    const parts = raw.split(',').map((p) => p.trim());
    if (!parts.every((p) => /^\d+(\.\d+)?$/.test(p))) {
      throw new Error(`WEBHOOK_RETRY_SCHEDULE must be comma-separated seconds >= 0 (e.g. "1,5,30"), got ${JSON.stringify(env.WEBHOOK_RETRY_SCHEDULE)}`);
    }
    out.retryScheduleSeconds = parts.map(Number);
  }
  return resolveWebhookSettings(config, out);
}

function resolveWebhookSettings(config: Pick<EdgeConfig, 'localMode'>, overrides: Partial<WebhookSettings> = {}): WebhookSettings {
  return webhookSettings({ localMode: config.localMode, resolver: nodeResolver, ...overrides });
}

/** BACKGROUND_INTERVAL_MS (optional, 0 disables). */
function backgroundIntervalFromEnv(env: Record<string, string | undefined>): number | undefined {
  const raw = env.BACKGROUND_INTERVAL_MS?.trim();
  if (!raw) return undefined;
  if (!/^\d+$/.test(raw)) throw new Error(`BACKGROUND_INTERVAL_MS must be a whole number of milliseconds, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

async function makeBlobStore(opts: StartEdgeOptions, config: EdgeConfig): Promise<BlobStore> {
  if (opts.blobs) return opts.blobs;
  if (!opts.s3) throw new Error('startEdge: give `s3` (S3 server options) or `blobs`');
  // Imported lazily: @aws-sdk/client-s3 is loaded only when a real S3 store is used.
  const { S3BlobStore } = await import('../../shared/storage/s3-blob-store.ts');
  const store = new S3BlobStore(opts.s3);
  if (opts.ensureBucket ?? config.localMode) await store.ensureBucket();
  return store;
}

async function makeCache(opts: StartEdgeOptions): Promise<KeyValueCache> {
  if (opts.cache) return opts.cache;
  const { MemoryCache } = await import('./memory-cache.ts');
  return new MemoryCache();
}

/**
 * Requests Node's HTTP parser refuses before the app sees them (headers over its 16 KiB limit, a malformed
 * request line or header) get the API's error shape: 400 invalid_request instead of Node's bare 431/400.
 * A request timeout keeps Node's 408; a socket already answering or gone is just closed.
 */
function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable || (socket as Duplex & { bytesWritten?: number }).bytesWritten) {
    socket.destroy();
    return;
  }
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
    return;
  }
  const message =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? 'The request headers are larger than 16 KiB; send a shorter Authorization header and fewer or smaller headers.'
      : 'The request is not valid HTTP/1.1 (malformed request line or header); check the client.';
  const body = JSON.stringify({ error: { code: 'invalid_request', message } });
  socket.end(
    `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export async function startEdge(opts: StartEdgeOptions): Promise<RunningEdge> {
  const config = resolveConfig(opts.config);
  const hooks = resolveWebhookSettings(config, opts.webhooks);
  const intervalMs = opts.backgroundIntervalMs ?? defaultBackgroundIntervalMs(config);
  if (!(Number.isFinite(intervalMs) && intervalMs >= 0)) throw new Error(`startEdge: backgroundIntervalMs must be >= 0, got ${intervalMs}`);
  mkdirSync(opts.dataDir, { recursive: true });
  const db = new SqliteDatabase(join(opts.dataDir, 'edge.sqlite'));
  try {
    db.migrate(MIGRATIONS_DIR);
    const ports: Ports = { db, blobs: await makeBlobStore(opts, config), cache: await makeCache(opts), rateLimits: nodeRateLimits(config.rateLimit, config.clock), metrics: new PrometheusMetrics() };
    ports.consoleAssets = fileConsoleAssets(opts.consoleDir ?? BUILT_CONSOLE_DIR);
    const app = createApp(ports, config);
    const hostname = opts.hostname ?? '127.0.0.1';
    const { server, address } = await new Promise<{ server: ReturnType<typeof serve>; address: AddressInfo }>((ok, fail) => {
      const server = serve({ fetch: app.fetch, port: opts.port ?? 8787, hostname }, (address) => ok({ server, address }));
      server.once('error', fail);
    });
    server.on('clientError', answerClientError);
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const background =
      intervalMs > 0 ? startBackgroundTimer(ports, config, hooks, {
            intervalMs,
            // Deliveries connect only to the addresses the URL guard just checked (no DNS-rebinding window).
            fetchImpl: opts.fetchImpl ?? guardedFetch(hooks.resolver ?? nodeResolver, hooks),
          }) : null;
    let closed = false;
    return {
      url: `http://${host}:${address.port}`,
      app,
      ports,
      db,
      config,
      webhookSettings: hooks,
      background,
      async close() {
        if (closed) return;
        closed = true;
        // The timer first: a run in progress finishes before the database closes.
        await background?.stop();
        await new Promise<void>((ok) => {
          server.close(() => ok());
          // Keep-alive connections would hold close() open.
          (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        });
        db.close();
      },
    };
  } catch (err) {
    db.close();
    throw err;
  }
}

/** ADMIN_TOKEN from the environment, else ${dataDir}/admin-token, else a new one written there. */
export function adminToken(env: NodeJS.ProcessEnv, dataDir: string): { token: string; generated: boolean } {
  if (env.ADMIN_TOKEN) return { token: env.ADMIN_TOKEN, generated: false };
  const file = join(dataDir, 'admin-token');
  if (existsSync(file)) return { token: readFileSync(file, 'utf8').trim(), generated: false };
  const token = `adm_${randomString(40, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789')}`;
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, token + '\n', { mode: 0o600 });
  return { token, generated: true };
}

export function workerToken(env: NodeJS.ProcessEnv, dataDir: string): string {
  if (env.WORKER_TOKEN) return env.WORKER_TOKEN;
  const file = join(dataDir, 'worker-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const token = `wrk_${randomString(40, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789')}`;
  writeFileSync(file, token + '\n', { mode: 0o600 });
  return token;
}

async function main(): Promise<void> {
  const env = process.env;
  const dataDir = resolve(env.DATA_DIR || '.data');
  const admin = adminToken(env, dataDir);
  const config = configFromEnv(env, { adminToken: admin.token, workerToken: workerToken(env, dataDir) });
  const s3 = s3OptionsFromEnv(env);
  if (!s3) throw new Error('set S3_BUCKET (and S3_ENDPOINT, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY for a non-AWS server)');
  const edge = await startEdge({
    dataDir,
    port: portFromEnv(env, 'PORT', 8787),
    hostname: env.HOST || '127.0.0.1',
    config,
    s3,
    webhooks: webhookSettingsFromEnv(env, config),
    backgroundIntervalMs: backgroundIntervalFromEnv(env),
  });
  console.log(`edge listening on ${edge.url} (data: ${dataDir})`);
  if (admin.generated) console.log(`admin token (also in ${join(dataDir, 'admin-token')}): ${admin.token}`);
  const stop = () => {
    edge.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err: unknown) => {
    console.error(`edge: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
