// The object-storage port shared by the edge and the GPU worker process, with two adapters over the S3
// protocol: s3-blob-store.ts (AWS SDK; Node) and aws4fetch-blob-store.ts (fetch + SigV4; Cloudflare Workers).
// Every key is built by shared/storage/keys.ts.

export interface BlobHead {
  size: number;
  contentType: string | null;
}

/** One object of a listing. */
export interface BlobListing {
  key: string;
  size: number;
  lastModified: Date;
}

export interface BlobListPage {
  /** In key order (S3 lists keys in UTF-8 byte order). */
  objects: BlobListing[];
  /** Pass it as `cursor` to get the next page (it is the page's last key); null when the listing is complete. */
  cursor: string | null;
}

export interface BlobListOptions {
  /** Start after this key (a page's `cursor`, or any key); default: from the start of the prefix. */
  cursor?: string | null;
  /** Most objects in the page, 1..1000 (default 1000). */
  limit?: number;
}

/** S3 lists at most this many keys per request. */
export const MAX_LIST_LIMIT = 1000;

/** The page size `opts.limit` asks for; throws on anything but an integer 1..1000. */
export function listLimit(opts: BlobListOptions = {}): number {
  const limit = opts.limit ?? MAX_LIST_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) throw new Error(`list: limit must be an integer 1..${MAX_LIST_LIMIT}, got ${limit}`);
  return limit;
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
  /**
   * One page of the objects whose keys start with `prefix`, in key order, after `opts.cursor`. The cursor is a key
   * (S3's marker), so a listing can be resumed later, even by another process, from a cursor stored anywhere.
   */
  list(prefix: string, opts?: BlobListOptions): Promise<BlobListPage>;
  /** A URL that lets one PUT of exactly `bytes` bytes of `contentType` to `key` until `expiresInSeconds` from now. */
  presignPut(key: string, contentType: string, bytes: number, expiresInSeconds: number): Promise<PresignedPut>;
}
