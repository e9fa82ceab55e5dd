// The hostile-input corpus, part 1 (test/edge/hostile/suite.ts runs it): request bodies and their parsing — malformed
// and deeply nested JSON, huge bodies, content types, corrupt images and decompression bombs, labels and names.
import { MAX_IMAGE_BYTES, MAX_MULTIPART_BYTES } from '../../../edge/datasets/limits.ts';
import { CLASSIFY_MAX_BODY_BYTES } from '../../../edge/routes/classify.ts';
import { ADMIN_TOKEN } from '../../helpers/edge.ts';
import { type Case, MAX_JSON_BYTES, type RuntimeNote, S, b64, classify, nested } from './context.ts';
import { BMP, BOM, BOUNDARY, GIF, SVG, auth, filePart, jpegDeclaring, jsonH, labelPart, multipartBytes, pngDeclaring, postJson, pseudoRandom, rawJson, upload, webpVp8lDeclaring, webpVp8xDeclaring } from './http.ts';

/** A refused chunked body the edge stops reading half-way (test/helpers/edge-under-test.ts, "wrangler dev's proxy"). */
const CANCELLED_BODY: RuntimeNote = {
  breaksDevProxy: true,
  why: "the edge cancels the body stream once past the limit, after which wrangler dev's proxy has lost its connection to the worker and answers the next POST itself (a deployed Worker has no such proxy)",
};

export const INPUT_CASES: Case[] = [
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
  {
    category: 'huge body',
    name: 'JSON over the limit, chunked (no Content-Length)',
    status: 413,
    code: 'payload_too_large',
    on: { workerd: CANCELLED_BODY },
    request: () => ({ ...rawJson(S.key, '/v1/datasets', JSON.stringify({ name: 'x'.repeat(4 * MAX_JSON_BYTES) })), chunked: true }),
  },
  {
    category: 'huge body',
    name: 'Content-Length of 10 GB declared, tiny body',
    status: 413,
    code: 'payload_too_large',
    on: {
      workerd: {
        skip: true,
        why:
          "not run: wrangler dev holds every answer until the worker's unread body has arrived (its dev-only drain middleware), and 10 GB never do; deployed, Cloudflare refuses a body over the plan's limit (100 MB and up) before the Worker runs; the edge's own Content-Length check runs in the 64 KiB + 1, 15 MiB and 50 MiB cases",
      },
    },
    request: () => ({ ...rawJson(S.key, '/v1/webhook-endpoints', '{}'), headers: jsonH(S.key, { 'content-length': String(10 * 1024 ** 3) }) }),
  },
  { category: 'huge body', name: 'multipart above 50 MiB', status: 413, code: 'payload_too_large', request: () => upload(S.key, S.openDs, [labelPart('cat'), filePart(Buffer.alloc(MAX_MULTIPART_BYTES + 1024))]) },
  {
    category: 'huge body',
    name: 'multipart above 50 MiB, chunked',
    status: 413,
    code: 'payload_too_large',
    on: { workerd: CANCELLED_BODY },
    request: () => ({ ...upload(S.key, S.openDs, [labelPart('cat'), filePart(Buffer.alloc(MAX_MULTIPART_BYTES + 1024))]), chunked: true }),
  },
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
];
