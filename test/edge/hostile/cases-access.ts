// The hostile-input corpus, part 2 (test/edge/hostile/suite.ts runs it): ids, queries, parameters and credentials —
// path traversal, SQL-looking input, hyperparameters, classify limits, upload declarations, presigned URLs used
// against their terms (PUTs to s3rver, then /uploads/complete), forged and replayed authentication; and the table of
// hostile-looking input that is valid data.
import { expect } from 'vitest';
import { MAX_IMAGE_BYTES } from '../../../edge/datasets/limits.ts';
import { S3BlobStore } from '../../../shared/storage/s3-blob-store.ts';
import { ADMIN_TOKEN, WORKER_TOKEN } from '../../helpers/edge.ts';
import { s3Config } from '../../helpers/s3rver.ts';
import { sigV4Matches } from '../../helpers/sigv4.ts';
import { type Accepted, type Case, type Pending, S, b64, classify, complete, expectUploadGone, job, pendingUpload, s3Put, secret, stack, tinyPngs } from './context.ts';
import { BOM, SQL, auth, filePart, labelPart, ok, pngDeclaring, postJson, pseudoRandom, rawJson, upload } from './http.ts';

export const ACCESS_CASES: Case[] = [
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
      // The edge's URLs live 15 minutes; a store signing an hour ago signs one for the same key that lived
      // 1 second: expired before it is used, with no waiting.
      const signedEarlier = new S3BlobStore({ ...s3Config(stack.s3.endpoint, stack.s3.bucket), clock: () => new Date(Date.now() - 3_600_000) });
      const short = await signedEarlier.presignPut(p.objectKey, 'image/png', S.png.length, 1);
      signedEarlier.client.destroy();
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
      if (p.s3Status < 300) p.strayKey = decodeURIComponent(forged.pathname.replace(`/${stack.s3.bucket}/`, ''));
      return p;
    },
    request: (p: Pending) => complete(p),
    check: async (p: Pending) => {
      expect([200, 403]).toContain(p.s3Status); // 200: s3rver does not verify V4 signatures
      expectUploadGone(p);
      if (p.strayKey) {
        // Stored by s3rver only; no row of the edge refers to it. Remove it for the bucket check.
        expect(stack.edge.count('SELECT COUNT(*) AS n FROM images WHERE object_key = ?', p.strayKey)).toBe(0);
        await stack.edge.blobs.delete([p.strayKey]);
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
  {
    category: 'auth',
    name: "a 20 000-character token (over Node's 16 KiB header limit)",
    status: 400,
    code: 'invalid_request',
    on: {
      workerd: {
        status: 401,
        code: 'unauthorized',
        why: "workerd's HTTP server takes far longer headers than Node's 16 KiB, so the token reaches the edge, which refuses it like the 12 000-character one",
      },
    },
    request: () => ({ method: 'GET', path: '/v1/me', headers: auth('ck_live_' + 'x'.repeat(20_000)) }),
  },
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
export const ACCEPTED: Accepted[] = [
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
      const [row] = stack.edge.all<{ object_key: string }>('SELECT object_key FROM images WHERE id = ?', b.images[0].id);
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
