// The three ports through which the edge touches the world, so one app runs on Cloudflare Workers
// (D1, R2/S3 via aws4fetch, KV) and on Node (better-sqlite3, @aws-sdk/client-s3, in-process cache).
// The blob store port and its two S3 adapters live in shared/storage/ (the GPU worker uses them too).

export type SqlValue = string | number | null;

export interface SqlStatement {
  bind(...values: SqlValue[]): SqlStatement;
  /** First row or null. */
  first<T = Record<string, SqlValue>>(): Promise<T | null>;
  all<T = Record<string, SqlValue>>(): Promise<T[]>;
  run(): Promise<{ changes: number }>;
}

/** D1-shaped SQL database. `batch` runs its statements in one transaction (all or nothing). */
export interface SqlDatabase {
  prepare(sql: string): SqlStatement;
  batch(statements: SqlStatement[]): Promise<{ changes: number }[]>;
}

export type { BlobHead, BlobStore, PresignedPut } from '../shared/storage/blob-store.ts';
import type { BlobStore } from '../shared/storage/blob-store.ts';
import type { RateLimits } from './http/rate-limit.ts';
import type { MetricsExporter } from './metrics/exporter.ts';

export interface KeyValueCache {
  get(key: string): Promise<string | null>;
  put(key: string, value: string, ttlSeconds?: number): Promise<void>;
  delete(key: string): Promise<void>;
}

/** A message of the webhook queue: one delivery (a webhook_deliveries row) to attempt; `reason` on dead letters. */
export interface WebhookMessage {
  delivery_id: string;
  reason?: string;
}

/** A message queue (Workers: a Cloudflare Queues producer binding, edge/workers/queues.ts). */
export interface WebhookQueue {
  /** Sends the messages; with delaySeconds none is delivered before then. */
  send(messages: WebhookMessage[], delaySeconds?: number): Promise<void>;
}

/** One static file of the web console. */
export interface ConsoleFile {
  body: ReadableStream<Uint8Array> | Uint8Array;
  contentType: string;
  /** A strong validator of the content (quoted), or null. */
  etag: string | null;
}

/**
 * The web console's static files (edge/routes/console.ts serves them at /console): Node reads the built folder
 * (edge/node/console-assets.ts), Workers the static-assets binding (edge/workers/console-assets.ts).
 */
export interface ConsoleAssets {
  /** The file `name` (e.g. "index.html", "app.js"), or null when there is none. */
  get(name: string): Promise<ConsoleFile | null>;
}

export interface Ports {
  db: SqlDatabase;
  blobs: BlobStore;
  cache: KeyValueCache;
  /** Request and failed-authentication limits (edge/http/rate-limit.ts); absent: memory counters, no client address. */
  rateLimits?: RateLimits;
  /**
   * Workers with the WEBHOOK_QUEUE binding: deliveries go through the queue (edge/webhooks/queue.ts, consumer.ts) and
   * the cron only enqueues what has no message. Absent (Node): the background timer's dispatcher sends them.
   */
  webhookQueue?: WebhookQueue;
  /** Where deliveries whose schedule ended are reported (the dead-letter queue); optional. */
  webhookDeadLetters?: WebhookQueue;
  /** Node: the Prometheus registry of GET /metrics and the request counters (edge/metrics/prometheus.ts). Workers: none. */
  metrics?: MetricsExporter;
  /** The web console's built files; absent: /console answers 404 saying the console is not built. */
  consoleAssets?: ConsoleAssets;
}
