// The GPU inference service (docs/API-internal.md): POST /internal/v1/classify and
// POST /internal/v1/embeddings/text behind the shared worker token, plus /healthz (open) and /metrics (worker token).
import { timingSafeEqual } from 'node:crypto';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { type AdapterRef, MAX_IMAGES } from '../../shared/contracts/inference-api.ts';
import type { ClipModel } from '../clip/model.ts';
import type { OrtClipEncoders } from '../clip/ort-encoders.ts';
import { ImageError, preprocessImage } from '../clip/preprocess.ts';
import { TokenizerError } from '../clip/tokenizer.ts';
import type { AdapterParams } from '../cocoop/adapter.ts';
import { CocoopInference, l2NormalizeRows } from '../cocoop/ort-inference.ts';
import { modelName } from '../runtime/model.ts';
import { AdapterCache, AdapterRequestError, type BlobReader } from './adapter-cache.ts';
import { MicroBatcher } from './batcher.ts';
import { InferenceMetrics } from './metrics.ts';
import { HttpError, bad, invalid, parseClassifyRequest, parseTextEmbeddingsRequest } from './requests.ts';

export interface InferenceAppOptions {
  model: ClipModel;
  encoders: OrtClipEncoders;
  blobs: BlobReader;
  workerToken: string;
  /** A read-only token that opens GET /metrics only (METRICS_TOKEN), so a scraper need not hold the worker token. */
  metricsToken?: string;
  /** Adapters kept parsed in memory (default 16). */
  cacheSize?: number;
  /** Adaptive micro-batching of classify requests (batcher.ts; defaults: 32 images, at most 20 ms of waiting while busy). */
  maxBatchImages?: number;
  maxWaitMs?: number;
  /** Reuse an existing inference engine (default: one built on `encoders`). */
  inference?: CocoopInference;
}

/** Largest decoded image (the edge's limit too). */
export const MAX_IMAGE_BYTES = 10 * 2 ** 20;
/** Longest wait of a micro-batch behind a busy model (ms), unless set. */
export const DEFAULT_MAX_WAIT_MS = 20;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function decodeBase64(s: string, i: number): Uint8Array {
  if (s.length === 0 || !BASE64.test(s)) throw invalid(`images[${i}] is not valid base64`);
  if ((s.length / 4) * 3 > MAX_IMAGE_BYTES + 3) throw invalid(`images[${i}] is larger than 10 MiB`);
  const bytes = Buffer.from(s, 'base64');
  if (bytes.length > MAX_IMAGE_BYTES) throw invalid(`images[${i}] is larger than 10 MiB`);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

interface ClassifyItem {
  pixels: Float32Array[];
  labels: string[];
  adapter: AdapterParams | null;
}

export function createInferenceApp(opts: InferenceAppOptions) {
  const { model, encoders } = opts;
  if (!opts.workerToken) throw new Error('createInferenceApp: workerToken is required');
  const name = modelName(model);
  const inference = opts.inference ?? new CocoopInference(encoders, { log: () => {} });
  const adapters = new AdapterCache(model, opts.blobs, opts.cacheSize ?? 16);
  const metrics = new InferenceMetrics(() => adapters.stats);
  const p = model.config.projectionDim;
  const tokenBytes = Buffer.from(opts.workerToken);
  const metricsTokenBytes = opts.metricsToken ? Buffer.from(opts.metricsToken) : null;

  const batcher = new MicroBatcher<ClassifyItem, number[][]>({
    maxBatch: opts.maxBatchImages ?? MAX_IMAGES,
    maxWaitMs: opts.maxWaitMs ?? DEFAULT_MAX_WAIT_MS,
    size: (item) => item.pixels.length,
    run: async (_key, items) => {
      const all = items.flatMap((it) => it.pixels);
      const n = all.length;
      const chw = all[0].length;
      const pixels = new Float32Array(n * chw);
      all.forEach((px, i) => pixels.set(px, i * chw));
      metrics.imageBatch.observe(n);
      const endBatch = metrics.batchLatency.startTimer();
      const features = await encoders.encodePixels(pixels, n);
      const { labels, adapter } = items[0];
      const logits = await inference.logits(features, n, labels, adapter);
      endBatch();
      if (!logits.every(Number.isFinite)) throw new Error('the model produced non-finite logits');
      const c = labels.length;
      let row = 0;
      return items.map((it) =>
        it.pixels.map(() => {
          const r = Array.from(logits.subarray(row * c, (row + 1) * c));
          row++;
          return r;
        }),
      );
    },
  });

  const app = new Hono();

  app.use('*', async (c, next) => {
    const t0 = performance.now();
    await next();
    const route = ['/internal/v1/classify', '/internal/v1/embeddings/text', '/healthz', '/metrics'].includes(c.req.path) ? c.req.path : 'other';
    metrics.requests.inc({ route, status: String(c.res.status) });
    metrics.latency.observe({ route }, (performance.now() - t0) / 1000);
  });

  // The worker token guards the inference routes and /metrics (request counts and latencies), which the metrics token
  // opens too; /healthz stays open for liveness probes.
  const bearerIs = (header: string, expected: Buffer | null): boolean => {
    const m = /^Bearer (.+)$/.exec(header);
    const given = Buffer.from(m ? m[1] : '');
    return m !== null && expected !== null && given.length === expected.length && timingSafeEqual(given, expected);
  };
  const requireToken =
    (accepted: (Buffer | null)[], what: string): MiddlewareHandler =>
    async (c, next) => {
      const header = c.req.header('authorization') ?? '';
      if (!accepted.some((t) => bearerIs(header, t))) return c.json({ error: { code: 'unauthorized', message: `invalid ${what}` } }, 401);
      await next();
    };
  app.use('/internal/*', requireToken([tokenBytes], 'worker token'));
  app.use('/metrics', requireToken([tokenBytes, metricsTokenBytes], 'worker or metrics token'));

  async function body(c: Context): Promise<unknown> {
    try {
      return await c.req.json();
    } catch {
      throw bad('request body must be JSON');
    }
  }

  async function loadAdapter(ref: AdapterRef | null): Promise<AdapterParams | null> {
    return ref ? adapters.get(ref) : null;
  }

  app.get('/healthz', (c) => c.json({ ok: true, model: name }));

  app.get('/metrics', async (c) => c.text(await metrics.render(), 200, { 'content-type': metrics.contentType }));

  app.post('/internal/v1/classify', async (c) => {
    const { adapter: ref, labels, images } = parseClassifyRequest(await body(c), name);
    const bytes = images.map((s, i) => decodeBase64(s, i));
    const pixels: Float32Array[] = [];
    for (const [i, img] of bytes.entries()) pixels.push(await preprocessImage(img, model.preprocess, `images[${i}]`));
    const adapter = await loadAdapter(ref);
    const key = `${ref ? ref.sha256 : 'zero-shot'}\u0000${JSON.stringify(labels)}`;
    const logits = await batcher.submit(key, { pixels, labels, adapter });
    return c.json({ logits });
  });

  app.post('/internal/v1/embeddings/text', async (c) => {
    const { adapter: ref, texts } = parseTextEmbeddingsRequest(await body(c), name);
    metrics.textBatch.observe(texts.length);
    const adapter = await loadAdapter(ref);
    let flat: Float32Array;
    if (adapter) {
      if (texts.some((t) => t.trim() === '')) throw invalid('texts must not be empty for an adapter model');
      flat = await inference.textFeatures(texts, adapter);
    } else {
      const ids = texts.map((t) => model.tokenizer.encode(t, { truncate: true }));
      flat = l2NormalizeRows(await encoders.encodeTokenIds(ids), texts.length, p);
    }
    const embeddings = texts.map((_, i) => Array.from(flat.subarray(i * p, (i + 1) * p)));
    return c.json({ embeddings });
  });

  app.notFound((c) => c.json({ error: { code: 'not_found', message: 'no such route' } }, 404));

  app.onError((err, c) => {
    if (err instanceof HttpError) return c.json({ error: { code: err.code, message: err.message } }, err.status);
    if (err instanceof AdapterRequestError || err instanceof ImageError || err instanceof TokenizerError) {
      return c.json({ error: { code: 'validation_failed', message: err.message.slice(0, 500) } }, 422);
    }
    console.error('inference: internal error', err);
    return c.json({ error: { code: 'internal', message: 'internal error' } }, 500);
  });

  return { app, adapters, metrics, inference, modelName: name };
}
