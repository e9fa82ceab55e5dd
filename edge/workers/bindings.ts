// The parts of the Cloudflare Workers runtime types the edge uses, declared here so the repo needs no
// @cloudflare/workers-types (whose globals clash with @types/node in one tsconfig).

export type D1Value = string | number | null | ArrayBuffer;

export interface D1Meta {
  changes: number;
  [key: string]: unknown;
}

export interface D1Result<T = Record<string, unknown>> {
  results: T[];
  success: boolean;
  meta: D1Meta;
}

export interface D1PreparedStatement {
  bind(...values: D1Value[]): D1PreparedStatement;
  first<T = Record<string, unknown>>(): Promise<T | null>;
  all<T = Record<string, unknown>>(): Promise<D1Result<T>>;
  run<T = Record<string, unknown>>(): Promise<D1Result<T>>;
}

export interface D1Database {
  prepare(query: string): D1PreparedStatement;
  batch<T = Record<string, unknown>>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]>;
}

export interface KVNamespace {
  get(key: string, type?: 'text'): Promise<string | null>;
  put(key: string, value: string, options?: { expirationTtl?: number; expiration?: number }): Promise<void>;
  delete(key: string): Promise<void>;
}

export interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
  passThroughOnException(): void;
}

export interface ScheduledController {
  /** Unix ms of the scheduled time. */
  scheduledTime: number;
  cron: string;
}

/** A Workers rate-limiting binding (`[[ratelimits]]` in wrangler.toml): counts one hit of `key` in its period. */
export interface RateLimitBinding {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

/** A Cloudflare Queues producer binding (`[[queues.producers]]`). */
export interface QueueBinding {
  send(body: unknown, options?: { contentType?: 'json' | 'text' | 'bytes' | 'v8'; delaySeconds?: number }): Promise<void>;
  sendBatch(
    messages: Iterable<{ body: unknown; contentType?: 'json' | 'text' | 'bytes' | 'v8'; delaySeconds?: number }>,
    options?: { delaySeconds?: number },
  ): Promise<void>;
}

/** One message of a batch handed to the `queue()` handler (`[[queues.consumers]]`). */
export interface QueueMessage<Body = unknown> {
  readonly id: string;
  readonly timestamp: Date;
  readonly body: Body;
  /** 1 on the first delivery of the message. */
  readonly attempts: number;
  ack(): void;
  retry(options?: { delaySeconds?: number }): void;
}

export interface MessageBatch<Body = unknown> {
  readonly queue: string;
  readonly messages: readonly QueueMessage<Body>[];
  ackAll(): void;
  retryAll(options?: { delaySeconds?: number }): void;
}
