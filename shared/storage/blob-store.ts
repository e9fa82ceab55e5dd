// The object-storage port shared by the edge and the GPU worker process, with two adapters over the S3
// protocol: s3-blob-store.ts (AWS SDK; Node) and aws4fetch-blob-store.ts (fetch + SigV4; Cloudflare Workers).
// Every key is built by shared/storage/keys.ts.

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
