// POST /v1/classify and /v1/embeddings/text over real HTTP with real SQLite. A local HTTP server in this
// file plays the GPU inference service (whose outputs it makes independent of the edge's code; the real
// inference server is exercised in test/gpu-worker/serve and in the workerd test): it checks the worker
// token, records every request and answers deterministic logits / embeddings.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../../../edge/ids.ts';
import { InferenceClient } from '../../../edge/inference/client.ts';
import { type TestEdge, WORKER_TOKEN, jsonHeaders, startTestEdge } from '../../helpers/edge.ts';

type Recorded = { path: string; auth: string | undefined; body: any };
type Mode = 'ok' | 'down' | 'reject422' | 'reject400' | 'garbage' | 'huge' | 'slow' | 'redirect';

const SECRET = 'Traceback SECRET-UPSTREAM-DETAIL /opt/gpu/secret.py';
let mode: Mode = 'ok';
const SLOW_MS = 150;
const requests: Recorded[] = [];

/** The fake worker's logit of image i for a label: independent of the edge's code. */
function fakeLogit(i: number, label: string): number {
  let h = 0;
  for (const ch of label) h = (h * 31 + ch.charCodeAt(0)) % 997;
  const base = ((h % 50) / 10) * (i + 1);
  return mode === 'huge' ? 1000 + base * 10 : base; // exp(1000) overflows a naive softmax
}
const fakeEmbedding = (text: string) => [text.length, text.charCodeAt(0), 0.5];

function handle(req: IncomingMessage, res: ServerResponse, raw: string) {
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
  requests.push({ path: req.url!, auth: req.headers.authorization, body });
  if (req.headers.authorization !== `Bearer ${WORKER_TOKEN}`) return send(401, { error: { code: 'unauthorized', message: SECRET } });
  if (mode === 'down') return send(503, SECRET);
  if (mode === 'redirect') {
    res.writeHead(307, { location: `/moved${req.url}` });
    return res.end();
  }
  if (mode === 'garbage') return send(200, { logits: 'nope', detail: SECRET });
  if (mode === 'reject422') return send(422, { error: { code: 'unknown_base_model', message: 'unknown base model "toy-clip"' } });
  if (mode === 'reject400') return send(400, { error: { code: 'bad', message: 'adapter file is not safetensors' } });
  if (mode === 'slow') {
    mode = 'ok';
    setTimeout(() => handle(req, res, raw), SLOW_MS);
    requests.pop();
    return;
  }
  if (req.url === '/internal/v1/classify') {
    return send(200, { logits: body.images.map((_: string, i: number) => body.labels.map((l: string) => fakeLogit(i, l))) });
  }
  if (req.url === '/internal/v1/embeddings/text') return send(200, { embeddings: body.texts.map(fakeEmbedding) });
  send(404, { error: { code: 'not_found', message: 'no route' } });
}

let worker: Server;
let workerUrl: string;
let edge: TestEdge;
let png: string;
let jpeg: string;

beforeAll(async () => {
  worker = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (raw += d));
    req.on('end', () => handle(req, res, raw));
  });
  await new Promise<void>((ok) => worker.listen(0, '127.0.0.1', ok));
  workerUrl = `http://127.0.0.1:${(worker.address() as AddressInfo).port}`;
  edge = await startTestEdge({ inferenceUrl: workerUrl, rateLimit: { requestsPerWindow: 10_000 } });
  const raw = { raw: { width: 4, height: 4, channels: 3 as const } };
  png = (await sharp(Buffer.alloc(48, 120), raw).png().toBuffer()).toString('base64');
  jpeg = (await sharp(Buffer.alloc(48, 30), raw).jpeg().toBuffer()).toString('base64');
});
afterAll(async () => {
  await edge?.close();
  await new Promise<void>((ok) => (worker ? worker.close(() => ok()) : ok()));
});
beforeEach(() => {
  mode = 'ok';
  requests.length = 0;
});

function insertModel(tenantId: string, method: 'coop' | 'cocoop', classes: string[]): { id: string; key: string; sha256: string } {
  const id = newId('model');
  const key = `tenants/${tenantId}/models/${id}/adapter.safetensors`;
  const sha256 = (method === 'coop' ? 'c' : 'd').repeat(64);
  edge.db.raw
    .prepare(
      `INSERT INTO models (id, tenant_id, job_id, method, base_model, classes, metrics, artifact_key, artifact_bytes, artifact_sha256, created_at)
       VALUES (?, ?, ?, ?, 'toy-clip', ?, '{}', ?, 10, ?, ?)`,
    )
    .run(id, tenantId, newId('job'), method, JSON.stringify(classes), key, sha256, new Date().toISOString());
  return { id, key, sha256 };
}

const post = (key: string, path: string, body: unknown) =>
  edge.fetch(path, { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify(body) });

/** Softmax computed independently (log-sum-exp in a different form) and sorted. */
function expected(labels: string[], i: number) {
  const logits = labels.map((l) => fakeLogit(i, l));
  const m = Math.max(...logits);
  const lse = m + Math.log(logits.reduce((s, x) => s + Math.exp(x - m), 0));
  return labels.map((label, j) => ({ label, score: Math.exp(logits[j] - lse) })).sort((a, b) => b.score - a.score || a.label.localeCompare(b.label));
}

function expectPredictions(actual: { label: string; score: number }[], want: { label: string; score: number }[]) {
  expect(actual.map((p) => p.label)).toEqual(want.map((p) => p.label));
  actual.forEach((p, k) => expect(p.score).toBeCloseTo(want[k].score, 12));
}

let tenant: { id: string; api_key: string };
beforeAll(async () => {
  tenant = await edge.createTenant('Classifier');
});

describe('POST /v1/classify', () => {
  it('zero-shot with labels: softmax of the worker logits, sorted; the worker gets the contract request', async () => {
    const labels = ['cat', 'dog', 'a red car', 'tree'];
    const res = await post(tenant.api_key, '/v1/classify', { model: 'zero-shot', image: png, labels: [' cat', 'dog ', 'a red car', 'tree'] });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.model).toBe('zero-shot');
    expect(body.labels_source).toBe('request');
    expectPredictions(body.predictions, expected(labels, 0));
    expect(body.predictions.reduce((s: number, p: any) => s + p.score, 0)).toBeCloseTo(1, 12);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toEqual({
      path: '/internal/v1/classify',
      auth: `Bearer ${WORKER_TOKEN}`,
      body: { base_model: 'toy-clip', adapter: null, labels, images: [png] },
    });
  });

  it('Server-Timing splits the time: inference (the worker call) within the edge total', async () => {
    mode = 'slow'; // the fake worker answers after SLOW_MS
    const res = await post(tenant.api_key, '/v1/classify', { model: 'zero-shot', image: png, labels: ['cat', 'dog'] });
    expect(res.status).toBe(200);
    const metrics = Object.fromEntries(
      (res.headers.get('server-timing') ?? '').split(',').map((m) => {
        const [name, ...params] = m.trim().split(';');
        return [name, Number(params.find((p) => p.startsWith('dur='))?.slice(4))];
      }),
    );
    expect(metrics.inference).toBeGreaterThanOrEqual(SLOW_MS - 1);
    expect(metrics.total).toBeGreaterThanOrEqual(metrics.inference);
    expect(res.headers.get('access-control-expose-headers') ?? '').toMatch(/Server-Timing/i);
  });

  it('numerically stable with huge logits', async () => {
    mode = 'huge';
    const labels = ['cat', 'dog', 'bird'];
    const body = (await (await post(tenant.api_key, '/v1/classify', { model: 'zero-shot', image: png, labels })).json()) as any;
    expectPredictions(body.predictions, expected(labels, 0));
    for (const p of body.predictions) expect(Number.isFinite(p.score)).toBe(true);
  });

  it('a model defaults to its classes; unseen labels work with coop and cocoop; the adapter is sent', async () => {
    for (const method of ['coop', 'cocoop'] as const) {
      const m = insertModel(tenant.id, method, ['cat', 'dog']);
      requests.length = 0;
      const def = (await (await post(tenant.api_key, '/v1/classify', { model: m.id, image: jpeg })).json()) as any;
      expect(def.labels_source).toBe('model');
      expect(def.model).toBe(m.id);
      expectPredictions(def.predictions, expected(['cat', 'dog'], 0));
      expect(requests[0].body.adapter).toEqual({ key: m.key, sha256: m.sha256, method });

      const unseen = ['cat', 'zebra', 'giraffe'];
      const res = (await (await post(tenant.api_key, '/v1/classify', { model: m.id, image: png, labels: unseen })).json()) as any;
      expect(res.labels_source).toBe('request');
      expectPredictions(res.predictions, expected(unseen, 0));
    }
  });

  it('top_k and a batch of images', async () => {
    const labels = ['a', 'bb', 'ccc', 'dddd', 'eeeee'];
    const body = (await (await post(tenant.api_key, '/v1/classify', { model: 'zero-shot', images: [png, jpeg, png], labels, top_k: 2 })).json()) as any;
    expect(body.predictions).toBeUndefined();
    expect(body.results).toHaveLength(3);
    body.results.forEach((r: any, i: number) => expectPredictions(r.predictions, expected(labels, i).slice(0, 2)));
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
    const foreign = insertModel(other.id, 'coop', ['cat']);
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

  it('worker 4xx keeps its message with our 422 / 400', async () => {
    mode = 'reject422';
    let res = await post(tenant.api_key, '/v1/classify', { model: 'zero-shot', image: png, labels: ['a'] });
    expect(res.status).toBe(422);
    expect(((await res.json()) as any).error).toEqual({ code: 'validation_failed', message: 'unknown base model "toy-clip"' });
    mode = 'reject400';
    res = await post(tenant.api_key, '/v1/classify', { model: 'zero-shot', image: png, labels: ['a'] });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error).toEqual({ code: 'invalid_request', message: 'adapter file is not safetensors' });
  });
});

describe('POST /v1/embeddings/text', () => {
  it('caches per (base model, adapter, text): the second call is all cached and the worker sees nothing', async () => {
    const texts = ['a photo of a cat', 'a photo of a dog', 'a photo of a cat'];
    const first = (await (await post(tenant.api_key, '/v1/embeddings/text', { texts })).json()) as any;
    expect(first).toEqual({ data: texts.map((text) => ({ text, embedding: fakeEmbedding(text) })), cached: 0 });
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
    const coop = insertModel(tenant.id, 'coop', ['cat']);
    requests.length = 0;
    const withAdapter = (await (await post(tenant.api_key, '/v1/embeddings/text', { model: coop.id, texts: ['a bird'] })).json()) as any;
    expect(withAdapter.cached).toBe(0);
    expect(requests[0].body.adapter).toEqual({ key: coop.key, sha256: coop.sha256, method: 'coop' });
  });

  it('a CoCoOp model → 422 (image-conditioned prompts); bad texts → 422', async () => {
    const m = insertModel(tenant.id, 'cocoop', ['cat']);
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
