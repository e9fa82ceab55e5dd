// S3BlobStore against a real s3rver.
//
// What s3rver 3.7.1 enforces for a SigV4 presigned URL (lib/middleware/authentication.js, and
// checked by experiment with fetch):
//   - enforced: X-Amz-Algorithm=AWS4-HMAC-SHA256 and the Credential/Signature/Date/SignedHeaders/
//     Expires query parameters must be present; X-Amz-Expires <= 604800; the access key id in
//     X-Amz-Credential must be a known one (S3RVER, else 403 InvalidAccessKeyId); expiry: after
//     X-Amz-Date + X-Amz-Expires it answers 403 AccessDenied "Request has expired".
//   - NOT enforced: the signature itself. s3rver never computes a V4 signature ("Signature version 4
//     calculation is unimplemented"), so a URL with a zeroed X-Amz-Signature is accepted, and so are
//     a different Content-Type (the object is stored with the type actually sent) and a different
//     body length (stored with the length actually sent), although both headers are signed.
//     (Sending content-length: 4 with a 6-byte body fails inside fetch/HTTP framing, not in s3rver.)
// So against s3rver the tests below check expiry end to end, and check the signed-header contract
// by verifying the SigV4 signature of the URL themselves (as S3 would): it must cover the exact
// Content-Type and Content-Length values, and no longer match if either one changes.
import { DeleteObjectsCommand, ListObjectsV2Command, S3Client, type DeleteObjectsCommandInput } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sigV4Matches } from '../../helpers/sigv4.ts';
import { S3BlobStore, type S3BlobStoreOptions } from '../../../shared/storage/s3-blob-store.ts';
import { s3Config, startS3rver, type RunningS3rver } from '../../helpers/s3rver.ts';

let s3: RunningS3rver;
let store: S3BlobStore;
const clients: S3Client[] = [];

function newStore(overrides: Partial<S3BlobStoreOptions> = {}): S3BlobStore {
  const s = new S3BlobStore({ ...s3Config(s3.endpoint, s3.bucket), ...overrides });
  clients.push(s.client);
  return s;
}

beforeAll(async () => {
  s3 = await startS3rver();
  store = newStore();
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await s3?.stop();
});

function bytes(n: number, seed = 1): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** Keys under `prefix` (at most 1000: s3rver's continuation tokens use DES, which Node 20's OpenSSL 3 refuses). */
async function listKeys(prefix: string): Promise<string[]> {
  const out = await store.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }));
  expect(out.IsTruncated).toBeFalsy();
  return (out.Contents ?? []).map((o) => o.Key!);
}

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

describe('S3BlobStore: objects', () => {
  it('put/get/head/delete round trip with binary data', async () => {
    const data = new Uint8Array(256 * 3 + 7);
    for (let i = 0; i < data.length; i++) data[i] = i % 256; // every byte value, incl. 0, \r, \n, 0xff
    await store.put('t/round/a.bin', data, 'application/octet-stream');
    const got = await store.get('t/round/a.bin');
    expect(got).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(got!).equals(Buffer.from(data))).toBe(true);
    expect(await store.head('t/round/a.bin')).toEqual({ size: data.length, contentType: 'application/octet-stream' });

    // overwrite with other bytes and another type
    const png = bytes(1000, 7);
    await store.put('t/round/a.bin', png, 'image/png');
    expect(Buffer.from((await store.get('t/round/a.bin'))!).equals(Buffer.from(png))).toBe(true);
    expect(await store.head('t/round/a.bin')).toEqual({ size: 1000, contentType: 'image/png' });

    // empty object
    await store.put('t/round/empty', new Uint8Array(0), 'text/plain');
    expect(await store.get('t/round/empty')).toEqual(new Uint8Array(0));
    expect(await store.head('t/round/empty')).toEqual({ size: 0, contentType: 'text/plain' });

    await store.delete(['t/round/a.bin']);
    expect(await store.get('t/round/a.bin')).toBeNull();
    expect(await store.head('t/round/a.bin')).toBeNull();
    expect(await store.head('t/round/empty')).not.toBeNull(); // only the named key went
  });

  it('get/head of a missing key → null', async () => {
    expect(await store.get('t/missing/nothing-here')).toBeNull();
    expect(await store.head('t/missing/nothing-here')).toBeNull();
  });

  it('deletes 1200 keys in two DeleteObjects requests (≤ 1000 keys each), missing keys included', async () => {
    // s3rver stores ~200 objects/s here, so only every 10th key and the chunk boundaries exist;
    // the others are missing keys, which must not fail the delete.
    const keys = Array.from({ length: 1200 }, (_, i) => `t/many/${String(i).padStart(4, '0')}`);
    const existing = keys.filter((_, i) => i % 10 === 0 || i === 999 || i === 1000 || i === 1199);
    await inBatches(existing, 50, (k) => store.put(k, new Uint8Array([1]), 'application/octet-stream'));
    await store.put('t/many-keep', new Uint8Array([2]), 'application/octet-stream');
    expect(await listKeys('t/many/')).toHaveLength(existing.length);

    const send = vi.spyOn(store.client, 'send');
    try {
      await store.delete([...keys, 't/many/0000' /* duplicate */]);
      const sizes = send.mock.calls
        .map(([cmd]) => cmd)
        .filter((cmd) => cmd instanceof DeleteObjectsCommand)
        .map((cmd) => (cmd.input as DeleteObjectsCommandInput).Delete!.Objects!.length);
      expect(sizes).toEqual([1000, 200]); // the duplicate is sent once
    } finally {
      send.mockRestore();
    }
    expect(await listKeys('t/many/')).toEqual([]);
    expect(await store.head('t/many-keep')).not.toBeNull();
  });

  it('deleting only missing keys, or none, is fine', async () => {
    await store.delete(['t/gone/1', 't/gone/2']);
    const send = vi.spyOn(store.client, 'send');
    try {
      await store.delete([]);
      expect(send).not.toHaveBeenCalled();
    } finally {
      send.mockRestore();
    }
  });

  it('other errors propagate, naming the key', async () => {
    const noBucket = newStore({ bucket: 'no-such-bucket' });
    await expect(noBucket.get('t/x/key-1')).rejects.toThrow(/no-such-bucket\/t\/x\/key-1.*NoSuchBucket/);
    await expect(noBucket.put('t/x/key-2', new Uint8Array([1]), 'text/plain')).rejects.toThrow(/t\/x\/key-2/);
    const badKey = newStore({ accessKeyId: 'NOT-A-KEY' });
    await expect(badKey.get('t/x/key-3')).rejects.toThrow(/t\/x\/key-3.*InvalidAccessKeyId/);
    await expect(badKey.put('t/x/key-4', new Uint8Array([1]), 'text/plain')).rejects.toThrow(/t\/x\/key-4/);
    await expect(badKey.delete(['t/x/key-5'])).rejects.toThrow(/t\/x\/key-5/);
  });

  it('ensureBucket creates a missing bucket and is idempotent', async () => {
    const fresh = newStore({ bucket: 'fresh-bucket' });
    await expect(fresh.put('k', new Uint8Array([1]), 'text/plain')).rejects.toThrow(/NoSuchBucket/);
    await fresh.ensureBucket();
    await fresh.ensureBucket();
    await store.ensureBucket(); // already configured by the helper
    await fresh.put('k', new Uint8Array([1, 2]), 'text/plain');
    expect(await fresh.head('k')).toEqual({ size: 2, contentType: 'text/plain' });
  });
});

// ---- SigV4 presigned-URL verification, from the spec (what S3 does and s3rver does not) ----


describe('S3BlobStore.presignPut', () => {
  it('a fetch PUT with the returned headers stores exactly the bytes', async () => {
    const body = bytes(12_345, 3);
    // Signed at a known instant (now, 750 ms into its second): the URL ends 300 s after the start of that second.
    const second = Math.floor(Date.now() / 1000) * 1000;
    const signing = newStore({ clock: () => new Date(second + 750) });
    const p = await signing.presignPut('t/presigned/img.png', 'image/png', body.length, 300);
    expect(p.method).toBe('PUT');
    expect(p.headers).toEqual({ 'content-type': 'image/png', 'content-length': '12345' });
    expect(p.expiresAt).toEqual(new Date(second + 300_000));
    expect(new URL(p.url).searchParams.get('X-Amz-Date')).toBe(new Date(second).toISOString().replace(/[:-]|\.\d{3}/g, ''));
    expect(await store.head('t/presigned/img.png')).toBeNull();

    const res = await fetch(p.url, { method: p.method, headers: p.headers, body });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(await store.head('t/presigned/img.png')).toEqual({ size: 12_345, contentType: 'image/png' });
    expect(Buffer.from((await store.get('t/presigned/img.png'))!).equals(Buffer.from(body))).toBe(true);
  });

  it('signs Content-Type and Content-Length as headers (not query parameters) and adds no body checksum', async () => {
    const p = await store.presignPut('t/presigned/sig.jpg', 'image/jpeg', 2048, 600);
    const q = new URL(p.url).searchParams;
    expect(q.get('X-Amz-SignedHeaders')!.split(';').sort()).toEqual(['content-length', 'content-type', 'host']);
    expect(q.get('X-Amz-Expires')).toBe('600');
    const names = [...q.keys()].map((k) => k.toLowerCase());
    expect(names).not.toContain('content-type');
    expect(names).not.toContain('content-length');
    // A checksum of the (empty) request body in the URL would make real S3 reject the upload.
    expect(names.filter((k) => k.startsWith('x-amz-checksum') || k === 'x-amz-sdk-checksum-algorithm')).toEqual([]);

    const secret = s3Config(s3.endpoint, s3.bucket).secretAccessKey;
    expect(sigV4Matches(p.url, p.headers, secret)).toBe(true);
    expect(sigV4Matches(p.url, { ...p.headers, 'content-length': '2049' }, secret)).toBe(false);
    expect(sigV4Matches(p.url, { ...p.headers, 'content-type': 'image/png' }, secret)).toBe(false);
    expect(sigV4Matches(p.url, p.headers, 'wrong-secret')).toBe(false);
  });

  it('an expired presigned URL is refused', async () => {
    const body = bytes(10, 5);
    // Signed an hour ago for 1 s: expired before it is used, no waiting.
    const late = newStore({ clock: () => new Date(Date.now() - 3_600_000) });
    const p = await late.presignPut('t/presigned/late.bin', 'application/octet-stream', body.length, 1);
    expect(p.expiresAt.getTime()).toBeLessThan(Date.now());
    const res = await fetch(p.url, { method: 'PUT', headers: p.headers, body });
    expect(res.status).toBe(403);
    expect(await res.text()).toMatch(/expired/i);
    expect(await store.head('t/presigned/late.bin')).toBeNull();
  });
});
