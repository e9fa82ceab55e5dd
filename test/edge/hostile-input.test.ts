// Hostile input against a real edge (issue 7, part 3): a table of cases, each one raw HTTP request (node:http,
// so bodies, paths and headers go out exactly as written: no URL normalisation, any Content-Length or
// Content-Type) to the edge on Node with real SQLite and the real S3BlobStore over s3rver.
//
// For every case the test asserts: the documented 4xx status with `{"error": {"code", "message"}}` and the
// expected code (docs/API.md's list), never a 5xx, nothing logged as an internal error, and nothing
// half-written: the row counts of every resource table (idempotency keys included, revoked keys counted
// separately) and the object keys in the bucket are exactly what they were before the case.
//
// Presigned cases need state first (a pending upload and a PUT to s3rver), made by the case's `setup`; their
// baseline is taken before that setup, so after the rejected /uploads/complete the pending row and any object
// must be gone again. s3rver (3.7.1) checks the expiry of a SigV4 presigned URL but never the signature itself
// (see test/shared/storage/s3-blob-store.test.ts), so for a URL replayed for another key or with another
// Content-Type/Content-Length the test checks the signature the way S3 does (it must not match: real S3
// answers 403 SignatureDoesNotMatch) and then requires the edge's own verification at /uploads/complete to
// refuse what s3rver let through.
//
// A second, smaller table holds hostile-looking input that is valid data (SQL in a name or a cursor, path
// traversal in a label or filename): it is accepted and stored verbatim, and every table stays intact.
// After both tables the server still answers /healthz and normal authenticated requests.
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sigV4Matches } from '../helpers/sigv4.ts';
import { type RunningEdge, startEdge } from '../../edge/node/server.ts';
import type { S3BlobStore } from '../../shared/storage/s3-blob-store.ts';
import { MAX_IMAGE_BYTES, MAX_MULTIPART_BYTES } from '../../edge/datasets/limits.ts';
import { EXTENSIONS } from '../../edge/datasets/image-probe.ts';
import { uploadStagingKey } from '../../shared/storage/keys.ts';
import { CLASSIFY_MAX_BODY_BYTES } from '../../edge/routes/classify.ts';
import type { ErrorCode } from '../../edge/http/errors.ts';
import { ADMIN_TOKEN, WORKER_TOKEN } from '../helpers/edge.ts';
import { type RunningS3rver, s3Config, startS3rver } from '../helpers/s3rver.ts';

/** A small JSON limit so "above the JSON limit" costs kilobytes, not megabytes. */
const MAX_JSON_BYTES = 64 * 1024;
const SQL = "'; DROP TABLE tenants;--";
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

// ---- raw HTTP -------------------------------------------------------------------------------

interface Req {
  method: string;
  /** Sent as is (not normalised). */
  path: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /** Transfer-Encoding: chunked (no Content-Length). */
  chunked?: boolean;
}

interface Res {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

let edgePort = 0;

/** One request on a fresh connection; an early answer (e.g. 413 before the body is read) is still returned. */
function send(r: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    const body = r.body === undefined ? undefined : typeof r.body === 'string' ? Buffer.from(r.body, 'utf8') : Buffer.from(r.body);
    const headers: Record<string, string> = { ...r.headers };
    if (body && !r.chunked && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) {
      headers['content-length'] = String(body.length);
    }
    let answered = false;
    const req = httpRequest({ host: '127.0.0.1', port: edgePort, method: r.method, path: r.path, headers, agent: false }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(20_000, () => req.destroy(new Error(`${r.method} ${r.path.slice(0, 80)}: no answer within 20 s`)));
    // The server may answer and close before the whole body is written (EPIPE/ECONNRESET afterwards).
    req.on('error', (err) => {
      if (!answered) setTimeout(() => (answered ? undefined : reject(err)), 50);
    });
    if (body && r.chunked) {
      const step = 256 * 1024;
      for (let off = 0; off < body.length; off += step) req.write(body.subarray(off, off + step));
      req.end();
    } else {
      req.end(body);
    }
  });
}

const auth = (token: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${token}`, ...extra });
const jsonH = (token: string, extra: Record<string, string> = {}) => auth(token, { 'content-type': 'application/json', ...extra });
const postJson = (token: string, path: string, body: unknown, extra: Record<string, string> = {}): Req => ({
  method: 'POST',
  path,
  headers: jsonH(token, extra),
  body: typeof body === 'string' ? body : JSON.stringify(body),
});
const rawJson = (token: string, path: string, body: string | Uint8Array): Req => ({ method: 'POST', path, headers: jsonH(token), body });

async function ok<T>(r: Req, status: number): Promise<T> {
  const res = await send(r);
  if (res.status !== status) throw new Error(`${r.method} ${r.path}: expected ${status}, got ${res.status}: ${res.text.slice(0, 300)}`);
  return (res.text ? JSON.parse(res.text) : null) as T;
}

// ---- multipart ------------------------------------------------------------------------------

interface Part {
  name: string;
  filename?: string;
  type?: string;
  data: Uint8Array | string;
}

const BOUNDARY = '----hostile-boundary-7f3a';

function multipartBytes(parts: Part[], boundary = BOUNDARY): Buffer {
  const out: Buffer[] = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename !== undefined) head += `; filename="${p.filename}"`;
    head += '\r\n';
    if (p.type) head += `Content-Type: ${p.type}\r\n`;
    out.push(Buffer.from(head + '\r\n', 'latin1'), Buffer.from(p.data), Buffer.from('\r\n'));
  }
  out.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(out);
}

const upload = (token: string, datasetId: string, parts: Part[], extra: Record<string, string> = {}): Req => ({
  method: 'POST',
  path: `/v1/datasets/${datasetId}/images`,
  headers: auth(token, { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, ...extra }),
  body: multipartBytes(parts),
});
const filePart = (data: Uint8Array | string, filename = 'x.png', type = 'image/png'): Part => ({ name: 'file', filename, type, data });
const labelPart = (label: string | Uint8Array): Part => ({ name: 'label', data: label });

// ---- image bytes ----------------------------------------------------------------------------

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function pngChunk(type: string, data: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), Buffer.from(data)]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
/** A structurally complete PNG (valid CRCs) whose IHDR declares width × height: a decompression bomb when large. */
function pngDeclaring(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(64))),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}
/** A JPEG whose SOF0 declares width × height (16 bits each). */
function jpegDeclaring(jpeg: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(jpeg);
  for (let i = 2; i < out.length - 9; i++) {
    if (out[i] === 0xff && out[i + 1] === 0xc0) {
      out.writeUInt16BE(height, i + 5);
      out.writeUInt16BE(width, i + 7);
      return out;
    }
  }
  throw new Error('no SOF0 in the JPEG');
}
/** A WebP with a VP8X header whose canvas is width × height (24 bits each). */
function webpVp8xDeclaring(width: number, height: number): Buffer {
  const b = Buffer.alloc(30);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(22, 4);
  b.write('WEBPVP8X', 8, 'latin1');
  b.writeUInt32LE(10, 16);
  b.writeUIntLE(width - 1, 24, 3);
  b.writeUIntLE(height - 1, 27, 3);
  return b;
}
/** A WebP lossless (VP8L) header declaring width × height (14 bits each). */
function webpVp8lDeclaring(width: number, height: number): Buffer {
  const b = Buffer.alloc(30);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(22, 4);
  b.write('WEBPVP8L', 8, 'latin1');
  b.writeUInt32LE(10, 16);
  b[20] = 0x2f;
  b.writeUInt32LE(((width - 1) | ((height - 1) << 14)) >>> 0, 21);
  return b;
}
function pseudoRandom(n: number, seed = 7): Buffer {
  const out = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const GIF = Buffer.concat([Buffer.from('GIF89a', 'latin1'), Buffer.from([1, 0, 1, 0, 0x80, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x21, 0xf9, 4, 1, 0, 0, 0, 0, 0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 1, 0, 0x3b])]);
const BMP = (() => {
  const b = Buffer.alloc(58);
  b.write('BM', 0, 'latin1');
  b.writeUInt32LE(58, 2);
  b.writeUInt32LE(54, 10);
  b.writeUInt32LE(40, 14);
  b.writeInt32LE(1, 18);
  b.writeInt32LE(1, 22);
  b.writeUInt16LE(1, 26);
  b.writeUInt16LE(24, 28);
  return b;
})();
const SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><script>alert(1)</script><rect width="8" height="8"/></svg>';

// ---- SigV4 (what S3 checks and s3rver does not; as in test/shared/storage/s3-blob-store.test.ts) ----


// ---- the running stack ------------------------------------------------------------------------

let s3: RunningS3rver;
let edge: RunningEdge;
let dataDir: string;
let blobs: S3BlobStore;
const internalErrors: unknown[][] = [];

/** Filled by beforeAll; the case builders read it when they run. */
const S = {
  key: '', // tenant A
  tenantId: '',
  keyB: '', // tenant B
  tenantB: '',
  revokedKey: '',
  openDs: '', // open, no declared classes
  typedDs: '', // open, classes cat/dog
  readyDs: '', // ready (cat, dog)
  dsB: '', // tenant B's open dataset
  imageB: '', // a pending upload of tenant B
  png: Buffer.alloc(0),
  jpeg: Buffer.alloc(0),
  webp: Buffer.alloc(0),
};

/**
 * Every resource table of the schema, read from SQLite itself (so a new table is covered without editing this list);
 * rate_windows is left out: counting requests is its job. Migration bookkeeping tables are not resources.
 */
function resourceTables(): string[] {
  const rows = edge.db.raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[];
  // blob_sweeps is the reconciliation's to-do list (e.g. a rejected upload's staging key, kept until its URL
  // expires), not stored data.
  return rows.map((r) => r.name).filter((n) => n !== 'rate_windows' && n !== 'blob_sweeps' && !/migration/i.test(n)).sort();
}

interface Snapshot {
  rows: Record<string, number>;
  objects: string[];
}

async function bucketKeys(): Promise<string[]> {
  const out = await blobs.client.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
  expect(out.IsTruncated).toBeFalsy();
  return (out.Contents ?? []).map((o) => o.Key!).sort();
}

async function snapshot(): Promise<Snapshot> {
  const rows: Record<string, number> = {};
  const tables = resourceTables();
  expect(tables).toEqual(expect.arrayContaining(['tenants', 'api_keys', 'datasets', 'images', 'training_jobs', 'idempotency_keys', 'webhook_deliveries']));
  for (const t of tables) rows[t] = (edge.db.raw.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n;
  const q = (sql: string) => (edge.db.raw.prepare(sql).get() as { n: number }).n;
  rows['images (stored)'] = q("SELECT COUNT(*) AS n FROM images WHERE status = 'stored'");
  rows['api_keys (revoked)'] = q('SELECT COUNT(*) AS n FROM api_keys WHERE revoked_at IS NOT NULL');
  rows['datasets (ready)'] = q("SELECT COUNT(*) AS n FROM datasets WHERE status = 'ready'");
  return { rows, objects: await bucketKeys() };
}

// ---- presigned helpers ----------------------------------------------------------------------

interface Pending {
  imageId: string;
  objectKey: string;
  url: string;
  headers: Record<string, string>;
  /** What s3rver answered to the hostile PUT. */
  s3Status?: number;
  /** A key outside the edge's rows that s3rver stored (a forged path), to check and remove. */
  strayKey?: string;
}

async function pendingUpload(contentType: 'image/png' | 'image/jpeg' | 'image/webp', bytes: number): Promise<Pending> {
  const body = await ok<{ uploads: { image_id: string; url: string; headers: Record<string, string> }[] }>(
    postJson(S.key, `/v1/datasets/${S.openDs}/uploads`, { files: [{ label: 'cat', content_type: contentType, bytes }] }),
    201,
  );
  const u = body.uploads[0];
  // The key the URL writes: the upload's staging key (complete copies verified bytes to the image's own key).
  const objectKey = uploadStagingKey(S.tenantId, S.openDs, u.image_id, EXTENSIONS[contentType]);
  expect(new URL(u.url).pathname).toBe(`/${s3.bucket}/${objectKey}`);
  return { imageId: u.image_id, objectKey, url: u.url, headers: u.headers };
}

async function s3Put(url: string, headers: Record<string, string>, body: Uint8Array): Promise<number> {
  const res = await fetch(url, { method: 'PUT', headers, body: new Uint8Array(body) });
  await res.arrayBuffer();
  return res.status;
}

const complete = (p: Pending): Req => postJson(S.key, `/v1/datasets/${S.openDs}/uploads/complete`, { image_ids: [p.imageId] });
const secret = () => s3Config(s3.endpoint, s3.bucket).secretAccessKey;

/** After a rejected complete: no row and no object for the upload. */
function expectUploadGone(p: Pending): void {
  expect(edge.db.raw.prepare('SELECT COUNT(*) AS n FROM images WHERE id = ?').get(p.imageId)).toEqual({ n: 0 });
}

// ---- the corpus -----------------------------------------------------------------------------

interface Case {
  category: string;
  name: string;
  status: number;
  code: ErrorCode;
  /** Runs first; with `baseline: 'before-setup'` the nothing-written check covers what setup made too. */
  setup?: () => Promise<unknown>;
  baseline?: 'before-setup' | 'after-setup';
  request: (state: any) => Req;
  /** Extra assertions after the response (before the nothing-written check). */
  check?: (state: any, res: Res) => Promise<void> | void;
}

const nested = (depth: number, open: string, close: string, inner = '1') => open.repeat(depth) + inner + close.repeat(depth);
const tinyPngs = (n: number) => Array.from({ length: n }, (_, i) => filePart(S.png, `f${i}.png`));
const job = (hyperparameters: unknown) => postJson(S.key, '/v1/training-jobs', { dataset_id: S.readyDs, method: 'cocoop', hyperparameters });
const classify = (body: unknown) => postJson(S.key, '/v1/classify', body);
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

const CASES: Case[] = [
  // -- malformed JSON → 400
  { category: 'malformed JSON', name: 'truncated object', status: 400, code: 'invalid_request', request: () => rawJson(S.key, '/v1/datasets', '{"name": "pets", "classes": ["cat"') },
  { category: 'malformed JSON', name: 'trailing garbage', status: 400, code: 'invalid_request', request: () => rawJson(S.key, '/v1/datasets', '{"name": "pets"} {"name": "again"}') },
  { category: 'malformed JSON', name: 'NaN literal', status: 400, code: 'invalid_request', request: () => rawJson(S.key, '/v1/training-jobs', `{"dataset_id": "x", "method": "coop", "hyperparameters": {"learning_rate": NaN}}`) },
  { category: 'malformed JSON', name: 'Infinity literal', status: 400, code: 'invalid_request', request: () => rawJson(S.key, '/v1/training-jobs', `{"dataset_id": "x", "method": "coop", "hyperparameters": {"epochs": Infinity}}`) },
  // (One leading UTF-8 BOM before valid JSON is ignored, as RFC 8259 §8.1 allows: see the second table.)
  { category: 'malformed JSON', name: 'byte order mark before truncated JSON', status: 400, code: 'invalid_request', request: () => rawJson(S.key, '/v1/datasets', Buffer.concat([BOM, Buffer.from('{"name": "bom"')])) },
  { category: 'malformed JSON', name: 'two byte order marks', status: 400, code: 'invalid_request', request: () => rawJson(S.key, '/v1/datasets', Buffer.concat([BOM, BOM, Buffer.from('{"name": "bom"}')])) },
  { category: 'malformed JSON', name: 'UTF-16 byte order mark', status: 400, code: 'invalid_request', request: () => rawJson(S.key, '/v1/datasets', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"name": "bom"}', 'utf16le')])) },
  { category: 'malformed JSON', name: 'empty body', status: 400, code: 'invalid_request', request: () => rawJson(S.key, '/v1/datasets', '') },
  { category: 'malformed JSON', name: 'single quotes', status: 400, code: 'invalid_request', request: () => rawJson(S.key, '/v1/datasets', "{'name': 'pets'}") },
  { category: 'malformed JSON', name: 'trailing comma', status: 400, code: 'invalid_request', request: () => rawJson(S.key, '/v1/webhook-endpoints', '{"url": "https://example.com/h",}') },
  { category: 'malformed JSON', name: 'UTF-16LE encoded body', status: 400, code: 'invalid_request', request: () => rawJson(S.key, '/v1/datasets', Buffer.from('{"name": "utf16"}', 'utf16le')) },
  { category: 'malformed JSON', name: 'non-UTF-8 bytes inside a string', status: 400, code: 'invalid_request', request: () => rawJson(S.key, '/v1/datasets', Buffer.concat([Buffer.from('{"name": "a'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('b"}')])) },
  { category: 'malformed JSON', name: 'JSON null instead of an object', status: 422, code: 'validation_failed', request: () => rawJson(S.key, '/v1/datasets', 'null') },
  { category: 'malformed JSON', name: '__proto__ key (prototype pollution)', status: 422, code: 'validation_failed', request: () => rawJson(S.key, '/v1/datasets', '{"name": "p", "__proto__": {"status": "ready"}}') },

  // -- deeply nested JSON → 422 (parses, then fails the schema without recursion trouble)
  { category: 'deeply nested JSON', name: '10 000 nested arrays as the name', status: 422, code: 'validation_failed', request: () => rawJson(S.key, '/v1/datasets', `{"name": ${nested(10_000, '[', ']')}}`) },
  { category: 'deeply nested JSON', name: '10 000 nested arrays as the whole body', status: 422, code: 'validation_failed', request: () => rawJson(S.key, '/v1/datasets', nested(10_000, '[', ']')) },
  { category: 'deeply nested JSON', name: '5 000 nested objects in job metadata', status: 422, code: 'validation_failed', request: () => rawJson(S.key, '/v1/training-jobs', `{"dataset_id": "x", "method": "coop", "metadata": ${nested(5000, '{"a":', '}')}}`) },
  { category: 'deeply nested JSON', name: '10 000 nested arrays as classify labels', status: 422, code: 'validation_failed', request: () => rawJson(S.key, '/v1/classify', `{"model": "zero-shot", "labels": ${nested(10_000, '[', ']', '"x"')}}`) },
  { category: 'deeply nested JSON', name: '10 000 nested arrays in upload files', status: 422, code: 'validation_failed', request: () => rawJson(S.key, `/v1/datasets/${S.openDs}/uploads`, `{"files": ${nested(10_000, '[', ']')}}`) },

  // -- huge bodies → 413
  { category: 'huge body', name: 'JSON one byte over the limit (Content-Length)', status: 413, code: 'payload_too_large', request: () => rawJson(S.key, '/v1/datasets', JSON.stringify({ name: 'x'.repeat(MAX_JSON_BYTES) }).slice(0, MAX_JSON_BYTES + 1)) },
  { category: 'huge body', name: 'JSON over the limit, chunked (no Content-Length)', status: 413, code: 'payload_too_large', request: () => ({ ...rawJson(S.key, '/v1/datasets', JSON.stringify({ name: 'x'.repeat(4 * MAX_JSON_BYTES) })), chunked: true }) },
  { category: 'huge body', name: 'Content-Length of 10 GB declared, tiny body', status: 413, code: 'payload_too_large', request: () => ({ ...rawJson(S.key, '/v1/webhook-endpoints', '{}'), headers: jsonH(S.key, { 'content-length': String(10 * 1024 ** 3) }) }) },
  { category: 'huge body', name: 'multipart above 50 MiB', status: 413, code: 'payload_too_large', request: () => upload(S.key, S.openDs, [labelPart('cat'), filePart(Buffer.alloc(MAX_MULTIPART_BYTES + 1024))]) },
  { category: 'huge body', name: 'multipart above 50 MiB, chunked', status: 413, code: 'payload_too_large', request: () => ({ ...upload(S.key, S.openDs, [labelPart('cat'), filePart(Buffer.alloc(MAX_MULTIPART_BYTES + 1024))]), chunked: true }) },
  { category: 'huge body', name: 'one image over 10 MiB in a multipart request', status: 413, code: 'payload_too_large', request: () => upload(S.key, S.openDs, [labelPart('cat'), filePart(Buffer.concat([S.png, Buffer.alloc(MAX_IMAGE_BYTES)]))]) },
  { category: 'huge body', name: '/v1/classify above 15 MiB', status: 413, code: 'payload_too_large', request: () => classify({ model: 'zero-shot', labels: ['a', 'b'], image: 'A'.repeat(CLASSIFY_MAX_BODY_BYTES) }) },
  { category: 'huge body', name: '/v1/classify image over 10 MiB decoded (inside the body limit)', status: 422, code: 'validation_failed', request: () => classify({ model: 'zero-shot', labels: ['a', 'b'], image: b64(Buffer.concat([S.png, Buffer.alloc(MAX_IMAGE_BYTES)])) }) },
  { category: 'huge body', name: 'multipart label of 1 MB', status: 422, code: 'validation_failed', request: () => upload(S.key, S.openDs, [labelPart('l'.repeat(1024 * 1024)), filePart(S.png)]) },

  // -- Content-Type → 415 / 400
  { category: 'content type', name: 'JSON sent as text/plain', status: 415, code: 'unsupported_media_type', request: () => ({ method: 'POST', path: '/v1/datasets', headers: auth(S.key, { 'content-type': 'text/plain' }), body: '{"name": "pets"}' }) },
  { category: 'content type', name: 'JSON without Content-Type', status: 415, code: 'unsupported_media_type', request: () => ({ method: 'POST', path: '/v1/datasets', headers: auth(S.key), body: '{"name": "pets"}' }) },
  { category: 'content type', name: 'form-urlencoded to a JSON route', status: 415, code: 'unsupported_media_type', request: () => ({ method: 'POST', path: '/v1/webhook-endpoints', headers: auth(S.key, { 'content-type': 'application/x-www-form-urlencoded' }), body: 'url=https%3A%2F%2Fexample.com%2Fh' }) },
  { category: 'content type', name: 'multipart to a JSON route', status: 415, code: 'unsupported_media_type', request: () => ({ method: 'POST', path: '/v1/datasets', headers: auth(S.key, { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` }), body: multipartBytes([{ name: 'name', data: 'pets' }]) }) },
  { category: 'content type', name: 'form-urlencoded to the image upload', status: 415, code: 'unsupported_media_type', request: () => ({ method: 'POST', path: `/v1/datasets/${S.openDs}/images`, headers: auth(S.key, { 'content-type': 'application/x-www-form-urlencoded' }), body: 'label=cat&file=abc' }) },
  { category: 'content type', name: 'JSON to the image upload', status: 415, code: 'unsupported_media_type', request: () => postJson(S.key, `/v1/datasets/${S.openDs}/images`, { label: 'cat', file: b64(S.png) }) },
  { category: 'content type', name: 'multipart without boundary', status: 400, code: 'invalid_request', request: () => ({ method: 'POST', path: `/v1/datasets/${S.openDs}/images`, headers: auth(S.key, { 'content-type': 'multipart/form-data' }), body: multipartBytes([labelPart('cat'), filePart(S.png)]) }) },
  { category: 'content type', name: 'multipart with a boundary the body does not use', status: 400, code: 'invalid_request', request: () => ({ method: 'POST', path: `/v1/datasets/${S.openDs}/images`, headers: auth(S.key, { 'content-type': 'multipart/form-data; boundary=other' }), body: multipartBytes([labelPart('cat'), filePart(S.png)]) }) },
  { category: 'content type', name: 'multipart cut off before its closing boundary', status: 400, code: 'invalid_request', request: () => ({ ...upload(S.key, S.openDs, [labelPart('cat'), filePart(S.png)]), body: multipartBytes([labelPart('cat'), filePart(S.png)]).subarray(0, 200) }) },

  // -- truncated / corrupt images → 415 (multipart), 422 (classify)
  { category: 'corrupt image', name: 'PNG signature and IHDR only', status: 415, code: 'unsupported_media_type', request: () => upload(S.key, S.openDs, [labelPart('cat'), filePart(S.png.subarray(0, 33))]) },
  { category: 'corrupt image', name: 'random bytes named .png', status: 415, code: 'unsupported_media_type', request: () => upload(S.key, S.openDs, [labelPart('cat'), filePart(pseudoRandom(5000), 'photo.png')]) },
  { category: 'corrupt image', name: 'JPEG cut in half', status: 415, code: 'unsupported_media_type', request: () => upload(S.key, S.openDs, [labelPart('cat'), filePart(S.jpeg.subarray(0, S.jpeg.length >> 1), 'x.jpg', 'image/jpeg')]) },
  { category: 'corrupt image', name: 'WebP cut off', status: 415, code: 'unsupported_media_type', request: () => upload(S.key, S.openDs, [labelPart('cat'), filePart(S.webp.subarray(0, S.webp.length - 10), 'x.webp', 'image/webp')]) },
  { category: 'corrupt image', name: 'a GIF', status: 415, code: 'unsupported_media_type', request: () => upload(S.key, S.openDs, [labelPart('cat'), filePart(GIF, 'x.gif', 'image/gif')]) },
  { category: 'corrupt image', name: 'a BMP named .png', status: 415, code: 'unsupported_media_type', request: () => upload(S.key, S.openDs, [labelPart('cat'), filePart(BMP, 'x.png', 'image/png')]) },
  { category: 'corrupt image', name: 'an SVG with a script', status: 415, code: 'unsupported_media_type', request: () => upload(S.key, S.openDs, [labelPart('cat'), filePart(SVG, 'x.svg', 'image/svg+xml')]) },
  { category: 'corrupt image', name: 'a zero-byte file', status: 415, code: 'unsupported_media_type', request: () => upload(S.key, S.openDs, [labelPart('cat'), filePart(new Uint8Array(0))]) },
  { category: 'corrupt image', name: 'PNG declaring 0x0 pixels', status: 415, code: 'unsupported_media_type', request: () => upload(S.key, S.openDs, [labelPart('cat'), filePart(pngDeclaring(0, 0))]) },
  { category: 'corrupt image', name: 'two good PNGs and one corrupt: none kept', status: 415, code: 'unsupported_media_type', request: () => upload(S.key, S.openDs, [labelPart('cat'), filePart(S.png), filePart(S.png), filePart(S.png.subarray(0, 60))]) },
  { category: 'corrupt image', name: 'classify: GIF', status: 422, code: 'validation_failed', request: () => classify({ model: 'zero-shot', labels: ['a', 'b'], image: b64(GIF) }) },
  { category: 'corrupt image', name: 'classify: truncated JPEG in a batch', status: 422, code: 'validation_failed', request: () => classify({ model: 'zero-shot', labels: ['a', 'b'], images: [b64(S.png), b64(S.jpeg.subarray(0, 100))] }) },
  { category: 'corrupt image', name: 'classify: not base64', status: 422, code: 'validation_failed', request: () => classify({ model: 'zero-shot', labels: ['a', 'b'], image: '!!!not base64 at all!!!' }) },
  { category: 'corrupt image', name: 'classify: empty image string', status: 422, code: 'validation_failed', request: () => classify({ model: 'zero-shot', labels: ['a', 'b'], image: '' }) },

  // -- decompression bombs (dimensions from headers; limit 40 megapixels) → 422
  { category: 'decompression bomb', name: 'PNG 100000x100000', status: 422, code: 'validation_failed', request: () => upload(S.key, S.openDs, [labelPart('cat'), filePart(pngDeclaring(100_000, 100_000))]) },
  { category: 'decompression bomb', name: 'PNG 2^31-1 x 1', status: 422, code: 'validation_failed', request: () => upload(S.key, S.openDs, [labelPart('cat'), filePart(pngDeclaring(0x7fffffff, 1))]) },
  { category: 'decompression bomb', name: 'PNG 4294967295 x 4294967295 (u32 max)', status: 422, code: 'validation_failed', request: () => upload(S.key, S.openDs, [labelPart('cat'), filePart(pngDeclaring(0xffffffff, 0xffffffff))]) },
  { category: 'decompression bomb', name: 'JPEG 65500x65500', status: 422, code: 'validation_failed', request: () => upload(S.key, S.openDs, [labelPart('cat'), filePart(jpegDeclaring(S.jpeg, 65_500, 65_500), 'x.jpg', 'image/jpeg')]) },
  { category: 'decompression bomb', name: 'WebP VP8X 100000x100000', status: 422, code: 'validation_failed', request: () => upload(S.key, S.openDs, [labelPart('cat'), filePart(webpVp8xDeclaring(100_000, 100_000), 'x.webp', 'image/webp')]) },
  { category: 'decompression bomb', name: 'WebP VP8L 16384x16384', status: 422, code: 'validation_failed', request: () => upload(S.key, S.openDs, [labelPart('cat'), filePart(webpVp8lDeclaring(16_384, 16_384), 'x.webp', 'image/webp')]) },
  { category: 'decompression bomb', name: 'a bomb after a good PNG: none kept', status: 422, code: 'validation_failed', request: () => upload(S.key, S.openDs, [labelPart('cat'), filePart(S.png), filePart(pngDeclaring(100_000, 100_000))]) },
  { category: 'decompression bomb', name: 'classify: PNG 100000x100000', status: 422, code: 'validation_failed', request: () => classify({ model: 'zero-shot', labels: ['a', 'b'], image: b64(pngDeclaring(100_000, 100_000)) }) },
  { category: 'decompression bomb', name: 'classify: WebP 100000x100000 in a batch', status: 422, code: 'validation_failed', request: () => classify({ model: 'zero-shot', labels: ['a', 'b'], images: [b64(S.png), b64(webpVp8xDeclaring(100_000, 100_000))] }) },

  // -- labels and names: length, control characters, NUL, invalid UTF-8 → 422
  { category: 'labels and names', name: 'multipart label with NUL', status: 422, code: 'validation_failed', request: () => upload(S.key, S.openDs, [labelPart('cat\u0000dog'), filePart(S.png)]) },
  { category: 'labels and names', name: 'multipart label with an ANSI escape', status: 422, code: 'validation_failed', request: () => upload(S.key, S.openDs, [labelPart('cat\u001b[2J'), filePart(S.png)]) },
  { category: 'labels and names', name: 'multipart label with non-UTF-8 bytes', status: 422, code: 'validation_failed', request: () => upload(S.key, S.openDs, [labelPart(Buffer.from([0x63, 0x61, 0xff, 0xfe, 0x74])), filePart(S.png)]) },
  { category: 'labels and names', name: 'multipart label of 101 characters', status: 422, code: 'validation_failed', request: () => upload(S.key, S.openDs, [labelPart('x'.repeat(101)), filePart(S.png)]) },
  { category: 'labels and names', name: 'multipart label of spaces only', status: 422, code: 'validation_failed', request: () => upload(S.key, S.openDs, [labelPart('   \t '), filePart(S.png)]) },
  { category: 'labels and names', name: 'multipart without a label', status: 422, code: 'validation_failed', request: () => upload(S.key, S.openDs, [filePart(S.png)]) },
  { category: 'labels and names', name: 'multipart "file" sent as a text field', status: 422, code: 'validation_failed', request: () => upload(S.key, S.openDs, [labelPart('cat'), { name: 'file', data: b64(S.png) }]) },
  { category: 'labels and names', name: 'multipart with an unknown extra field', status: 422, code: 'validation_failed', request: () => upload(S.key, S.openDs, [labelPart('cat'), { name: 'status', data: 'ready' }, filePart(S.png)]) },
  { category: 'labels and names', name: 'presigned label with a line break and NUL', status: 422, code: 'validation_failed', request: () => postJson(S.key, `/v1/datasets/${S.openDs}/uploads`, { files: [{ label: 'cat\r\n\u0000', content_type: 'image/png', bytes: 10 }] }) },
  { category: 'labels and names', name: 'dataset name with NUL', status: 422, code: 'validation_failed', request: () => postJson(S.key, '/v1/datasets', { name: 'pets\u0000' }) },
  { category: 'labels and names', name: 'dataset name with a lone surrogate', status: 422, code: 'validation_failed', request: () => rawJson(S.key, '/v1/datasets', '{"name": "pets \\ud800"}') },
  { category: 'labels and names', name: 'dataset name of 201 characters', status: 422, code: 'validation_failed', request: () => postJson(S.key, '/v1/datasets', { name: 'n'.repeat(201) }) },
  { category: 'labels and names', name: 'class name with a DEL and C1 control', status: 422, code: 'validation_failed', request: () => postJson(S.key, '/v1/datasets', { name: 'pets', classes: ['cat\u007f', 'dog\u0085'] }) },
  { category: 'labels and names', name: '1001 classes', status: 422, code: 'validation_failed', request: () => postJson(S.key, '/v1/datasets', { name: 'pets', classes: Array.from({ length: 1001 }, (_, i) => `c${i}`) }) },
  { category: 'labels and names', name: 'tenant name with NUL (admin)', status: 422, code: 'validation_failed', request: () => postJson(ADMIN_TOKEN, '/v1/tenants', { name: 'Evil\u0000Corp' }) },
  { category: 'labels and names', name: 'classify label with NUL', status: 422, code: 'validation_failed', request: () => classify({ model: 'zero-shot', labels: ['cat', 'd\u0000g'], image: b64(S.png) }) },

  // -- path traversal → 404 (ids), 422 (labels of typed datasets), 415 (filenames of non-images)
  { category: 'path traversal', name: 'dataset id ../../etc/passwd (raw, not normalised)', status: 404, code: 'not_found', request: () => ({ method: 'GET', path: '/v1/datasets/../../etc/passwd', headers: auth(S.key) }) },
  { category: 'path traversal', name: 'dataset id ..%2F..%2Fetc%2Fpasswd', status: 404, code: 'not_found', request: () => ({ method: 'GET', path: '/v1/datasets/..%2F..%2Fetc%2Fpasswd', headers: auth(S.key) }) },
  { category: 'path traversal', name: 'DELETE dataset %2e%2e%2f%2e%2e%2f', status: 404, code: 'not_found', request: () => ({ method: 'DELETE', path: '/v1/datasets/%2e%2e%2f%2e%2e%2f', headers: auth(S.key) }) },
  { category: 'path traversal', name: 'model artifact id ..\\..\\windows', status: 404, code: 'not_found', request: () => ({ method: 'GET', path: '/v1/models/..%5C..%5Cwindows%5Cwin.ini/artifact', headers: auth(S.key) }) },
  { category: 'path traversal', name: 'upload into ../<other tenant dataset>', status: 404, code: 'not_found', request: () => upload(S.key, `..%2F${S.dsB}`, [labelPart('cat'), filePart(S.png)]) },
  { category: 'path traversal', name: 'complete image_ids ["../../etc/passwd"]', status: 404, code: 'not_found', request: () => postJson(S.key, `/v1/datasets/${S.openDs}/uploads/complete`, { image_ids: ['../../etc/passwd'] }) },
  { category: 'path traversal', name: 'label ../../etc/passwd on a dataset with classes', status: 422, code: 'validation_failed', request: () => upload(S.key, S.typedDs, [labelPart('../../etc/passwd'), filePart(S.png)]) },
  { category: 'path traversal', name: 'filename ../../etc/passwd with non-image bytes', status: 415, code: 'unsupported_media_type', request: () => upload(S.key, S.openDs, [labelPart('cat'), filePart('root:x:0:0:root:/root:/bin/bash\n', '../../etc/passwd', 'text/plain')]) },
  { category: 'path traversal', name: 'training job dataset_id ../ds', status: 404, code: 'not_found', request: () => postJson(S.key, '/v1/training-jobs', { dataset_id: `../${S.readyDs}`, method: 'coop' }) },

  // -- SQL-looking strings → 404 / 422 (never executed: every query binds its values)
  { category: 'SQL-looking input', name: 'dataset id in the URL', status: 404, code: 'not_found', request: () => ({ method: 'GET', path: `/v1/datasets/${encodeURIComponent(SQL)}`, headers: auth(S.key) }) },
  { category: 'SQL-looking input', name: "dataset id ' OR '1'='1 on DELETE", status: 404, code: 'not_found', request: () => ({ method: 'DELETE', path: `/v1/datasets/${encodeURIComponent("x' OR '1'='1")}`, headers: auth(S.key) }) },
  { category: 'SQL-looking input', name: 'training job dataset_id', status: 404, code: 'not_found', request: () => postJson(S.key, '/v1/training-jobs', { dataset_id: `${S.readyDs}' OR 1=1--`, method: 'coop' }) },
  { category: 'SQL-looking input', name: 'classify model id', status: 404, code: 'not_found', request: () => classify({ model: `x' UNION SELECT * FROM api_keys--`, image: b64(S.png) }) },
  { category: 'SQL-looking input', name: 'label on a dataset with classes', status: 422, code: 'validation_failed', request: () => upload(S.key, S.typedDs, [labelPart(SQL), filePart(S.png)]) },
  { category: 'SQL-looking input', name: '?limit=1;DROP TABLE tenants', status: 422, code: 'validation_failed', request: () => ({ method: 'GET', path: `/v1/datasets?limit=${encodeURIComponent('1; DROP TABLE tenants')}`, headers: auth(S.key) }) },
  { category: 'SQL-looking input', name: '?limit=-1', status: 422, code: 'validation_failed', request: () => ({ method: 'GET', path: '/v1/training-jobs?limit=-1', headers: auth(S.key) }) },
  { category: 'SQL-looking input', name: '?limit=NaN', status: 422, code: 'validation_failed', request: () => ({ method: 'GET', path: '/v1/models?limit=NaN', headers: auth(S.key) }) },
  { category: 'SQL-looking input', name: '?limit=1e309 (Infinity)', status: 422, code: 'validation_failed', request: () => ({ method: 'GET', path: '/v1/webhook-endpoints?limit=1e309', headers: auth(S.key) }) },
  { category: 'SQL-looking input', name: '?limit=99999999999999999999', status: 422, code: 'validation_failed', request: () => ({ method: 'GET', path: '/v1/datasets?limit=99999999999999999999', headers: auth(S.key) }) },
  { category: 'SQL-looking input', name: '?after= of 129 characters', status: 422, code: 'validation_failed', request: () => ({ method: 'GET', path: `/v1/datasets?after=${'a'.repeat(129)}`, headers: auth(S.key) }) },

  // -- training-job hyperparameters → 422 (NaN/Infinity literals are malformed JSON, above)
  ...(
    [
      ['epochs -1', { epochs: -1 }],
      ['epochs 0', { epochs: 0 }],
      ['epochs 1e9', { epochs: 1e9 }],
      ['epochs 2.5', { epochs: 2.5 }],
      ['epochs "10" (string)', { epochs: '10' }],
      ['learning_rate -0.002', { learning_rate: -0.002 }],
      ['learning_rate 0', { learning_rate: 0 }],
      ['learning_rate 1e308', { learning_rate: 1e308 }],
      ['learning_rate "NaN"', { learning_rate: 'NaN' }],
      ['batch_size 1e21', { batch_size: 1e21 }],
      ['seed -1', { seed: -1 }],
      ['seed 2^53 + 2', { seed: 2 ** 53 + 2 }],
      ['n_ctx 17', { n_ctx: 17 }],
      ['n_ctx and ctx_init together', { n_ctx: 4, ctx_init: 'a photo of a' }],
      ['ctx_init of spaces', { ctx_init: '    ' }],
      ['ctx_init with NUL', { ctx_init: 'a photo\u0000 of a' }],
      ['crop_scale [0, 1]', { crop_scale: [0, 1] }],
      ['crop_scale [0.6, 0.5]', { crop_scale: [0.6, 0.5] }],
      ['crop_scale [0.5, 1.5]', { crop_scale: [0.5, 1.5] }],
      ['crop_scale [-1, 1]', { crop_scale: [-1, 1] }],
      ['crop_scale [0.5]', { crop_scale: [0.5] }],
      ['crop_scale [0.5, 1, 1]', { crop_scale: [0.5, 1, 1] }],
      ['crop_scale "0.5,1"', { crop_scale: '0.5,1' }],
      ['unknown hyperparameter', { momentum: 0.9 }],
      ['hyperparameters as an array', [10, 0.002]],
    ] as [string, unknown][]
  ).map(([name, hp]): Case => ({ category: 'hyperparameters', name, status: 422, code: 'validation_failed', request: () => job(hp) })),
  { category: 'hyperparameters', name: 'learning_rate 1e400 (parses as Infinity)', status: 422, code: 'validation_failed', request: () => rawJson(S.key, '/v1/training-jobs', `{"dataset_id": "${S.readyDs}", "method": "coop", "hyperparameters": {"learning_rate": 1e400}}`) },
  { category: 'hyperparameters', name: 'method "../../cocoop"', status: 422, code: 'validation_failed', request: () => postJson(S.key, '/v1/training-jobs', { dataset_id: S.readyDs, method: '../../cocoop' }) },
  { category: 'hyperparameters', name: 'metadata value with a terminal escape', status: 422, code: 'validation_failed', request: () => postJson(S.key, '/v1/training-jobs', { dataset_id: S.readyDs, method: 'coop', metadata: { project: 'a\u001b[2Jb' } }) },
  { category: 'hyperparameters', name: 'metadata key with a line break', status: 422, code: 'validation_failed', request: () => postJson(S.key, '/v1/training-jobs', { dataset_id: S.readyDs, method: 'coop', metadata: { 'pro\nject': 'x' } }) },
  { category: 'hyperparameters', name: '17 metadata keys', status: 422, code: 'validation_failed', request: () => postJson(S.key, '/v1/training-jobs', { dataset_id: S.readyDs, method: 'coop', metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }) },

  // -- classify limits → 422
  { category: 'classify limits', name: '1001 labels', status: 422, code: 'validation_failed', request: () => classify({ model: 'zero-shot', labels: Array.from({ length: 1001 }, (_, i) => `l${i}`), image: b64(S.png) }) },
  { category: 'classify limits', name: 'a label of 201 characters', status: 422, code: 'validation_failed', request: () => classify({ model: 'zero-shot', labels: ['cat', 'x'.repeat(201)], image: b64(S.png) }) },
  { category: 'classify limits', name: 'repeated labels', status: 422, code: 'validation_failed', request: () => classify({ model: 'zero-shot', labels: ['cat', ' cat '], image: b64(S.png) }) },
  { category: 'classify limits', name: '33 images', status: 422, code: 'validation_failed', request: () => classify({ model: 'zero-shot', labels: ['a', 'b'], images: Array.from({ length: 33 }, () => b64(S.png)) }) },
  { category: 'classify limits', name: 'image and images together', status: 422, code: 'validation_failed', request: () => classify({ model: 'zero-shot', labels: ['a', 'b'], image: b64(S.png), images: [b64(S.png)] }) },
  { category: 'classify limits', name: 'top_k 0', status: 422, code: 'validation_failed', request: () => classify({ model: 'zero-shot', labels: ['a', 'b'], image: b64(S.png), top_k: 0 }) },
  { category: 'classify limits', name: 'top_k 1.5', status: 422, code: 'validation_failed', request: () => classify({ model: 'zero-shot', labels: ['a', 'b'], image: b64(S.png), top_k: 1.5 }) },
  { category: 'classify limits', name: 'zero-shot without labels', status: 422, code: 'validation_failed', request: () => classify({ model: 'zero-shot', image: b64(S.png) }) },
  { category: 'classify limits', name: '257 texts to embed', status: 422, code: 'validation_failed', request: () => postJson(S.key, '/v1/embeddings/text', { texts: Array.from({ length: 257 }, (_, i) => `t${i}`) }) },

  // -- upload declarations → 422
  { category: 'presigned declarations', name: 'bytes -1', status: 422, code: 'validation_failed', request: () => postJson(S.key, `/v1/datasets/${S.openDs}/uploads`, { files: [{ label: 'cat', content_type: 'image/png', bytes: -1 }] }) },
  { category: 'presigned declarations', name: 'bytes 10 MiB + 1', status: 422, code: 'validation_failed', request: () => postJson(S.key, `/v1/datasets/${S.openDs}/uploads`, { files: [{ label: 'cat', content_type: 'image/png', bytes: MAX_IMAGE_BYTES + 1 }] }) },
  { category: 'presigned declarations', name: 'bytes 1e400 (Infinity)', status: 422, code: 'validation_failed', request: () => rawJson(S.key, `/v1/datasets/${S.openDs}/uploads`, '{"files": [{"label": "cat", "content_type": "image/png", "bytes": 1e400}]}') },
  { category: 'presigned declarations', name: 'content_type image/svg+xml', status: 422, code: 'validation_failed', request: () => postJson(S.key, `/v1/datasets/${S.openDs}/uploads`, { files: [{ label: 'cat', content_type: 'image/svg+xml', bytes: 100 }] }) },
  { category: 'presigned declarations', name: '101 files', status: 422, code: 'validation_failed', request: () => postJson(S.key, `/v1/datasets/${S.openDs}/uploads`, { files: Array.from({ length: 101 }, () => ({ label: 'cat', content_type: 'image/png', bytes: 100 })) }) },
  { category: 'presigned declarations', name: '101 files in one multipart request', status: 422, code: 'validation_failed', request: () => upload(S.key, S.openDs, [labelPart('cat'), ...tinyPngs(101)]) },

  // -- presigned PUTs to s3rver, then /uploads/complete → 422 and nothing left
  {
    category: 'presigned URL',
    name: 'expired URL: S3 403, complete 422',
    status: 422,
    code: 'validation_failed',
    baseline: 'before-setup',
    setup: async () => {
      const p = await pendingUpload('image/png', S.png.length);
      // The edge's URLs live 15 minutes; sign one for the same key that lives 1 second.
      const short = await blobs.presignPut(p.objectKey, 'image/png', S.png.length, 1);
      await new Promise((r) => setTimeout(r, Math.max(0, short.expiresAt.getTime() - Date.now()) + 300));
      p.s3Status = await s3Put(short.url, short.headers, S.png);
      return p;
    },
    request: (p: Pending) => complete(p),
    check: (p: Pending) => {
      expect(p.s3Status).toBe(403);
      expectUploadGone(p);
    },
  },
  {
    category: 'presigned URL',
    name: 'URL replayed for another key: signature mismatch, complete 422',
    status: 422,
    code: 'validation_failed',
    baseline: 'before-setup',
    setup: async () => {
      const p = await pendingUpload('image/png', S.png.length);
      const forged = new URL(p.url);
      forged.pathname = forged.pathname.replace(/img_[0-9a-z]+\.png$/, 'img_forged.png');
      expect(forged.pathname).not.toBe(new URL(p.url).pathname);
      expect(sigV4Matches(p.url, p.headers, secret())).toBe(true);
      expect(sigV4Matches(p.url, p.headers, secret(), forged.href)).toBe(false); // S3: 403 SignatureDoesNotMatch
      p.s3Status = await s3Put(forged.href, p.headers, S.png);
      if (p.s3Status < 300) p.strayKey = decodeURIComponent(forged.pathname.replace(`/${s3.bucket}/`, ''));
      return p;
    },
    request: (p: Pending) => complete(p),
    check: async (p: Pending) => {
      expect([200, 403]).toContain(p.s3Status); // 200: s3rver does not verify V4 signatures
      expectUploadGone(p);
      if (p.strayKey) {
        // Stored by s3rver only; no row of the edge refers to it. Remove it for the bucket check.
        expect(edge.db.raw.prepare('SELECT COUNT(*) AS n FROM images WHERE object_key = ?').get(p.strayKey)).toEqual({ n: 0 });
        await blobs.delete([p.strayKey]);
      }
    },
  },
  {
    category: 'presigned URL',
    name: 'URL used with another Content-Length (size): complete 422',
    status: 422,
    code: 'validation_failed',
    baseline: 'before-setup',
    setup: async () => {
      const p = await pendingUpload('image/png', S.png.length);
      const bigger = Buffer.concat([S.png, Buffer.alloc(100)]);
      const headers = { ...p.headers, 'content-length': String(bigger.length) };
      expect(sigV4Matches(p.url, headers, secret())).toBe(false); // S3: 403
      p.s3Status = await s3Put(p.url, headers, bigger);
      return p;
    },
    request: (p: Pending) => complete(p),
    check: (p: Pending) => {
      expect([200, 400, 403]).toContain(p.s3Status);
      expectUploadGone(p);
    },
  },
  {
    category: 'presigned URL',
    name: 'URL used with another Content-Type: complete 422',
    status: 422,
    code: 'validation_failed',
    baseline: 'before-setup',
    setup: async () => {
      const p = await pendingUpload('image/png', S.png.length);
      const headers = { ...p.headers, 'content-type': 'text/html' };
      expect(sigV4Matches(p.url, headers, secret())).toBe(false); // S3: 403
      p.s3Status = await s3Put(p.url, headers, S.png);
      return p;
    },
    request: (p: Pending) => complete(p),
    check: (p: Pending) => {
      expect([200, 403]).toContain(p.s3Status);
      expectUploadGone(p);
    },
  },
  {
    category: 'presigned URL',
    name: 'a decompression bomb PUT through a valid URL: complete 422',
    status: 422,
    code: 'validation_failed',
    baseline: 'before-setup',
    setup: async () => {
      const bomb = pngDeclaring(100_000, 100_000);
      const p = await pendingUpload('image/png', bomb.length);
      p.s3Status = await s3Put(p.url, p.headers, bomb);
      return p;
    },
    request: (p: Pending) => complete(p),
    check: (p: Pending) => {
      expect(p.s3Status).toBe(200);
      expectUploadGone(p);
    },
  },
  {
    category: 'presigned URL',
    name: 'random bytes PUT through a valid URL: complete 422',
    status: 422,
    code: 'validation_failed',
    baseline: 'before-setup',
    setup: async () => {
      const junk = pseudoRandom(777);
      const p = await pendingUpload('image/webp', junk.length);
      p.s3Status = await s3Put(p.url, p.headers, junk);
      return p;
    },
    request: (p: Pending) => complete(p),
    check: (p: Pending) => {
      expect(p.s3Status).toBe(200);
      expectUploadGone(p);
    },
  },
  { category: 'presigned URL', name: "complete with another tenant's pending image id", status: 404, code: 'not_found', request: () => postJson(S.key, `/v1/datasets/${S.openDs}/uploads/complete`, { image_ids: [S.imageB] }) },

  // -- auth headers → 401
  { category: 'auth', name: 'no Authorization', status: 401, code: 'unauthorized', request: () => ({ method: 'GET', path: '/v1/me' }) },
  { category: 'auth', name: '"Bearer" without a token', status: 401, code: 'unauthorized', request: () => ({ method: 'GET', path: '/v1/me', headers: { authorization: 'Bearer' } }) },
  { category: 'auth', name: '"Bearer " followed by spaces only', status: 401, code: 'unauthorized', request: () => ({ method: 'GET', path: '/v1/me', headers: { authorization: 'Bearer       ' } }) },
  { category: 'auth', name: 'key split by a space', status: 401, code: 'unauthorized', request: () => ({ method: 'GET', path: '/v1/me', headers: { authorization: `Bearer ${S.key.slice(0, 10)} ${S.key.slice(10)}` } }) },
  { category: 'auth', name: 'Basic credentials', status: 401, code: 'unauthorized', request: () => ({ method: 'GET', path: '/v1/me', headers: { authorization: `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}` } }) },
  { category: 'auth', name: 'garbage bearer token', status: 401, code: 'unauthorized', request: () => ({ method: 'GET', path: '/v1/me', headers: auth('%%%<script>garbage') }) },
  { category: 'auth', name: 'well-formed but unknown key', status: 401, code: 'unauthorized', request: () => ({ method: 'GET', path: '/v1/me', headers: auth('ck_live_' + 'A'.repeat(32)) }) },
  { category: 'auth', name: 'key with one character changed', status: 401, code: 'unauthorized', request: () => ({ method: 'GET', path: '/v1/me', headers: auth(S.key.slice(0, -1) + (S.key.endsWith('a') ? 'b' : 'a')) }) },
  { category: 'auth', name: 'SQL as the bearer token', status: 401, code: 'unauthorized', request: () => ({ method: 'GET', path: '/v1/me', headers: auth("'OR'1'='1'--") }) },
  { category: 'auth', name: 'a 12 000-character token', status: 401, code: 'unauthorized', request: () => ({ method: 'GET', path: '/v1/datasets', headers: auth('ck_live_' + 'x'.repeat(12_000)) }) },
  { category: 'auth', name: 'a 20 000-character token (over Node\'s 16 KiB header limit)', status: 400, code: 'invalid_request', request: () => ({ method: 'GET', path: '/v1/me', headers: auth('ck_live_' + 'x'.repeat(20_000)) }) },
  { category: 'auth', name: 'a revoked key', status: 401, code: 'unauthorized', request: () => postJson(S.revokedKey, '/v1/datasets', { name: 'after revoke' }) },
  { category: 'auth', name: 'the worker token on a tenant route', status: 401, code: 'unauthorized', request: () => postJson(WORKER_TOKEN, '/v1/datasets', { name: 'worker' }) },
  { category: 'auth', name: 'the admin token on a tenant route', status: 401, code: 'unauthorized', request: () => postJson(ADMIN_TOKEN, '/v1/webhook-endpoints', { url: 'https://example.com/h' }) },
  { category: 'auth', name: 'a tenant key on the admin route', status: 401, code: 'unauthorized', request: () => postJson(S.key, '/v1/tenants', { name: 'Sneaky' }) },
  { category: 'auth', name: 'a tenant key on the worker lease route', status: 401, code: 'unauthorized', request: () => postJson(S.key, '/internal/v1/leases', {}) },
  {
    category: 'auth',
    name: 'forged Standard Webhooks headers instead of a key',
    status: 401,
    code: 'unauthorized',
    request: () => ({
      method: 'POST',
      path: '/v1/datasets',
      headers: { 'content-type': 'application/json', 'webhook-id': 'msg_forged', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': `v1,${Buffer.alloc(32).toString('base64')}` },
      body: '{"name": "forged"}',
    }),
  },
  { category: 'auth', name: 'a key in X-Api-Key instead of Authorization', status: 401, code: 'unauthorized', request: () => ({ method: 'GET', path: '/v1/me', headers: { 'x-api-key': S.key } }) },

  // -- idempotency replays
  {
    category: 'replayed requests',
    name: 'Idempotency-Key replayed with another body',
    status: 409,
    code: 'conflict',
    setup: () => ok(postJson(S.key, '/v1/webhook-endpoints', { url: 'https://example.com/first' }, { 'Idempotency-Key': 'replay-1' }), 201),
    request: () => postJson(S.key, '/v1/webhook-endpoints', { url: 'https://example.com/second' }, { 'Idempotency-Key': 'replay-1' }),
  },
  {
    category: 'replayed requests',
    name: 'Idempotency-Key replayed on another route',
    status: 409,
    code: 'conflict',
    setup: () => ok(postJson(S.key, '/v1/datasets', { name: 'idem' }, { 'Idempotency-Key': 'replay-2' }), 201),
    request: () => postJson(S.key, '/v1/webhook-endpoints', { name: 'idem' }, { 'Idempotency-Key': 'replay-2' }),
  },
  { category: 'replayed requests', name: 'Idempotency-Key with control characters', status: 400, code: 'invalid_request', request: () => postJson(S.key, '/v1/datasets', { name: 'x' }, { 'Idempotency-Key': 'abc\tdef' }) },
  { category: 'replayed requests', name: 'Idempotency-Key of 256 characters', status: 400, code: 'invalid_request', request: () => postJson(S.key, '/v1/datasets', { name: 'x' }, { 'Idempotency-Key': 'k'.repeat(256) }) },
];

/** Hostile-looking but valid: accepted as plain data, stored verbatim, nothing else touched. */
interface Accepted {
  name: string;
  request: () => Req;
  status: number;
  /** The rows this request may add (table → count). */
  adds: Record<string, number>;
  check: (body: any) => void;
}

const ACCEPTED: Accepted[] = [
  {
    name: 'SQL in a dataset name is stored as text',
    request: () => postJson(S.key, '/v1/datasets', { name: SQL, classes: [`${SQL} 2`, "x' OR '1'='1"] }),
    status: 201,
    adds: { datasets: 1 },
    check: (b) => {
      expect(b.name).toBe(SQL);
      expect(b.classes.map((c: { name: string }) => c.name)).toEqual([`${SQL} 2`, "x' OR '1'='1"]);
    },
  },
  {
    name: 'a UTF-8 byte order mark before valid JSON is ignored (RFC 8259 §8.1)',
    request: () => rawJson(S.key, '/v1/datasets', Buffer.concat([BOM, Buffer.from('{"name": "bom"}')])),
    status: 201,
    adds: { datasets: 1 },
    check: (b) => expect(b.name).toBe('bom'),
  },
  {
    name: 'SQL as the ?after= cursor is an empty page',
    request: () => ({ method: 'GET', path: `/v1/datasets?after=${encodeURIComponent(SQL)}`, headers: auth(S.key) }),
    status: 200,
    adds: {},
    check: (b) => expect(b).toEqual({ data: [], has_more: false }),
  },
  {
    name: 'path traversal as a label and filename stays data (server-generated object key)',
    request: () => upload(S.key, S.openDs, [labelPart('../../etc/passwd'), filePart(S.png, '../../../etc/passwd.png')]),
    status: 201,
    adds: { images: 1, 'images (stored)': 1, objects: 1 },
    check: (b) => {
      expect(b.images[0].label).toBe('../../etc/passwd');
      const row = edge.db.raw.prepare('SELECT object_key FROM images WHERE id = ?').get(b.images[0].id) as { object_key: string };
      expect(row.object_key).toBe(`tenants/${S.tenantId}/datasets/${S.openDs}/images/${b.images[0].id}.png`);
    },
  },
  {
    name: 'a label of 100 characters with emoji and combining marks',
    request: () => upload(S.key, S.openDs, [labelPart('🐈‍⬛ cafe\u0301 ' + 'x'.repeat(100 - 12)), filePart(S.png)]),
    status: 201,
    adds: { images: 1, 'images (stored)': 1, objects: 1 },
    check: (b) => expect(b.images[0].label).toBe('🐈‍⬛ cafe\u0301 ' + 'x'.repeat(100 - 12)),
  },
];

// ---- setup ----------------------------------------------------------------------------------

beforeAll(async () => {
  const base = sharp({ create: { width: 8, height: 6, channels: 3, background: { r: 200, g: 30, b: 60 } } });
  S.png = await base.clone().png().toBuffer();
  S.jpeg = await base.clone().jpeg().toBuffer();
  S.webp = await base.clone().webp().toBuffer();

  s3 = await startS3rver();
  dataDir = mkdtempSync(join(tmpdir(), 'edge-hostile-'));
  edge = await startEdge({
    dataDir,
    port: 0,
    config: {
      adminToken: ADMIN_TOKEN,
      workerToken: WORKER_TOKEN,
      maxJsonBytes: MAX_JSON_BYTES,
      rateLimit: { requestsPerWindow: 100_000 },
      logger: { error: (m, d) => internalErrors.push([m, d]), warn: () => {} },
    },
    s3: s3Config(s3.endpoint, s3.bucket),
    backgroundIntervalMs: 0,
  });
  edgePort = Number(new URL(edge.url).port);
  blobs = edge.ports.blobs as S3BlobStore;

  const a = await ok<{ id: string; api_key: string }>(postJson(ADMIN_TOKEN, '/v1/tenants', { name: 'Acme' }), 201);
  const b = await ok<{ id: string; api_key: string }>(postJson(ADMIN_TOKEN, '/v1/tenants', { name: 'Victim' }), 201);
  S.key = a.api_key;
  S.tenantId = a.id;
  S.keyB = b.api_key;
  S.tenantB = b.id;

  const extra = await ok<{ id: string; api_key: string }>({ method: 'POST', path: '/v1/api-keys', headers: auth(S.key) }, 201);
  await ok({ method: 'DELETE', path: `/v1/api-keys/${extra.id}`, headers: auth(S.key) }, 204);
  S.revokedKey = extra.api_key;

  S.openDs = (await ok<{ id: string }>(postJson(S.key, '/v1/datasets', { name: 'open' }), 201)).id;
  S.typedDs = (await ok<{ id: string }>(postJson(S.key, '/v1/datasets', { name: 'typed', classes: ['cat', 'dog'] }), 201)).id;
  S.readyDs = (await ok<{ id: string }>(postJson(S.key, '/v1/datasets', { name: 'ready', classes: ['cat', 'dog'] }), 201)).id;
  for (const label of ['cat', 'dog']) await ok(upload(S.key, S.readyDs, [labelPart(label), filePart(S.png)]), 201);
  await ok(postJson(S.key, `/v1/datasets/${S.readyDs}/finalize`, {}), 200);

  S.dsB = (await ok<{ id: string }>(postJson(S.keyB, '/v1/datasets', { name: 'b' }), 201)).id;
  const upB = await ok<{ uploads: { image_id: string }[] }>(
    postJson(S.keyB, `/v1/datasets/${S.dsB}/uploads`, { files: [{ label: 'cat', content_type: 'image/png', bytes: S.png.length }] }),
    201,
  );
  S.imageB = upB.uploads[0].image_id;
}, 30_000);

afterAll(async () => {
  await edge?.close();
  await s3?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

// ---- the tests ------------------------------------------------------------------------------

function expectErrorShape(res: Res, c: { status: number; code: ErrorCode }): void {
  let body: unknown;
  try {
    body = JSON.parse(res.text);
  } catch {
    throw new Error(`not JSON (${res.status}): ${res.text.slice(0, 200)}`);
  }
  expect(res.status, res.text.slice(0, 400)).toBe(c.status);
  expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
  const err = (body as { error: { code: string; message: string; param?: string } }).error;
  expect(Object.keys(body as object)).toEqual(['error']);
  expect(Object.keys(err).filter((k) => k !== 'code' && k !== 'message' && k !== 'param')).toEqual([]);
  expect(err.code).toBe(c.code);
  expect(typeof err.message).toBe('string');
  expect(err.message.length).toBeGreaterThan(10);
  if (err.param !== undefined) expect(typeof err.param).toBe('string');
}

describe(`hostile input: ${CASES.length} cases, each a documented 4xx that writes nothing`, () => {
  it('the corpus is large and its names are distinct', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(70);
    const names = CASES.map((c) => `${c.category}: ${c.name}`);
    expect(new Set(names).size).toBe(names.length);
    for (const c of CASES) {
      expect(c.status).toBeGreaterThanOrEqual(400);
      expect(c.status).toBeLessThan(500);
    }
  });

  it.each(CASES.map((c) => [`${c.category}: ${c.name} → ${c.status} ${c.code}`, c] as const))('%s', async (_, c) => {
    let before = c.baseline === 'before-setup' ? await snapshot() : null;
    const state = c.setup ? await c.setup() : undefined;
    before ??= await snapshot();
    const errorsBefore = internalErrors.length;

    const res = await send(c.request(state));
    expect(res.status).toBeLessThan(500);
    expectErrorShape(res, c);
    await c.check?.(state, res);

    expect(internalErrors.slice(errorsBefore)).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });
});

describe('hostile-looking input that is valid data', () => {
  it.each(ACCEPTED.map((a) => [a.name, a] as const))('%s', async (_, a) => {
    const before = await snapshot();
    const res = await send(a.request());
    expect(res.status, res.text.slice(0, 300)).toBe(a.status);
    a.check(JSON.parse(res.text));
    const after = await snapshot();
    const expectedRows = { ...before.rows };
    for (const [t, n] of Object.entries(a.adds)) if (t !== 'objects') expectedRows[t] += n;
    expect(after.rows).toEqual(expectedRows);
    expect(after.objects.length).toBe(before.objects.length + (a.adds.objects ?? 0));
    // Every table still exists and answers.
    for (const t of resourceTables()) expect(() => edge.db.raw.prepare(`SELECT 1 FROM ${t} LIMIT 1`).get()).not.toThrow();
  });
});

describe('after the corpus', () => {
  it('the server is up: /healthz, GET /v1/me, a dataset with an image', async () => {
    const health = await send({ method: 'GET', path: '/healthz' });
    expect(health.status).toBe(200);

    const me = await ok<{ id: string; name: string }>({ method: 'GET', path: '/v1/me', headers: auth(S.key) }, 200);
    expect(me).toMatchObject({ id: S.tenantId, name: 'Acme' });

    const ds = await ok<{ id: string; status: string }>(postJson(S.key, '/v1/datasets', { name: 'after the storm' }), 201);
    expect(ds.status).toBe('open');
    const up = await ok<{ images: { label: string; width: number; height: number }[] }>(upload(S.key, ds.id, [labelPart('cat'), filePart(S.png)]), 201);
    expect(up.images).toMatchObject([{ label: 'cat', width: 8, height: 6 }]);
    const got = await ok<{ image_count: number }>({ method: 'GET', path: `/v1/datasets/${ds.id}`, headers: auth(S.key) }, 200);
    expect(got.image_count).toBe(1);
    expect(internalErrors).toEqual([]);
  });
});
