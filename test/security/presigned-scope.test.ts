// Security review (docs/security.md): presigned upload URLs are scoped to one object key, one content type and
// one size, and are short-lived; with a real edge on SQLite + real s3rver.
//  - The URLs the API hands out (Node store, @aws-sdk presigner) and the Workers store's (aws4fetch) are checked
//    with an independent AWS SigV4 query-string verifier written here from AWS's specification: the request as
//    issued verifies; the same signature with another key, another Content-Type, another Content-Length or a
//    longer X-Amz-Expires does not; they expire 900 s after signing.
//    (s3rver does not verify SigV4 signatures at all, only their expiry, so it cannot prove this part.)
//  - s3rver does enforce the expiry: a URL signed for 1 s is refused (403) once it has passed.
//  - Defence in depth that holds even against a store that checks nothing (s3rver): uploads/complete re-checks
//    the object's size and type, refuses a mismatch with 422 and deletes the object.
//  - G8 (closed): the URL stays valid after uploads/complete (and finalize) until it expires, and the signature
//    does not cover the bytes; but it writes only the upload's staging key. uploads/complete copies the verified
//    bytes to the image's key, which no URL reaches, so a later PUT changes no image (the worker's download
//    still checks every image against the sha256 the edge verified).
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningEdge, startEdge } from '../../edge/node/server.ts';
import { S3BlobStore } from '../../shared/storage/s3-blob-store.ts';
import { Aws4fetchBlobStore } from '../../shared/storage/aws4fetch-blob-store.ts';
import type { Lease } from '../../gpu-worker/trainer/edge-client.ts';
import { downloadDataset } from '../../gpu-worker/trainer/run-job.ts';
import { ADMIN_TOKEN, WORKER_TOKEN, bearer, jsonHeaders } from '../helpers/edge.ts';
import { type RunningS3rver, s3Config, startS3rver } from '../helpers/s3rver.ts';

const SECRET = 'S3RVER'; // s3Config's secret access key

// ---- an independent SigV4 (query-string) verifier ----------------------------------------------

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();
const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const rfc3986 = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);

interface ClientRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
}

/** Would S3 accept this request's query signature (at time `now`)? Follows AWS's "Authenticating Requests: Using Query Parameters (SigV4)". */
function sigV4Accepts(req: ClientRequest, secret: string, now = Date.now()): { ok: boolean; why?: string } {
  const url = new URL(req.url);
  const q = url.searchParams;
  if (q.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') return { ok: false, why: 'algorithm' };
  const given = q.get('X-Amz-Signature') ?? '';
  const amzDate = q.get('X-Amz-Date') ?? '';
  const [, date, region, service] = (q.get('X-Amz-Credential') ?? '').split('/');
  const signed = (q.get('X-Amz-SignedHeaders') ?? '').split(';');
  const expires = Number(q.get('X-Amz-Expires'));
  const t0 = Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  if (!(now <= t0 + expires * 1000)) return { ok: false, why: 'expired' };
  const params = [...q.entries()].filter(([k]) => k !== 'X-Amz-Signature');
  const query = params
    .map(([k, v]) => [rfc3986(k), rfc3986(v)])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const lower = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), v]));
  lower.host = url.host;
  const headerBlock = signed.map((h) => `${h}:${(lower[h] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const payload = q.get('X-Amz-Content-Sha256') ?? 'UNSIGNED-PAYLOAD';
  const canonical = [req.method, url.pathname, query, headerBlock, signed.join(';'), payload].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
  const expected = createHmac('sha256', key).update(toSign, 'utf8').digest('hex');
  return expected === given ? { ok: true } : { ok: false, why: 'signature' };
}

function variants(issued: ClientRequest): [string, ClientRequest][] {
  const u = new URL(issued.url);
  const otherKey = new URL(u);
  otherKey.pathname = u.pathname.replace(/\/[^/]+$/, '/img_someone_elses.png');
  if (otherKey.pathname === u.pathname) throw new Error('variants: no other key');
  const otherTenant = new URL(u);
  otherTenant.pathname = u.pathname.replace(/\/tenants\/[^/]+\//, '/tenants/ten_victim/');
  const longer = new URL(u);
  longer.searchParams.set('X-Amz-Expires', '604800');
  const len = Number(issued.headers['content-length']);
  return [
    ['another object key', { ...issued, url: otherKey.href }],
    ['another tenant prefix', { ...issued, url: otherTenant.href }],
    ['another content type', { ...issued, headers: { ...issued.headers, 'content-type': 'text/html' } }],
    ['no content type', { ...issued, headers: { 'content-length': issued.headers['content-length'] } }],
    ['a larger size', { ...issued, headers: { ...issued.headers, 'content-length': String(len + 1_000_000) } }],
    ['a smaller size', { ...issued, headers: { ...issued.headers, 'content-length': String(len - 1) } }],
    ['a longer expiry', { ...issued, url: longer.href }],
    ['another method', { ...issued, method: 'DELETE' }],
  ];
}

// ---- a real edge on s3rver ---------------------------------------------------------------------

let s3: RunningS3rver;
let edge: RunningEdge;
let dataDir: string;
let key: string;
let png: Buffer;
const f = (path: string, init?: RequestInit) => fetch(edge.url + path, init);

beforeAll(async () => {
  png = await sharp({ create: { width: 20, height: 10, channels: 3, background: { r: 1, g: 2, b: 3 } } }).png().toBuffer();
  s3 = await startS3rver();
  dataDir = mkdtempSync(join(tmpdir(), 'edge-presigned-'));
  edge = await startEdge({
    dataDir,
    port: 0,
    config: { adminToken: ADMIN_TOKEN, workerToken: WORKER_TOKEN, logger: { error: () => {}, warn: () => {} } },
    s3: s3Config(s3.endpoint, s3.bucket),
    backgroundIntervalMs: 0,
  });
  const t = await f('/v1/tenants', { method: 'POST', headers: jsonHeaders(ADMIN_TOKEN), body: JSON.stringify({ name: 'P' }) });
  key = ((await t.json()) as { api_key: string }).api_key;
}, 60_000);

afterAll(async () => {
  await edge?.close();
  await s3?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function presign(files: { label: string; content_type: string; bytes: number }[]) {
  const ds = (await (await f('/v1/datasets', { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify({ name: 'd' }) })).json()) as { id: string };
  const res = await f(`/v1/datasets/${ds.id}/uploads`, { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify({ files }) });
  expect(res.status).toBe(201);
  const body = (await res.json()) as { uploads: { image_id: string; url: string; method: string; headers: Record<string, string>; expires_at: string }[] };
  return { dataset: ds.id, uploads: body.uploads };
}

describe('presigned PUT URLs of the API (Node store)', () => {
  it('sign exactly one object key, content-type and content-length, for 900 s; any change breaks the signature', async () => {
    const { dataset, uploads } = await presign([{ label: 'a', content_type: 'image/png', bytes: png.length }]);
    const [u] = uploads;
    const url = new URL(u.url);
    const tenantId = (edge.db.raw.prepare('SELECT tenant_id FROM datasets WHERE id = ?').get(dataset) as { tenant_id: string }).tenant_id;
    // The staging key of the upload, not the image's key (uploads/complete copies verified bytes there).
    expect(decodeURIComponent(url.pathname)).toBe(`/${s3.bucket}/tenants/${tenantId}/uploads/${dataset}/${u.image_id}.png`);
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('content-length;content-type;host');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
    expect(u.headers).toEqual({ 'content-type': 'image/png', 'content-length': String(png.length) });
    expect([...url.searchParams.keys()].filter((k) => /^x-amz-(acl|grant|meta)/i.test(k))).toEqual([]); // nothing else granted

    const issued: ClientRequest = { method: u.method, url: u.url, headers: u.headers };
    expect(sigV4Accepts(issued, SECRET)).toEqual({ ok: true });
    for (const [what, req] of variants(issued)) expect(sigV4Accepts(req, SECRET), what).toMatchObject({ ok: false });
    // Short-lived: accepted until 900 s after X-Amz-Date (which expires_at reports), refused after.
    const expiresAt = Date.parse(u.expires_at);
    expect(sigV4Accepts(issued, SECRET, expiresAt - 1000).ok).toBe(true);
    expect(sigV4Accepts(issued, SECRET, expiresAt + 1000)).toEqual({ ok: false, why: 'expired' });
  });
});

describe('presigned PUT URLs of the Workers store (aws4fetch)', () => {
  it('have the same scope', async () => {
    const store = new Aws4fetchBlobStore({ ...s3Config(s3.endpoint, s3.bucket), forcePathStyle: true });
    const p = await store.presignPut('tenants/ten_a/datasets/ds_a/images/img_a.png', 'image/png', 1234, 900);
    const url = new URL(p.url);
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('content-length;content-type;host');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
    const issued: ClientRequest = { method: 'PUT', url: p.url, headers: p.headers };
    expect(sigV4Accepts(issued, SECRET)).toEqual({ ok: true });
    for (const [what, req] of variants(issued)) expect(sigV4Accepts(req, SECRET), what).toMatchObject({ ok: false });
    expect(sigV4Accepts(issued, SECRET, p.expiresAt.getTime() + 1000)).toEqual({ ok: false, why: 'expired' });
  });
});

describe('on s3rver', () => {
  it('an expired URL is refused with 403', async () => {
    const store = edge.ports.blobs as S3BlobStore;
    // The edge's store signing an hour ago, for 1 s: the URL has expired before it is used (no waiting).
    const signedEarlier = new S3BlobStore({ ...s3Config(s3.endpoint, store.bucket), clock: () => new Date(Date.now() - 3_600_000) });
    const p = await signedEarlier.presignPut('tenants/ten_x/datasets/ds_x/images/img_expiring.png', 'image/png', png.length, 1);
    signedEarlier.client.destroy();
    const put = await fetch(p.url, { method: 'PUT', headers: p.headers, body: new Uint8Array(png) });
    expect(put.status).toBe(403);
    expect(await put.text()).toContain('expired');
    expect(await store.head('tenants/ten_x/datasets/ds_x/images/img_expiring.png')).toBeNull();
  });

  it('uploads/complete refuses an object of another size or type (even though s3rver stored it) and deletes it', async () => {
    const jpeg = await sharp({ create: { width: 20, height: 10, channels: 3, background: { r: 1, g: 2, b: 3 } } }).jpeg().toBuffer();
    const { dataset, uploads } = await presign([
      { label: 'a', content_type: 'image/png', bytes: png.length },
      { label: 'a', content_type: 'image/png', bytes: jpeg.length },
    ]);
    // 1: the right type but more bytes than declared; 2: the declared size but a JPEG.
    const bigger = Buffer.concat([png, Buffer.alloc(10)]);
    for (const [u, body, type] of [
      [uploads[0], bigger, 'image/png'],
      [uploads[1], jpeg, 'image/jpeg'],
    ] as const) {
      const put = await fetch(u.url, { method: 'PUT', headers: { 'content-type': type, 'content-length': String(body.length) }, body: new Uint8Array(body) });
      expect(put.status).toBe(200); // s3rver checks no signature: local mode only
      await put.arrayBuffer();
    }
    const keys = (edge.db.raw.prepare('SELECT object_key FROM images WHERE dataset_id = ? ORDER BY id').all(dataset) as { object_key: string }[]).map((r) => r.object_key);
    const done = await f(`/v1/datasets/${dataset}/uploads/complete`, { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify({ image_ids: uploads.map((u) => u.image_id) }) });
    expect(done.status).toBe(422);
    const msg = ((await done.json()) as { error: { message: string } }).error.message;
    expect(msg).toContain(`${bigger.length} bytes were uploaded, ${png.length} were declared`);
    expect(msg).toContain('image/jpeg');
    for (const k of keys) expect(await edge.ports.blobs.head(k)).toBeNull();
    expect((await (await f(`/v1/datasets/${dataset}`, { headers: bearer(key) })).json()) as { image_count: number }).toMatchObject({ image_count: 0 });
  });

  it('G8 (closed): the same URL used after complete writes only its staging key; the verified image is unchanged and a job downloads it', async () => {
    const other = await sharp({ create: { width: 20, height: 10, channels: 3, background: { r: 250, g: 2, b: 3 } } }).png().toBuffer();
    expect(other.length).toBe(png.length); // same-size stand-in (any bytes of that length would do)
    const { dataset, uploads } = await presign([
      { label: 'a', content_type: 'image/png', bytes: png.length },
      { label: 'b', content_type: 'image/png', bytes: png.length },
    ]);
    for (const u of uploads) {
      const put = await fetch(u.url, { method: 'PUT', headers: u.headers, body: new Uint8Array(png) });
      expect(put.status).toBe(200);
      await put.arrayBuffer();
    }
    const done = await f(`/v1/datasets/${dataset}/uploads/complete`, { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify({ image_ids: uploads.map((u) => u.image_id) }) });
    expect(done.status).toBe(200);
    expect((await f(`/v1/datasets/${dataset}/finalize`, { method: 'POST', headers: bearer(key) })).status).toBe(200);
    const objectKey = (edge.db.raw.prepare('SELECT object_key FROM images WHERE id = ?').get(uploads[0].image_id) as { object_key: string }).object_key;
    // The replayed request is byte-for-byte the signed one (same key, type, length, expiry): real S3 accepts it too.
    const replay: ClientRequest = { method: 'PUT', url: uploads[0].url, headers: uploads[0].headers };
    expect(sigV4Accepts(replay, SECRET)).toEqual({ ok: true });
    const put = await fetch(uploads[0].url, { method: 'PUT', headers: uploads[0].headers, body: new Uint8Array(other) });
    expect(put.status).toBe(200);
    await put.arrayBuffer();
    expect(Buffer.from((await edge.ports.blobs.get(objectKey))!).equals(png)).toBe(true); // the image is unchanged

    // A job on the dataset: its lease names the sha256 of the verified bytes, and the download checks it.
    const job = await f('/v1/training-jobs', { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify({ dataset_id: dataset, method: 'coop' }) });
    expect(job.status).toBe(201);
    const leased = await f('/internal/v1/leases', { method: 'POST', headers: jsonHeaders(WORKER_TOKEN), body: JSON.stringify({ worker_id: 'w-g8' }) });
    expect(leased.status).toBe(200);
    const lease = (await leased.json()) as Lease;
    const digest = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
    expect(lease.dataset.images.map((i) => i.sha256)).toEqual([digest(png), digest(png)]);
    const dir = mkdtempSync(join(tmpdir(), 'g8-'));
    try {
      await expect(downloadDataset(lease, edge.ports.blobs, dir)).resolves.toBeDefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

