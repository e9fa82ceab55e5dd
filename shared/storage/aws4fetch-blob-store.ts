// BlobStore over the S3 protocol with aws4fetch (fetch + SigV4 in Web Crypto): runs in workerd, where
// @aws-sdk/client-s3 does not. Works against AWS S3, R2's S3 endpoint, MinIO and s3rver.
import { AwsClient, AwsV4Signer } from 'aws4fetch';
import { type BlobHead, type BlobListOptions, type BlobListPage, type BlobStore, type PresignedPut, listLimit } from './blob-store.ts';
import { throwDeleteErrors } from './delete-errors.ts';
import { parseListBucketResult, xmlEscape, xmlTag } from './s3-xml.ts';

export interface Aws4fetchBlobStoreOptions {
  /** e.g. https://<account>.r2.cloudflarestorage.com or http://127.0.0.1:9000; omitted for AWS S3. */
  endpoint?: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** endpoint/bucket/key instead of bucket.endpoint/key. Default: true when an endpoint is given. */
  forcePathStyle?: boolean;
  /** Retries of 5xx/429 answers (aws4fetch backs off exponentially). Default 2. */
  retries?: number;
  /** Injectable for tests. Default: the global fetch. */
  fetch?: typeof fetch;
  /** The signing time of presigned URLs (default the system clock): a test signs in the past to get an expired URL. */
  clock?: () => Date;
  /** Each S3 call (one attempt, answer and body included) fails after this long (default 30 s). */
  timeoutMs?: number;
}

/** S3 DeleteObjects takes at most this many keys per request. */
const DELETE_CHUNK = 1000;

function encodeRfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function base64(bytes: ArrayBuffer): string {
  let s = '';
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s);
}

export class Aws4fetchBlobStore implements BlobStore {
  readonly bucket: string;
  private readonly client: AwsClient;
  private readonly base: URL;
  /** The endpoint's own path prefix, without a trailing slash ('' for most endpoints). */
  private readonly basePath: string;
  private readonly pathStyle: boolean;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly opts: Aws4fetchBlobStoreOptions) {
    this.bucket = opts.bucket;
    this.client = new AwsClient({
      accessKeyId: opts.accessKeyId,
      secretAccessKey: opts.secretAccessKey,
      service: 's3',
      region: opts.region,
    });
    this.pathStyle = opts.forcePathStyle ?? Boolean(opts.endpoint);
    const endpoint = new URL(opts.endpoint ?? `https://s3.${opts.region}.amazonaws.com`);
    if (!this.pathStyle) endpoint.hostname = `${opts.bucket}.${endpoint.hostname}`;
    this.basePath = endpoint.pathname.replace(/\/+$/, '');
    this.base = endpoint;
    this.fetchImpl = opts.fetch ?? ((input, init) => fetch(input, init));
  }

  /** URL of the bucket (trailing slash) or of one object. */
  private url(key?: string): URL {
    const u = new URL(this.base.href);
    const parts = this.pathStyle ? [this.bucket] : [];
    if (key !== undefined) parts.push(...key.split('/').map(encodeURIComponent));
    u.pathname = `${this.basePath}/${parts.join('/')}${key === undefined && parts.length > 0 ? '/' : ''}`;
    return u;
  }

  private async send(url: URL, init: RequestInit): Promise<Response> {
    const req = await this.client.sign(url.href, init);
    let res: Response;
    const retries = this.opts.retries ?? 2;
    for (let i = 0; ; i++) {
      // Re-signing per attempt is not needed within the signature's validity (15 min); the body is bytes.
      res = await this.fetchImpl(req.clone(), { signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000) });
      if ((res.status < 500 && res.status !== 429) || i >= retries) return res;
      await res.body?.cancel().catch(() => {});
      await new Promise((ok) => setTimeout(ok, 50 * 2 ** i));
    }
  }

  private async fail(op: string, key: string, res: Response): Promise<never> {
    const text = await res.text().catch(() => '');
    const code = xmlTag(text, 'Code') ?? `HTTP ${res.status}`;
    const message = xmlTag(text, 'Message');
    throw new Error(`S3 ${op} ${this.bucket}/${key} failed: ${code}${message ? `: ${message}` : ''}`);
  }

  async put(key: string, body: Uint8Array, contentType: string): Promise<void> {
    const res = await this.send(this.url(key), {
      method: 'PUT',
      headers: { 'content-type': contentType },
      body: body as Uint8Array<ArrayBuffer>,
    });
    if (!res.ok) return this.fail('PutObject', key, res);
    await res.body?.cancel().catch(() => {});
  }

  async get(key: string): Promise<Uint8Array | null> {
    const res = await this.send(this.url(key), { method: 'GET' });
    if (res.status === 404) {
      const text = await res.text().catch(() => '');
      // A missing bucket is a misconfiguration, not a missing object.
      if (xmlTag(text, 'Code') === 'NoSuchBucket') throw new Error(`S3 GetObject ${this.bucket}/${key} failed: NoSuchBucket`);
      return null;
    }
    if (!res.ok) return this.fail('GetObject', key, res);
    return new Uint8Array(await res.arrayBuffer());
  }

  async head(key: string): Promise<BlobHead | null> {
    const res = await this.send(this.url(key), { method: 'HEAD' });
    await res.body?.cancel().catch(() => {});
    // HEAD answers have no body: any 404 is "not found".
    if (res.status === 404) return null;
    if (!res.ok) throw new Error(`S3 HeadObject ${this.bucket}/${key} failed: HTTP ${res.status}`);
    return { size: Number(res.headers.get('content-length') ?? 0), contentType: res.headers.get('content-type') };
  }

  /** Deletes the keys (missing ones are no error) with DeleteObjects, at most 1000 keys per request. */
  async delete(keys: string[]): Promise<void> {
    const unique = [...new Set(keys)];
    for (let i = 0; i < unique.length; i += DELETE_CHUNK) {
      const chunk = unique.slice(i, i + DELETE_CHUNK);
      const xml =
        '<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet>' +
        chunk.map((k) => `<Object><Key>${xmlEscape(k)}</Key></Object>`).join('') +
        '</Delete>';
      const body = new TextEncoder().encode(xml);
      const url = this.url();
      url.search = 'delete';
      // S3 requires an integrity header on DeleteObjects: Content-MD5 (not in Web Crypto) or a flexible checksum.
      const res = await this.send(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/xml',
          'x-amz-checksum-sha256': base64(await crypto.subtle.digest('SHA-256', body)),
          'x-amz-sdk-checksum-algorithm': 'SHA256',
        },
        body,
      });
      const label = chunk.length === 1 ? chunk[0] : `${chunk[0]} (+${chunk.length - 1} more)`;
      if (!res.ok) return this.fail('DeleteObjects', label, res);
      // DeleteObjects answers 200 even when single keys fail; those come back as <Error> elements.
      const text = await res.text();
      throwDeleteErrors(
        this.bucket,
        [...text.matchAll(/<Error>([\s\S]*?)<\/Error>/g)].map((m) => ({ key: xmlTag(m[1], 'Key'), code: xmlTag(m[1], 'Code'), message: xmlTag(m[1], 'Message') })),
      );
    }
  }

  /**
   * One page of ListObjects (version 1) under `prefix` after the key `opts.cursor` (sent as `marker`). Not
   * ListObjectsV2: its continuation tokens are opaque to us (the cursor must be a key a later run can resume from), and
   * s3rver — the S3 server of `npm start` and the tests — cannot make one on Node ≥ 17 (it encrypts them with DES,
   * which OpenSSL 3 refuses), so every V2 page with more to come fails there. V1 with a marker is the same listing on
   * AWS S3, R2 and MinIO.
   */
  async list(prefix: string, opts: BlobListOptions = {}): Promise<BlobListPage> {
    const limit = listLimit(opts);
    const url = this.url();
    // RFC 3986 encoding (a space is %20, never '+'), as SigV4 canonicalises the query.
    const query: [string, string][] = [['prefix', prefix], ...(opts.cursor ? [['marker', opts.cursor] as [string, string]] : []), ['max-keys', String(limit)]];
    url.search = query.map(([k, v]) => `${k}=${encodeRfc3986(v)}`).join('&');
    const res = await this.send(url, { method: 'GET' });
    if (!res.ok) return this.fail('ListObjects', prefix, res);
    const text = await res.text();
    try {
      return parseListBucketResult(text);
    } catch (err) {
      throw new Error(`S3 ListObjects ${this.bucket}/${prefix} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  /**
   * A presigned PUT (query-string SigV4) whose signature covers Content-Type and Content-Length: the
   * client must send exactly these two headers with these values, so exactly `bytes` bytes of that type.
   */
  async presignPut(key: string, contentType: string, bytes: number, expiresInSeconds: number): Promise<PresignedPut> {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new Error(`presignPut ${key}: invalid byte count ${bytes}`);
    if (!Number.isSafeInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > 604_800) {
      throw new Error(`presignPut ${key}: expiry must be 1..604800 seconds, got ${expiresInSeconds}`);
    }
    const signedAt = new Date(Math.floor((this.opts.clock?.() ?? new Date()).getTime() / 1000) * 1000);
    const url = this.url(key);
    url.searchParams.set('X-Amz-Expires', String(expiresInSeconds));
    const headers = { 'content-type': contentType, 'content-length': String(bytes) };
    const signer = new AwsV4Signer({
      method: 'PUT',
      url: url.href,
      headers,
      accessKeyId: this.opts.accessKeyId,
      secretAccessKey: this.opts.secretAccessKey,
      service: 's3',
      region: this.opts.region,
      datetime: signedAt.toISOString().replace(/[:-]|\.\d{3}/g, ''),
      signQuery: true,
      // content-type and content-length are in aws4fetch's unsignable set; sign them anyway.
      allHeaders: true,
    });
    const signed = await signer.sign();
    return { url: signed.url.toString(), method: 'PUT', headers, expiresAt: new Date(signedAt.getTime() + expiresInSeconds * 1000) };
  }
}
