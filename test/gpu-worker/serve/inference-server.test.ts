// The inference service end to end over HTTP: bundled toy CLIP, adapters in s3rver.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3BlobStore } from '../../../shared/storage/s3-blob-store.ts';
import { loadClipModel, type ClipModel } from '../../../gpu-worker/clip/model.ts';
import { OrtClipEncoders } from '../../../gpu-worker/clip/ort-encoders.ts';
import { preprocessImage } from '../../../gpu-worker/clip/preprocess.ts';
import { SeededRandom } from '../../../gpu-worker/clip/random.ts';
import { initMetaNet, type AdapterParams } from '../../../gpu-worker/cocoop/adapter.ts';
import { writeAdapter } from '../../../gpu-worker/cocoop/artifact.ts';
import { CocoopInference, l2NormalizeRows } from '../../../gpu-worker/cocoop/ort-inference.ts';
import { ctxFromPhrase } from '../../../gpu-worker/cocoop/prompts.ts';
import { startInferenceServer, type RunningInferenceServer } from '../../../gpu-worker/serve/main.ts';
import { toyImageSet } from '../../../lab/toyworld/image-sets.ts';
import { encodePng } from '../../../lab/toyworld/png.ts';
import { parsePrometheusText, sampleValue } from '../../helpers/prometheus-text.ts';
import { s3Config, startS3rver, type RunningS3rver } from '../../helpers/s3rver.ts';
import { useTmpDir } from '../../helpers/tmp.ts';

const MODEL_DIR = resolve(process.cwd(), 'models/toy-clip');
const TOKEN = 'worker-token-for-tests';
const METRICS_TOKEN = 'metrics-token-for-tests';
const LABELS = ['red circle', 'blue square', 'green triangle', 'yellow star', 'purple cross'];
const quiet = () => {};

describe('gpu-worker inference service', () => {
  const dir = useTmpDir('serve-');
  let s3: RunningS3rver;
  let blobs: S3BlobStore;
  let server: RunningInferenceServer;
  let model: ClipModel;
  let encoders: OrtClipEncoders;
  let inference: CocoopInference;
  let images: string[]; // base64 PNGs, one per label (class-major)
  let pngs: Buffer[];
  const adapters: Record<'coop' | 'cocoop', { key: string; sha256: string; params: AdapterParams }> = {} as never;

  const post = (path: string, body: unknown, token = TOKEN) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const classify = (body: Record<string, unknown>) => post('/internal/v1/classify', { base_model: 'toy-clip', adapter: null, labels: LABELS, images, ...body });
  const metrics = async () => {
    const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    return res.text();
  };
  const metric = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);

  /** Logits computed directly with the product's engine (not over HTTP, no batching). */
  async function directLogits(pngList: Buffer[], labels: string[], adapter: AdapterParams | null): Promise<number[][]> {
    const v = model.config.vision;
    const chw = v.numChannels * v.imageSize ** 2;
    const px = new Float32Array(pngList.length * chw);
    for (const [i, b] of pngList.entries()) px.set(await preprocessImage(b, model.preprocess), i * chw);
    const feats = await encoders.encodePixels(px, pngList.length);
    const l = await inference.logits(feats, pngList.length, labels, adapter);
    return pngList.map((_, i) => Array.from(l.subarray(i * labels.length, (i + 1) * labels.length)));
  }

  function expectClose(a: number[][], b: number[][], tol = 1e-4) {
    expect(a.length).toBe(b.length);
    a.forEach((row, i) => {
      expect(row.length).toBe(b[i].length);
      row.forEach((x, j) => expect(Math.abs(x - b[i][j])).toBeLessThan(tol * Math.max(1, Math.abs(b[i][j]))));
    });
  }

  beforeAll(async () => {
    s3 = await startS3rver();
    blobs = new S3BlobStore(s3Config(s3.endpoint, s3.bucket));
    model = loadClipModel(MODEL_DIR);
    encoders = new OrtClipEncoders(model, { provider: 'cpu', log: quiet });
    inference = new CocoopInference(encoders, { provider: 'cpu', log: quiet });
    server = await startInferenceServer({
      modelDir: MODEL_DIR,
      workerToken: TOKEN,
      metricsToken: METRICS_TOKEN,
      s3: s3Config(s3.endpoint, s3.bucket),
      port: 0,
      ort: { provider: 'cpu', log: quiet },
      // Wide batching window: concurrent requests must meet in one batch even on a loaded CI machine.
      maxWaitMs: 250,
    });

    const set = await toyImageSet('raster', 'test', 7, LABELS, 1, model.config.vision.imageSize * 2);
    pngs = await Promise.all(set.images.map((img) => encodePng(img)));
    images = pngs.map((b) => b.toString('base64'));

    const rng = new SeededRandom(5);
    const ctx = ctxFromPhrase(model.tokenizer, model.weights.text.tokenEmbedding, 'a photo of a');
    ctx.data = ctx.data.map((x) => x + 0.02 * rng.normal());
    const made: Record<'coop' | 'cocoop', AdapterParams> = {
      coop: { method: 'coop', ctx, ctxInit: 'a photo of a' },
      cocoop: {
        method: 'cocoop',
        ctx,
        ctxInit: 'a photo of a',
        metaNet: initMetaNet(rng, model.config.projectionDim, model.config.text.hiddenSize),
      },
    };
    for (const method of ['coop', 'cocoop'] as const) {
      const path = join(dir, `${method}.safetensors`);
      writeAdapter(path, made[method], { baseModelSha256: model.weightsSha256(), classNames: LABELS });
      const bytes = readFileSync(path);
      const key = `tenants/t1/models/${method}/adapter.safetensors`;
      await blobs.put(key, bytes, 'application/octet-stream');
      adapters[method] = { key, sha256: createHash('sha256').update(bytes).digest('hex'), params: made[method] };
    }
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    await inference?.release();
    await encoders?.release();
    await s3?.stop();
  });

  it('answers /healthz without auth', async () => {
    const r = await fetch(`${server.url}/healthz`);
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ ok: true, model: 'toy-clip' });
  });

  it('zero-shot classify: right top-1 for most images, logits equal to the engine computed directly', async () => {
    const r = await classify({});
    expect(r.status).toBe(200);
    const { logits } = (await r.json()) as { logits: number[][] };
    expect(logits.length).toBe(LABELS.length);
    const correct = logits.filter((row, i) => row.indexOf(Math.max(...row)) === i).length;
    expect(correct).toBeGreaterThanOrEqual(4);
    expectClose(logits, await directLogits(pngs, LABELS, null));
  });

  // Whether concurrent requests share a batch depends on whether they queue behind a running one (the adaptive
  // policy, tested deterministically in batcher.test.ts); here: under concurrency every request gets its own rows,
  // and the batch-size histogram accounts for every image exactly once.
  it('concurrent requests with the same labels each get their own rows; every image is encoded once', async () => {
    const before = await metrics();
    const rs = await Promise.all(pngs.map((_, i) => classify({ images: [images[i]] })));
    const rows = await Promise.all(rs.map(async (r) => ((await r.json()) as { logits: number[][] }).logits[0]));
    expectClose(rows, await directLogits(pngs, LABELS, null));
    const after = await metrics();
    const calls = metric(after, 'inference_image_batch_size_count') - metric(before, 'inference_image_batch_size_count');
    const images_ = metric(after, 'inference_image_batch_size_sum') - metric(before, 'inference_image_batch_size_sum');
    expect(calls).toBeGreaterThanOrEqual(1);
    expect(calls).toBeLessThanOrEqual(pngs.length);
    expect(images_).toBe(pngs.length);
  });

  it('classify with a CoOp adapter from the blob store; the second call is a cache hit', async () => {
    const { key, sha256, params } = adapters.coop;
    const m0 = await metrics();
    const r1 = await classify({ adapter: { key, sha256, method: 'coop' } });
    expect(r1.status).toBe(200);
    const { logits } = (await r1.json()) as { logits: number[][] };
    expectClose(logits, await directLogits(pngs, LABELS, params));
    const m1 = await metrics();
    expect(metric(m1, 'inference_adapter_cache_misses_total') - metric(m0, 'inference_adapter_cache_misses_total')).toBe(1);
    const r2 = await classify({ adapter: { key, sha256, method: 'coop' } });
    expect(r2.status).toBe(200);
    expectClose(((await r2.json()) as { logits: number[][] }).logits, logits, 1e-6);
    const m2 = await metrics();
    expect(metric(m2, 'inference_adapter_cache_hits_total') - metric(m1, 'inference_adapter_cache_hits_total')).toBe(1);
    expect(metric(m2, 'inference_adapter_cache_misses_total')).toBe(metric(m1, 'inference_adapter_cache_misses_total'));
  });

  it('classify with a CoCoOp adapter', async () => {
    const { key, sha256, params } = adapters.cocoop;
    const r = await classify({ adapter: { key, sha256, method: 'cocoop' } });
    expect(r.status).toBe(200);
    expectClose(((await r.json()) as { logits: number[][] }).logits, await directLogits(pngs, LABELS, params));
  });

  it('wrong sha256 → 422 artifact hash mismatch; missing adapter → 422', async () => {
    const r = await classify({ adapter: { key: adapters.coop.key, sha256: 'ab'.repeat(32), method: 'coop' } });
    expect(r.status).toBe(422);
    expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/artifact hash mismatch/);
    const r2 = await classify({ adapter: { key: 'tenants/t1/models/none/adapter.safetensors', sha256: 'cd'.repeat(32), method: 'coop' } });
    expect(r2.status).toBe(422);
  });

  it('an adapter for another base model → 422', async () => {
    const path = join(dir, 'other.safetensors');
    writeAdapter(path, adapters.coop.params, { baseModelSha256: 'ef'.repeat(32), classNames: LABELS });
    const bytes = readFileSync(path);
    const key = 'tenants/t1/models/other/adapter.safetensors';
    await blobs.put(key, bytes, 'application/octet-stream');
    const r = await classify({ adapter: { key, sha256: createHash('sha256').update(bytes).digest('hex'), method: 'coop' } });
    expect(r.status).toBe(422);
    expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/another base model/);
  });

  it('wrong or missing token → 401', async () => {
    expect((await post('/internal/v1/classify', { base_model: 'toy-clip', adapter: null, labels: LABELS, images }, 'nope')).status).toBe(401);
    const r = await fetch(`${server.url}/internal/v1/embeddings/text`, { method: 'POST', body: '{}' });
    expect(r.status).toBe(401);
    expect(await r.json()).toMatchObject({ error: { code: 'unauthorized' } });
  });

  it('validates the request', async () => {
    const status = async (body: Record<string, unknown>) => (await classify(body)).status;
    expect(await status({ images: ['not base64!!'] })).toBe(422);
    expect(await status({ images: [Buffer.from('definitely not an image').toString('base64')] })).toBe(422);
    expect(await status({ base_model: 'other-model' })).toBe(422);
    expect(await status({ labels: [] })).toBe(422);
    expect(await status({ labels: ['a', 'a'] })).toBe(422);
    expect(await status({ labels: 'cat' })).toBe(400);
    expect(await status({ images: [] })).toBe(422);
    expect(await status({ adapter: { key: 'k', sha256: 'xyz', method: 'coop' } })).toBe(400);
    expect((await post('/internal/v1/classify', '{not json')).status).toBe(400);
    const r = await classify({ images: [Buffer.from('nope').toString('base64')] });
    expect(await r.json()).toMatchObject({ error: { code: 'validation_failed', message: expect.stringContaining('images[0]') } });
  });

  it('text embeddings: zero-shot equals the normalised ORT text features of the raw texts', async () => {
    const texts = ['a photo of a red circle.', 'blue square', 'something else entirely'];
    const r = await post('/internal/v1/embeddings/text', { base_model: 'toy-clip', adapter: null, texts });
    expect(r.status).toBe(200);
    const { embeddings } = (await r.json()) as { embeddings: number[][] };
    const p = model.config.projectionDim;
    const ids = texts.map((t) => model.tokenizer.encode(t));
    const want = l2NormalizeRows(await encoders.encodeTokenIds(ids), texts.length, p);
    expectClose(embeddings, texts.map((_, i) => Array.from(want.subarray(i * p, (i + 1) * p))));
    for (const row of embeddings) expect(Math.hypot(...row)).toBeCloseTo(1, 4);
  });

  it('text embeddings with a CoOp adapter; CoCoOp → 422', async () => {
    const { key, sha256, params } = adapters.coop;
    const texts = ['red circle', 'green star'];
    const r = await post('/internal/v1/embeddings/text', { base_model: 'toy-clip', adapter: { key, sha256, method: 'coop' }, texts });
    expect(r.status).toBe(200);
    const want = await inference.textFeatures(texts, params);
    const p = model.config.projectionDim;
    expectClose(((await r.json()) as { embeddings: number[][] }).embeddings, texts.map((_, i) => Array.from(want.subarray(i * p, (i + 1) * p))));
    const c = adapters.cocoop;
    const r2 = await post('/internal/v1/embeddings/text', { base_model: 'toy-clip', adapter: { key: c.key, sha256: c.sha256, method: 'cocoop' }, texts });
    expect(r2.status).toBe(422);
  });

  it('/metrics needs the worker token or the metrics token (G11): 401 without them or with another token, in the service\'s error shape', async () => {
    for (const headers of [{} as Record<string, string>, { authorization: 'Bearer not-the-token' }, { authorization: `Bearer ${TOKEN}x` }, { authorization: `Basic ${TOKEN}` }]) {
      const res = await fetch(`${server.url}/metrics`, { headers });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    }
    expect((await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status).toBe(200);
    // The metrics token opens nothing else.
    expect((await post('/internal/v1/embeddings/text', { base_model: 'toy-clip', adapter: null, texts: ['a'] }, METRICS_TOKEN)).status).toBe(401);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200); // the liveness probe stays open
  });

  it('/metrics parses as Prometheus text: request counters, latency, batch size and batch time histograms, text batches, cache counters', async () => {
    const m = parsePrometheusText(await metrics());
    const v = (name: string, labels: Record<string, string> = {}) => sampleValue(m, name, labels);
    for (const status of ['200', '401', '422']) expect(v('inference_requests_total', { route: '/internal/v1/classify', status })).toBeGreaterThanOrEqual(1);
    expect(m.get('inference_request_duration_seconds')?.type).toBe('histogram');
    expect(v('inference_request_duration_seconds_count', { route: '/internal/v1/classify' })).toBeGreaterThanOrEqual(1);
    // One time per micro-batch the model ran: as many as batch sizes observed.
    expect(m.get('inference_batch_duration_seconds')?.type).toBe('histogram');
    expect(v('inference_batch_duration_seconds_count')).toBe(v('inference_image_batch_size_count'));
    expect(v('inference_image_batch_size_count')).toBeGreaterThanOrEqual(1);
    expect(v('inference_text_batch_size_count')).toBeGreaterThanOrEqual(1);
    expect(v('inference_adapter_cache_hits_total')).toBeGreaterThanOrEqual(1);
    expect(m.get('inference_adapter_cache_entries')?.type).toBe('gauge');
    // No trainer beside this server: not busy, no job outcomes.
    expect(v('worker_trainer_busy')).toBe(0);
    expect(m.get('worker_trainer_jobs_total')?.samples).toEqual([]);
    expect(m.get('process_cpu_user_seconds_total')?.type).toBe('counter');
  });

  it('text embeddings: the text batch histogram counts each call once with its number of texts', async () => {
    const before = parsePrometheusText(await metrics());
    const r = await post('/internal/v1/embeddings/text', { base_model: 'toy-clip', adapter: null, texts: ['a', 'b', 'c'] });
    expect(r.status).toBe(200);
    const after = parsePrometheusText(await metrics());
    const d = (name: string) => sampleValue(after, name)! - sampleValue(before, name)!;
    expect([d('inference_text_batch_size_count'), d('inference_text_batch_size_sum')]).toEqual([1, 3]);
  });
});
