// The three ports through which the edge touches the world, so one app runs on Cloudflare Workers
// (D1, R2/S3 via aws4fetch, KV) and on Node (better-sqlite3, @aws-sdk/client-s3, in-process cache).

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

export interface BlobHead {
  size: number;
  contentType: string | null;
}

export interface PresignedPut {
  url: string;
  method: 'PUT';
  /** Headers the client must send with the PUT (they are part of the signature). */
  headers: Record<string, string>;
  expiresAt: Date;
}

/** Object storage over the S3 protocol. Keys are server-generated (never user input). */
export interface BlobStore {
  put(key: string, body: Uint8Array, contentType: string): Promise<void>;
  get(key: string): Promise<Uint8Array | null>;
  head(key: string): Promise<BlobHead | null>;
  delete(keys: string[]): Promise<void>;
  /** A URL that lets one PUT of exactly `bytes` bytes of `contentType` to `key` until `expiresInSeconds` from now. */
  presignPut(key: string, contentType: string, bytes: number, expiresInSeconds: number): Promise<PresignedPut>;
}

export interface KeyValueCache {
  get(key: string): Promise<string | null>;
  put(key: string, value: string, ttlSeconds?: number): Promise<void>;
  delete(key: string): Promise<void>;
}

export interface Ports {
  db: SqlDatabase;
  blobs: BlobStore;
  cache: KeyValueCache;
}
