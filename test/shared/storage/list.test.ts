// BlobStore.list against a real s3rver, for both adapters: the AWS SDK store (Node) and the aws4fetch store (Workers,
// its own ListObjects request and XML parsing). Pages in key order with size and LastModified, a cursor that resumes
// the listing after any key (also from a fresh store, as a later run does), keys that need escaping in the query and
// in the XML, and the page-size bounds. Plus the parser alone on documents s3rver does not produce.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlobListPage, BlobStore } from '../../../shared/storage/blob-store.ts';
import { Aws4fetchBlobStore } from '../../../shared/storage/aws4fetch-blob-store.ts';
import { S3BlobStore } from '../../../shared/storage/s3-blob-store.ts';
import { parseListBucketResult } from '../../../shared/storage/s3-xml.ts';
import { type RunningS3rver, s3Config, setLastModified, startS3rver } from '../../helpers/s3rver.ts';

let s3: RunningS3rver;
let sdk: S3BlobStore;
let workers: Aws4fetchBlobStore;
const KEYS = [
  'list/a/1.bin',
  'list/a/2.bin',
  'list/b/x y+z&amp.bin', // a space, a plus and an ampersand: query and XML escaping
  'list/b/q.bin',
  'list/c/é.bin',
  'list/d.bin',
  'list/e/f/g.bin',
];
const sorted = [...KEYS].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
// Each key's LastModified, set on s3rver's file (whole seconds, as S3 reports them) so the listing's can be compared exactly.
const modifiedAt = (key: string) => new Date(Date.UTC(2026, 0, 2, 3, 4, KEYS.indexOf(key)));

beforeAll(async () => {
  s3 = await startS3rver();
  sdk = new S3BlobStore(s3Config(s3.endpoint, s3.bucket));
  workers = new Aws4fetchBlobStore({ ...s3Config(s3.endpoint, s3.bucket), forcePathStyle: true });
  for (const [i, k] of KEYS.entries()) {
    await sdk.put(k, new Uint8Array(i + 1), 'application/octet-stream');
    setLastModified(s3, k, modifiedAt(k));
  }
  await sdk.put('listed-not/1.bin', new Uint8Array(1), 'application/octet-stream');
  await sdk.put('other/1.bin', new Uint8Array(1), 'application/octet-stream');
});
afterAll(async () => {
  sdk?.client.destroy();
  await s3?.stop();
});

async function all(store: BlobStore, prefix: string, limit: number): Promise<{ pages: BlobListPage[]; keys: string[] }> {
  const pages: BlobListPage[] = [];
  let cursor: string | null = null;
  do {
    const page = await store.list(prefix, { cursor, limit });
    pages.push(page);
    cursor = page.cursor;
  } while (cursor !== null && pages.length < 50);
  return { pages, keys: pages.flatMap((p) => p.objects.map((o) => o.key)) };
}

describe.each([
  ['S3BlobStore (AWS SDK)', () => sdk as BlobStore],
  ['Aws4fetchBlobStore (Workers)', () => workers as BlobStore],
])('%s.list on s3rver', (_, store) => {
  it('lists every key under the prefix once, in key order, with size and LastModified, a page at a time', async () => {
    const { pages, keys } = await all(store(), 'list/', 3);
    expect(keys).toEqual(sorted);
    expect(pages.map((p) => p.objects.length)).toEqual([3, 3, 1]);
    expect(pages.map((p) => p.cursor)).toEqual([sorted[2], sorted[5], null]);
    for (const p of pages) {
      for (const o of p.objects) {
        expect(o.size).toBe(KEYS.indexOf(o.key) + 1);
        expect(o.lastModified).toEqual(modifiedAt(o.key));
      }
    }
  });

  it('one page when everything fits; an empty page (cursor null) for a prefix with nothing or past the last key', async () => {
    expect((await store().list('list/', { limit: 1000 })).objects.map((o) => o.key)).toEqual(sorted);
    expect((await store().list('list/')).cursor).toBeNull();
    expect(await store().list('nothing-here/')).toEqual({ objects: [], cursor: null });
    expect(await store().list('list/', { cursor: sorted[sorted.length - 1] })).toEqual({ objects: [], cursor: null });
  });

  it('resumes after any key, also from another store instance (the cursor is a key, nothing else)', async () => {
    const fresh = store() === sdk ? new S3BlobStore(s3Config(s3.endpoint, s3.bucket)) : new Aws4fetchBlobStore(s3Config(s3.endpoint, s3.bucket));
    try {
      const page = await fresh.list('list/', { cursor: 'list/b/', limit: 2 });
      expect(page.objects.map((o) => o.key)).toEqual(sorted.filter((k) => k > 'list/b/').slice(0, 2));
      // a key that does not exist works as well; the order is UTF-8 bytes ('é' is after 'z')
      expect((await fresh.list('list/', { cursor: 'list/c/zzz' })).objects.map((o) => o.key)).toEqual(['list/c/é.bin', 'list/d.bin', 'list/e/f/g.bin']);
    } finally {
      if (fresh instanceof S3BlobStore) fresh.client.destroy();
    }
  });

  it('refuses a page size outside 1..1000', async () => {
    for (const limit of [0, 1001, 2.5, -1]) await expect(store().list('list/', { limit })).rejects.toThrow(/limit must be an integer 1\.\.1000/);
  });
});

describe('parseListBucketResult', () => {
  const doc = (body: string) => `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${body}</ListBucketResult>`;
  const entry = (key: string, size = '3', modified = '2026-01-02T03:04:05.000Z') =>
    `<Contents><Key>${key}</Key><LastModified>${modified}</LastModified><ETag>&quot;x&quot;</ETag><Size>${size}</Size><StorageClass>STANDARD</StorageClass></Contents>`;

  it('reads keys (entities and character references decoded), sizes, dates and the cursor', () => {
    const page = parseListBucketResult(doc(`<Name>b</Name><IsTruncated>true</IsTruncated>${entry('a/&lt;1&gt;&amp;&#x20;&#233;')}${entry('a/2', '10')}`));
    expect(page).toEqual({
      objects: [
        { key: 'a/<1>& é', size: 3, lastModified: new Date('2026-01-02T03:04:05.000Z') },
        { key: 'a/2', size: 10, lastModified: new Date('2026-01-02T03:04:05.000Z') },
      ],
      cursor: 'a/2',
    });
    expect(parseListBucketResult(doc(`<IsTruncated>true</IsTruncated><NextMarker>a/9</NextMarker>${entry('a/1')}`)).cursor).toBe('a/9');
    expect(parseListBucketResult(doc(`<IsTruncated>false</IsTruncated>${entry('a/1')}`)).cursor).toBeNull();
  });

  it('refuses what it cannot read rather than guess (a missing date must never look old)', () => {
    expect(() => parseListBucketResult('<Error><Code>AccessDenied</Code></Error>')).toThrow(/not a ListBucketResult/);
    expect(() => parseListBucketResult(doc(`<IsTruncated>false</IsTruncated>${entry('a/1', '3', 'yesterday')}`))).toThrow(/LastModified/);
    expect(() => parseListBucketResult(doc(`<IsTruncated>false</IsTruncated><Contents><Key>a</Key><Size>1</Size></Contents>`))).toThrow(/LastModified/);
    expect(() => parseListBucketResult(doc(`<IsTruncated>false</IsTruncated>${entry('a/1', '-1')}`))).toThrow(/Size/);
    expect(() => parseListBucketResult(doc('<IsTruncated>true</IsTruncated>'))).toThrow(/truncated/);
  });
});
