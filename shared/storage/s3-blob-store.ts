// BlobStore on @aws-sdk/client-s3 (Node): any S3-protocol server (AWS S3, R2's S3 endpoint, MinIO, s3rver).
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { type BlobHead, type BlobListOptions, type BlobListPage, type BlobStore, type PresignedPut, listLimit } from './blob-store.ts';
import { throwDeleteErrors } from './delete-errors.ts';

export interface S3BlobStoreOptions {
  /** e.g. http://127.0.0.1:9000; omitted for AWS S3 itself. */
  endpoint?: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Path-style URLs (endpoint/bucket/key) instead of virtual-host style (bucket.endpoint/key). */
  forcePathStyle?: boolean;
  /**
   * A call whose connection cannot be made, or whose socket stays silent, for this long fails (default
   * DEFAULT_S3_TIMEOUT_MS): a stalled S3 never hangs a request, a heartbeat or a training job.
   */
  timeoutMs?: number;
  /** The signing time of presigned URLs (default the system clock): a test signs in the past to get an expired URL. */
  clock?: () => Date;
}

/** How long an S3 call may wait on a silent connection before it fails. */
export const DEFAULT_S3_TIMEOUT_MS = 30_000;

/** S3 DeleteObjects takes at most this many keys per request. */
const DELETE_CHUNK = 1000;

/**
 * A 404 about the object. A missing bucket is a misconfiguration and propagates where S3 says so
 * (GET's error body names NoSuchBucket); HEAD responses have no body, so there any 404 is "not found".
 */
function isNotFound(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'NoSuchBucket') return false;
  if (err.name === 'NoSuchKey' || err.name === 'NotFound') return true;
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return status === 404;
}

function describe(err: unknown): string {
  if (err instanceof S3ServiceException) return `${err.name}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

export class S3BlobStore implements BlobStore {
  readonly client: S3Client;
  readonly bucket: string;
  private readonly clock: () => Date;

  constructor(opts: S3BlobStoreOptions) {
    this.bucket = opts.bucket;
    this.clock = opts.clock ?? (() => new Date());
    this.client = new S3Client({
      endpoint: opts.endpoint,
      region: opts.region,
      forcePathStyle: opts.forcePathStyle ?? false,
      credentials: { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey },
      // Idle (not total) time: a large upload that keeps sending is fine, a silent socket fails the call.
      requestHandler: {
        connectionTimeout: Math.min(opts.timeoutMs ?? DEFAULT_S3_TIMEOUT_MS, 10_000),
        socketTimeout: opts.timeoutMs ?? DEFAULT_S3_TIMEOUT_MS,
      },
      // Without this the SDK adds a CRC32 of the (empty) body to presigned PUT URLs
      // (x-amz-checksum-crc32 + x-amz-sdk-checksum-algorithm), which real S3 then checks against the
      // uploaded bytes and rejects. Checksums stay on for operations that require one (DeleteObjects).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  private fail(op: string, key: string, err: unknown): never {
    throw new Error(`S3 ${op} ${this.bucket}/${key} failed: ${describe(err)}`, { cause: err });
  }

  /** Creates the bucket when it does not exist (for local/dev servers; production buckets are provisioned). */
  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return;
    } catch (err) {
      if (!isNotFound(err)) throw new Error(`S3 HeadBucket ${this.bucket} failed: ${describe(err)}`, { cause: err });
    }
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      // Lost a race with another creator: fine.
      if (err instanceof Error && (err.name === 'BucketAlreadyOwnedByYou' || err.name === 'BucketAlreadyExists')) return;
      throw new Error(`S3 CreateBucket ${this.bucket} failed: ${describe(err)}`, { cause: err });
    }
  }

  async put(key: string, body: Uint8Array, contentType: string): Promise<void> {
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: contentType,
          ContentLength: body.byteLength,
        }),
      );
    } catch (err) {
      this.fail('PutObject', key, err);
    }
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!out.Body) return new Uint8Array(0);
      return await out.Body.transformToByteArray();
    } catch (err) {
      if (isNotFound(err)) return null;
      this.fail('GetObject', key, err);
    }
  }

  async head(key: string): Promise<BlobHead | null> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: out.ContentLength ?? 0, contentType: out.ContentType ?? null };
    } catch (err) {
      if (isNotFound(err)) return null;
      this.fail('HeadObject', key, err);
    }
  }

  /** Deletes the keys (missing ones are no error), in DeleteObjects requests of at most 1000 keys. */
  async delete(keys: string[]): Promise<void> {
    const unique = [...new Set(keys)];
    for (let i = 0; i < unique.length; i += DELETE_CHUNK) {
      const chunk = unique.slice(i, i + DELETE_CHUNK);
      let out;
      try {
        out = await this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: chunk.map((Key) => ({ Key })), Quiet: true },
          }),
        );
      } catch (err) {
        this.fail('DeleteObjects', chunk.length === 1 ? chunk[0] : `${chunk[0]} (+${chunk.length - 1} more)`, err);
      }
      // DeleteObjects answers 200 even when single keys fail; those come back in Errors.
      throwDeleteErrors(this.bucket, (out.Errors ?? []).map((e) => ({ key: e.Key, code: e.Code, message: e.Message })));
    }
  }

  /**
   * One page of ListObjects (version 1: the cursor is a key, sent as `marker`; see aws4fetch-blob-store.ts for why
   * not ListObjectsV2's continuation tokens).
   */
  async list(prefix: string, opts: BlobListOptions = {}): Promise<BlobListPage> {
    const limit = listLimit(opts);
    let out;
    try {
      out = await this.client.send(new ListObjectsCommand({ Bucket: this.bucket, Prefix: prefix, Marker: opts.cursor ?? undefined, MaxKeys: limit }));
    } catch (err) {
      this.fail('ListObjects', prefix, err);
    }
    const objects = (out.Contents ?? []).map((o) => {
      // No guessing: an entry without its key or date (S3 always sends both) fails the page.
      if (o.Key === undefined || !(o.LastModified instanceof Date)) throw new Error(`S3 ListObjects ${this.bucket}/${prefix} failed: an entry without Key or LastModified`);
      return { key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified };
    });
    const last = out.NextMarker ?? objects.at(-1)?.key;
    if (out.IsTruncated && last === undefined) throw new Error(`S3 ListObjects ${this.bucket}/${prefix} failed: a truncated page without keys`);
    return { objects, cursor: out.IsTruncated ? (last as string) : null };
  }

  /**
   * A presigned PUT whose signature covers Content-Type and Content-Length: S3 refuses the upload
   * unless the client sends exactly these two headers with these values (so exactly `bytes` bytes).
   */
  async presignPut(key: string, contentType: string, bytes: number, expiresInSeconds: number): Promise<PresignedPut> {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new Error(`presignPut ${key}: invalid byte count ${bytes}`);
    const signedAt = this.clock();
    let url: string;
    try {
      url = await getSignedUrl(
        this.client,
        new PutObjectCommand({ Bucket: this.bucket, Key: key, ContentType: contentType, ContentLength: bytes }),
        {
          expiresIn: expiresInSeconds,
          signingDate: signedAt,
          // The presigner puts content-type in its unsignable set; signableHeaders overrides that.
          // Neither header starts with x-amz-, so neither is hoisted into the query string: both stay
          // signed headers (X-Amz-SignedHeaders=content-length;content-type;host) the client must send.
          signableHeaders: new Set(['content-type', 'content-length']),
        },
      );
    } catch (err) {
      this.fail('presign PutObject', key, err);
    }
    // X-Amz-Date has whole seconds; the URL stops working expiresIn seconds after that.
    const expiresAt = new Date(Math.floor(signedAt.getTime() / 1000) * 1000 + expiresInSeconds * 1000);
    return {
      url,
      method: 'PUT',
      headers: { 'content-type': contentType, 'content-length': String(bytes) },
      expiresAt,
    };
  }
}
