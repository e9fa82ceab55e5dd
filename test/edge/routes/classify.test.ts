// POST /v1/classify and /v1/embeddings/text over real HTTP with real SQLite, forwarded to the real inference server
// (gpu-worker/serve) on the bundled toy CLIP, reading real adapters from the edge's s3rver bucket. The expected
// numbers come from the product's engine run in-process on the same images (not over HTTP, not through the edge);
// the test softmaxes them itself. Between the edge and the inference server sits a pass-through proxy that records
// every request and, when told, injects a fault the real server cannot produce (down, garbage, a redirect, huge logits).
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../../../edge/ids.ts';
import { InferenceClient } from '../../../edge/inference/client.ts';
import { type ClipModel, loadClipModel } from '../../../gpu-worker/clip/model.ts';
import { OrtClipEncoders } from '../../../gpu-worker/clip/ort-encoders.ts';
import { preprocessImage } from '../../../gpu-worker/clip/preprocess.ts';
import { SeededRandom } from '../../../gpu-worker/clip/random.ts';
import { type AdapterParams, initMetaNet } from '../../../gpu-worker/cocoop/adapter.ts';
import { writeAdapter } from '../../../gpu-worker/cocoop/artifact.ts';
import { CocoopInference, l2NormalizeRows } from '../../../gpu-worker/cocoop/ort-inference.ts';
import { ctxFromPhrase } from '../../../gpu-worker/cocoop/prompts.ts';
import { toyImageSet } from '../../../lab/toyworld/image-sets.ts';
import { encodePng } from '../../../lab/toyworld/png.ts';
import { type TestBlobStore, type TestEdge, WORKER_TOKEN, jsonHeaders, startTestEdge, testBlobStore } from '../../helpers/edge.ts';
import { type Forward, type ProxiedInference, TOY_MODEL_DIR, startProxiedInference } from '../../helpers/inference-proxy.ts';

const quiet = () => {};
type Recorded = { path: string; auth: string | undefined; body: any; answer?: any };
/** pass: forward to the real inference server; the others are injected faults. */
type Mode = 'pass' | 'down' | 'garbage' | 'redirect' | 'huge';

const SECRET = 'Traceback SECRET-UPSTREAM-DETAIL /opt/gpu/secret.py';
let mode: Mode = 'pass';
const requests: Recorded[] = [];
/** Logits of the huge-logits fault: exp(1000) overflows a naive softmax. */
const hugeLogits = (images: number, labels: number) => Array.from({ length: images }, (_, i) => Array.from({ length: labels }, (_, j) => 1000 + 7 * j - i));

async function handle(req: IncomingMessage, res: ServerResponse, raw: string, forward: Forward) {
  const send = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
  if (req.url?.startsWith('/moved/')) {
    // Where a redirect points: a valid answer, which the edge must never fetch.
    requests.push({ path: req.url, auth: req.headers.authorization, body: null });
    return send(200, { logits: [[1]], embeddings: [[1]] });
  }
  const body = JSON.parse(raw);
  const rec: Recorded = { path: req.url!, auth: req.headers.authorization, body };
  requests.push(rec);
  if (mode === 'down') return send(503, SECRET);
  if (mode === 'redirect') {
    res.writeHead(307, { location: `/moved${req.url}` });
    return res.end();
  }
  if (mode === 'garbage') return send(200, { logits: 'nope', detail: SECRET });
  if (mode === 'huge') return send(200, { logits: hugeLogits(body.images.length, body.labels.length) });
  const answer = await forward();
  const text = await answer.text();
  rec.answer = JSON.parse(text);
  send(answer.status, text);
}

let proxied: ProxiedInference;
let store: TestBlobStore;
let edge: TestEdge;
let model: ClipModel;
let encoders: OrtClipEncoders;
let engine: CocoopInference;
let pngs: Buffer[];
let png: string;
let jpeg: string;
let jpegBytes: Buffer;
let adapterDir: string;
const adapters = new Map<string, AdapterParams>(); // by sha256

beforeAll(async () => {
  store = await testBlobStore();
  proxied = await startProxiedInference(store.blobs, handle);
  edge = await startTestEdge({ inferenceUrl: proxied.url, rateLimit: { requestsPerWindow: 10_000 } }, { blobs: store.blobs });
  model = loadClipModel(TOY_MODEL_DIR);
  encoders = new OrtClipEncoders(model, { provider: 'cpu', log: quiet });
  engine = new CocoopInference(encoders, { provider: 'cpu', log: quiet });
  const set = await toyImageSet('raster', 'test', 11, ['red circle', 'blue square'], 1, model.config.vision.imageSize * 2);
  pngs = await Promise.all(set.images.map((img) => encodePng(img)));
  png = pngs[0].toString('base64');
  jpegBytes = await sharp(pngs[1]).jpeg().toBuffer();
  jpeg = jpegBytes.toString('base64');
  adapterDir = mkdtempSync(join(tmpdir(), 'classify-adapters-'));
}, 120_000);
afterAll(async () => {
  await edge?.close();
  await proxied?.close();
  await engine?.release();
  await encoders?.release();
  await store?.release();
  if (adapterDir) rmSync(adapterDir, { recursive: true, force: true });
});
beforeEach(() => {
  mode = 'pass';
  requests.length = 0;
});

/** A model row whose adapter (a real CoOp/CoCoOp file, perturbed context) is stored under its key in the bucket. */
async function insertModel(tenantId: string, method: 'coop' | 'cocoop', classes: string[]): Promise<{ id: string; key: string; sha256: string }> {
  const id = newId('model');
  const key = `tenants/${tenantId}/models/${id}/adapter.safetensors`;
  const rng = new SeededRandom(method === 'coop' ? 3 : 4);
  const ctx = ctxFromPhrase(model.tokenizer, model.weights.text.tokenEmbedding, 'a photo of a');
  ctx.data = ctx.data.map((x) => x + 0.05 * rng.normal());
  const params: AdapterParams =
    method === 'coop'
      ? { method, ctx, ctxInit: 'a photo of a' }
      : { method, ctx, ctxInit: 'a photo of a', metaNet: initMetaNet(rng, model.config.projectionDim, model.config.text.hiddenSize) };
  const path = join(adapterDir, `${id}.safetensors`);
  writeAdapter(path, params, { baseModelSha256: model.weightsSha256(), classNames: classes });
  const bytes = readFileSync(path);
  await store.blobs.put(key, bytes, 'application/octet-stream');
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  adapters.set(sha256, params);
  insertModelRow(id, tenantId, method, classes, key, sha256, bytes.byteLength);
  return { id, key, sha256 };
}

function insertModelRow(id: string, tenantId: string, method: string, classes: string[], key: string, sha256: string, bytes: number) {
  edge.db.raw
    .prepare(
      `INSERT INTO models (id, tenant_id, job_id, method, base_model, classes, metrics, artifact_key, artifact_bytes, artifact_sha256, created_at)
       VALUES (?, ?, ?, ?, 'toy-clip', ?, '{}', ?, ?, ?, ?)`,
    )
    .run(id, tenantId, newId('job'), method, JSON.stringify(classes), key, bytes, sha256, new Date().toISOString());
}

const post = (key: string, path: string, body: unknown) =>
  edge.fetch(path, { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify(body) });

/** Logits from the product's engine in-process (no HTTP, no edge, no batching): one row per image. */
async function engineLogits(images: Buffer[], labels: string[], adapter: AdapterParams | null): Promise<number[][]> {
  const v = model.config.vision;
  const chw = v.numChannels * v.imageSize ** 2;
  const px = new Float32Array(images.length * chw);
  for (const [i, b] of images.entries()) px.set(await preprocessImage(b, model.preprocess), i * chw);
  const feats = await encoders.encodePixels(px, images.length);
  const l = await engine.logits(feats, images.length, labels, adapter);
  return images.map((_, i) => Array.from(l.subarray(i * labels.length, (i + 1) * labels.length)));
}

/** Softmax in Float64 (log-sum-exp), sorted by score then label. */
function softmaxSorted(labels: string[], logits: number[]) {
  const m = Math.max(...logits);
  const lse = m + Math.log(logits.reduce((s, x) => s + Math.exp(x - m), 0));
  return labels.map((label, j) => ({ label, score: Math.exp(logits[j] - lse) })).sort((a, b) => b.score - a.score || a.label.localeCompare(b.label));
}

async function expected(images: Buffer[], labels: string[], adapter: AdapterParams | null = null) {
  return (await engineLogits(images, labels, adapter)).map((row) => softmaxSorted(labels, row));
}

/** Labels in the same order; scores within float32 rounding of the engine's (batched vs unbatched runs). */
function expectPredictions(actual: { label: string; score: number }[], want: { label: string; score: number }[]) {
  expect(actual.map((p) => p.label)).toEqual(want.map((p) => p.label));
  actual.forEach((p, k) => expect(Math.abs(p.score - want[k].score)).toBeLessThan(1e-5));
}

let tenant: { id: string; api_key: string };
beforeAll(async () => {
  tenant = await edge.createTenant('Classifier');
});

describe('POST /v1/classify', () => {
  it('zero-shot with labels: softmax of the real logits, sorted; the worker gets the contract request', async () => {
    const labels = ['red circle', 'blue square', 'a green triangle', 'tree'];
    const res = await post(tenant.api_key, '/v1/classify', { model: 'zero-shot', image: png, labels: [' red circle', 'blue square ', 'a green triangle', 'tree'] });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.model).toBe('zero-shot');
    expect(body.labels_source).toBe('request');
    expectPredictions(body.predictions, (await expected([pngs[0]], labels))[0]);
    expect(body.predictions.reduce((s: number, p: any) => s + p.score, 0)).toBeCloseTo(1, 12);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      path: '/internal/v1/classify',
      auth: `Bearer ${WORKER_TOKEN}`,
      body: { base_model: 'toy-clip', adapter: null, labels, images: [png] },
    });
  });

  it('Server-Timing names the inference call and the edge total, each with a duration', async () => {
    const res = await post(tenant.api_key, '/v1/classify', { model: 'zero-shot', image: png, labels: ['cat', 'dog'] });
    expect(res.status).toBe(200);
    const header = res.headers.get('server-timing') ?? '';
    const entries = header.split(',').map((m) => m.trim());
    for (const e of entries) {
      expect(e).toMatch(/^[a-z][a-z0-9_-]*(;(dur=\d+(\.\d+)?|desc="[^"]*"))+$/);
      expect(e.split(';').filter((p) => p.startsWith('dur='))).toHaveLength(1);
    }
    expect(entries.map((e) => e.split(';')[0]).sort()).toEqual(['inference', 'total']);
    expect(res.headers.get('access-control-expose-headers') ?? '').toMatch(/Server-Timing/i);
  });

  it('numerically stable with huge logits (injected: the real model cannot produce them)', async () => {
    mode = 'huge';
    const labels = ['cat', 'dog', 'bird'];
    const body = (await (await post(tenant.api_key, '/v1/classify', { model: 'zero-shot', image: png, labels })).json()) as any;
    expectPredictions(body.predictions, softmaxSorted(labels, hugeLogits(1, 3)[0]));
    for (const p of body.predictions) expect(Number.isFinite(p.score)).toBe(true);
  });

  it('a model defaults to its classes; unseen labels work with coop and cocoop; the adapter is sent and applied', async () => {
    for (const method of ['coop', 'cocoop'] as const) {
      const m = await insertModel(tenant.id, method, ['red circle', 'blue square']);
      const params = adapters.get(m.sha256)!;
      requests.length = 0;
      const def = (await (await post(tenant.api_key, '/v1/classify', { model: m.id, image: jpeg })).json()) as any;
      expect(def.labels_source).toBe('model');
      expect(def.model).toBe(m.id);
      expectPredictions(def.predictions, (await expected([jpegBytes], ['red circle', 'blue square'], params))[0]);
      expect(requests[0].body.adapter).toEqual({ key: m.key, sha256: m.sha256, method });

      const unseen = ['red circle', 'zebra', 'giraffe'];
      const res = (await (await post(tenant.api_key, '/v1/classify', { model: m.id, image: png, labels: unseen })).json()) as any;
      expect(res.labels_source).toBe('request');
      expectPredictions(res.predictions, (await expected([pngs[0]], unseen, params))[0]);
    }
  });

  it('top_k and a batch of images', async () => {
    const labels = ['a', 'bb', 'ccc', 'dddd', 'eeeee'];
    const body = (await (await post(tenant.api_key, '/v1/classify', { model: 'zero-shot', images: [png, jpeg, png], labels, top_k: 2 })).json()) as any;
    expect(body.predictions).toBeUndefined();
    expect(body.results).toHaveLength(3);
    const want = await expected([pngs[0], jpegBytes, pngs[0]], labels);
    body.results.forEach((r: any, i: number) => expectPredictions(r.predictions, want[i].slice(0, 2)));
    expect(requests[0].body.images).toEqual([png, jpeg, png]);
  });

  it('validation: labels, image fields, base64, non-images, too many images, unknown fields — worker never called', async () => {
    const cases: [unknown, string | undefined][] = [
      [{ model: 'zero-shot', image: png }, 'labels'],
      [{ model: 'zero-shot', image: png, labels: ['a', ' a'] }, 'labels[1]'],
      [{ model: 'zero-shot', image: png, labels: ['a', '  '] }, 'labels[1]'],
      [{ model: 'zero-shot', image: png, labels: ['x'.repeat(201)] }, 'labels[0]'],
      [{ model: 'zero-shot', labels: ['a'] }, 'image'],
      [{ model: 'zero-shot', image: png, images: [png], labels: ['a'] }, 'images'],
      [{ model: 'zero-shot', image: 'not base64!!', labels: ['a'] }, 'image'],
      [{ model: 'zero-shot', images: [png, Buffer.from('hello, world').toString('base64')], labels: ['a'] }, 'images[1]'],
      [{ model: 'zero-shot', image: png.slice(0, 40), labels: ['a'] }, 'image'],
      [{ model: 'zero-shot', images: Array(33).fill(png), labels: ['a'] }, 'images'],
      [{ model: 'zero-shot', image: png, labels: ['a'], top_k: 0 }, 'top_k'],
      [{ model: 'zero-shot', image: png, labels: ['a'], temperature: 2 }, 'temperature'],
    ];
    for (const [body, param] of cases) {
      const res = await post(tenant.api_key, '/v1/classify', body);
      const err = (await res.json()) as any;
      expect([res.status, err.error.code, err.error.param], JSON.stringify(err)).toEqual([422, 'validation_failed', param]);
    }
    expect(requests).toHaveLength(0);
  });

  it('accepts a body above the 1 MiB JSON default (up to 15 MiB)', async () => {
    // An uncompressed 600x600 PNG: ~1.4 MB of base64.
    const large = (await sharp({ create: { width: 600, height: 600, channels: 3, background: '#888' } }).png({ compressionLevel: 0 }).toBuffer()).toString('base64');
    expect(large.length).toBeGreaterThan(1024 * 1024);
    const res = await post(tenant.api_key, '/v1/classify', { model: 'zero-shot', image: large, labels: ['a', 'b'] });
    expect(res.status).toBe(200);
    const tooBig = await post(tenant.api_key, '/v1/classify', { model: 'zero-shot', images: Array(12).fill(large), labels: ['a'] });
    expect(tooBig.status).toBe(413);
    // Other routes keep the default limit.
    const other = await post(tenant.api_key, '/v1/embeddings/text', { texts: [large] });
    expect(other.status).toBe(413);
  });

  it('unknown and foreign models → 404 (tenant isolation)', async () => {
    const other = await edge.createTenant('Other');
    const foreign = await insertModel(other.id, 'coop', ['cat']);
    for (const model of [foreign.id, 'mdl_doesnotexist']) {
      const res = await post(tenant.api_key, '/v1/classify', { model, image: png });
      expect(res.status).toBe(404);
      expect(((await res.json()) as any).error).toMatchObject({ code: 'not_found', param: 'model' });
      const emb = await post(tenant.api_key, '/v1/embeddings/text', { model, texts: ['a'] });
      expect(emb.status).toBe(404);
    }
    expect(requests).toHaveLength(0);
    expect((await post(other.api_key, '/v1/classify', { model: foreign.id, image: png })).status).toBe(200);
  });

  const UNAVAILABLE = { error: { code: 'inference_unavailable', message: 'The inference service is unavailable; retry after the Retry-After interval.' } };

  it('worker down / garbage / redirect → 503 inference_unavailable with Retry-After, nothing upstream leaks, no redirect followed', async () => {
    for (const m of ['down', 'garbage', 'redirect'] as const) {
      mode = m;
      requests.length = 0;
      const res = await post(tenant.api_key, '/v1/classify', { model: 'zero-shot', image: png, labels: ['a', 'b'] });
      const text = await res.text();
      expect(res.status, m).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(JSON.parse(text)).toEqual(UNAVAILABLE);
      expect(text).not.toContain('SECRET');
      expect(requests.map((r) => r.path)).toEqual(['/internal/v1/classify']);
    }
    expect(JSON.stringify(edge.loggedErrors.at(-1))).toContain('HTTP 307');
    // Nothing listening at all.
    const dead = await startTestEdge({ inferenceUrl: 'http://127.0.0.1:1' });
    try {
      const t = await dead.createTenant();
      const res = await dead.fetch('/v1/classify', { method: 'POST', headers: jsonHeaders(t.api_key), body: JSON.stringify({ model: 'zero-shot', image: png, labels: ['a'] }) });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^[1-9][0-9]*$/);
      expect(await res.json()).toEqual(UNAVAILABLE);
    } finally {
      await dead.close();
    }
  });

  it('/openapi.json documents 503 inference_unavailable on classify and embeddings', async () => {
    const spec = (await (await edge.fetch('/openapi.json')).json()) as any;
    for (const path of ['/v1/classify', '/v1/embeddings/text']) {
      expect(spec.paths[path].post.responses['503'].description).toMatch(/inference_unavailable.*Retry-After/);
    }
    expect(spec.components.schemas.Error.properties.error.properties.code.enum).toContain('inference_unavailable');
  });

  it('worker 4xx keeps its message with our 422 / 400 (real refusals of the inference server)', async () => {
    // 422: the stored adapter's bytes are not what the model row's sha256 says.
    const good = await insertModel(tenant.id, 'coop', ['cat']);
    const tampered = newId('model');
    insertModelRow(tampered, tenant.id, 'coop', ['cat'], good.key, 'e'.repeat(64), 10);
    let res = await post(tenant.api_key, '/v1/classify', { model: tampered, image: png, labels: ['a'] });
    expect(res.status).toBe(422);
    const refused = requests.at(-1)!.answer.error;
    expect(refused.code).toBe('validation_failed');
    expect(((await res.json()) as any).error).toEqual({ code: 'validation_failed', message: refused.message });
    // 400: a sha256 that is not 64 hex digits is refused by the server's request parser.
    const malformed = newId('model');
    insertModelRow(malformed, tenant.id, 'coop', ['cat'], good.key, 'not-hex', 10);
    res = await post(tenant.api_key, '/v1/classify', { model: malformed, image: png, labels: ['a'] });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error).toEqual({ code: 'invalid_request', message: requests.at(-1)!.answer.error.message });
  });
});

describe('POST /v1/embeddings/text', () => {
  it('caches per (base model, adapter, text): the second call is all cached and the worker sees nothing', async () => {
    const texts = ['a photo of a cat', 'a photo of a dog', 'a photo of a cat'];
    const first = (await (await post(tenant.api_key, '/v1/embeddings/text', { texts })).json()) as any;
    expect(first.cached).toBe(0);
    expect(first.data.map((d: any) => d.text)).toEqual(texts);
    // The product's text encoder in-process, L2-normalised: what the inference server computes for zero-shot.
    const p = model.config.projectionDim;
    const flat = l2NormalizeRows(await encoders.encodeTokenIds(texts.map((t) => model.tokenizer.encode(t, { truncate: true }))), texts.length, p);
    first.data.forEach((d: any, i: number) => {
      expect(d.embedding).toHaveLength(p);
      d.embedding.forEach((x: number, j: number) => expect(Math.abs(x - flat[i * p + j])).toBeLessThan(1e-5));
    });
    expect(requests).toHaveLength(1);
    expect(requests[0].body).toEqual({ base_model: 'toy-clip', adapter: null, texts: ['a photo of a cat', 'a photo of a dog'] });

    requests.length = 0;
    const second = (await (await post(tenant.api_key, '/v1/embeddings/text', { model: 'zero-shot', texts })).json()) as any;
    expect(second).toEqual({ ...first, cached: 3 });
    expect(requests).toHaveLength(0);

    // Partly cached: only the miss goes to the worker; a coop adapter has its own cache entries.
    const third = (await (await post(tenant.api_key, '/v1/embeddings/text', { texts: ['a photo of a dog', 'a bird'] })).json()) as any;
    expect(third.cached).toBe(1);
    expect(requests.map((r) => r.body.texts)).toEqual([['a bird']]);
    const coop = await insertModel(tenant.id, 'coop', ['cat']);
    requests.length = 0;
    const withAdapter = (await (await post(tenant.api_key, '/v1/embeddings/text', { model: coop.id, texts: ['a bird'] })).json()) as any;
    expect(withAdapter.cached).toBe(0);
    expect(requests[0].body.adapter).toEqual({ key: coop.key, sha256: coop.sha256, method: 'coop' });
  });

  it('a CoCoOp model → 422 (image-conditioned prompts); bad texts → 422', async () => {
    const m = await insertModel(tenant.id, 'cocoop', ['cat']);
    const res = await post(tenant.api_key, '/v1/embeddings/text', { model: m.id, texts: ['a'] });
    expect(res.status).toBe(422);
    const err = ((await res.json()) as any).error;
    expect(err.param).toBe('model');
    expect(err.message).toMatch(/CoCoOp.*image/);
    for (const texts of [[], Array(257).fill('a'), ['x'.repeat(1001)], ['']]) {
      expect((await post(tenant.api_key, '/v1/embeddings/text', { texts })).status).toBe(422);
    }
    expect(requests).toHaveLength(0);
  });
});

describe('InferenceClient', () => {
  it('times out → 503 unavailable and logs', async () => {
    const logged: unknown[] = [];
    const client = new InferenceClient({
      baseUrl: 'http://inference.invalid',
      token: WORKER_TOKEN,
      logger: { error: (m, d) => logged.push([m, d]), warn: () => {} },
      timeoutMs: 20,
      fetch: (_input, init) =>
        new Promise((_ok, fail) => init!.signal!.addEventListener('abort', () => fail(new DOMException('aborted', 'AbortError')))),
    });
    await expect(client.classify({ base_model: 'toy-clip', adapter: null, labels: ['a'], images: ['x'] })).rejects.toMatchObject({
      status: 503,
      code: 'inference_unavailable',
      headers: { 'Retry-After': '5' },
    });
    expect(JSON.stringify(logged)).toContain('timed out');
  });

  it('no INFERENCE_URL → unavailable', async () => {
    const client = new InferenceClient({ baseUrl: undefined, token: WORKER_TOKEN, logger: { error: () => {}, warn: () => {} } });
    await expect(client.textEmbeddings({ base_model: 'toy-clip', adapter: null, texts: ['a'] })).rejects.toMatchObject({ status: 503 });
  });
});

describe('config: inferenceUrl / baseModel', () => {
  it('defaults, env, validation', async () => {
    const { resolveConfig, configFromEnv, ConfigError } = await import('../../../edge/config.ts');
    const base = { adminToken: 'a'.repeat(20), workerToken: 'w'.repeat(20) };
    expect(resolveConfig(base)).toMatchObject({ baseModel: 'toy-clip', inferenceUrl: undefined });
    expect(configFromEnv({ ADMIN_TOKEN: base.adminToken, WORKER_TOKEN: base.workerToken, INFERENCE_URL: 'http://gpu:9000/', BASE_MODEL: 'clip-b32' }))
      .toMatchObject({ inferenceUrl: 'http://gpu:9000', baseModel: 'clip-b32' });
    expect(() => resolveConfig({ ...base, inferenceUrl: 'ftp://x' })).toThrow(ConfigError);
    expect(() => resolveConfig({ ...base, baseModel: '' })).toThrow(ConfigError);
  });
});
