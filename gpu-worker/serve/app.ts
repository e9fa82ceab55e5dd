// The GPU inference service (docs/API-internal.md): POST /internal/v1/classify and
// POST /internal/v1/embeddings/text behind the shared worker token, plus /healthz and /metrics.
import { timingSafeEqual } from 'node:crypto';
import { basename, resolve } from 'node:path';
import { Hono, type Context } from 'hono';
import type { ClipModel } from '../clip/model.ts';
import type { OrtClipEncoders } from '../clip/ort-encoders.ts';
import { ImageError, preprocessImage } from '../clip/preprocess.ts';
import { TokenizerError } from '../clip/tokenizer.ts';
import type { AdapterParams } from '../cocoop/adapter.ts';
import { CocoopInference, l2NormalizeRows } from '../cocoop/ort-inference.ts';
import { AdapterCache, AdapterRequestError, type AdapterRef, type BlobReader } from './adapter-cache.ts';
import { MicroBatcher } from './batcher.ts';
import { InferenceMetrics } from './metrics.ts';

export interface InferenceAppOptions {
  model: ClipModel;
  encoders: OrtClipEncoders;
  blobs: BlobReader;
  workerToken: string;
  /** Adapters kept parsed in memory (default 16). */
  cacheSize?: number;
  /** Adaptive micro-batching of classify requests (batcher.ts; defaults: 32 images, at most 20 ms of waiting while busy). */
  maxBatchImages?: number;
  maxWaitMs?: number;
  /** Reuse an existing inference engine (default: one built on `encoders`). */
  inference?: CocoopInference;
}

export const MAX_LABELS = 1000;
export const MAX_LABEL_CHARS = 200;
export const MAX_IMAGES = 32;
export const MAX_IMAGE_BYTES = 10 * 2 ** 20;
export const MAX_TEXTS = 256;
export const MAX_TEXT_CHARS = 1000;

class HttpError extends Error {
  constructor(
    readonly status: 400 | 401 | 422,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
const bad = (message: string) => new HttpError(400, 'invalid_request', message);
const invalid = (message: string) => new HttpError(422, 'validation_failed', message);

/** The model name requests must use: the model directory's basename. */
export function modelName(model: ClipModel): string {
  return basename(resolve(model.dir));
}

function parseAdapter(v: unknown): AdapterRef | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw bad('adapter must be null or an object {key, sha256, method}');
  const a = v as Record<string, unknown>;
  if (typeof a.key !== 'string' || a.key === '' || a.key.length > 1024) throw bad('adapter.key must be a non-empty string');
  if (typeof a.sha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(a.sha256)) throw bad('adapter.sha256 must be 64 hex digits');
  if (a.method !== 'coop' && a.method !== 'cocoop') throw bad('adapter.method must be "coop" or "cocoop"');
  return { key: a.key, sha256: a.sha256.toLowerCase(), method: a.method };
}

function stringList(v: unknown, field: string, max: number, maxChars: number): string[] {
  if (!Array.isArray(v)) throw bad(`${field} must be an array of strings`);
  if (v.length === 0) throw invalid(`${field} must not be empty`);
  if (v.length > max) throw invalid(`at most ${max} ${field} per request (got ${v.length})`);
  const seen = new Set<string>();
  for (const [i, s] of v.entries()) {
    if (typeof s !== 'string') throw bad(`${field}[${i}] must be a string`);
    if (s.length > maxChars) throw invalid(`${field}[${i}] is longer than ${maxChars} characters`);
    if (seen.has(s)) throw invalid(`${field} must be distinct ("${s.slice(0, 80)}" appears twice)`);
    seen.add(s);
  }
  return v as string[];
}

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
  const metrics = new InferenceMetrics();
  const p = model.config.projectionDim;
  const tokenBytes = Buffer.from(opts.workerToken);

  const batcher = new MicroBatcher<ClassifyItem, number[][]>({
    maxBatch: opts.maxBatchImages ?? MAX_IMAGES,
    maxWaitMs: opts.maxWaitMs ?? 20,
    size: (item) => item.pixels.length,
    run: async (_key, items) => {
      const all = items.flatMap((it) => it.pixels);
      const n = all.length;
      const chw = all[0].length;
      const pixels = new Float32Array(n * chw);
      all.forEach((px, i) => pixels.set(px, i * chw));
      metrics.imageBatch.observe(n);
      const features = await encoders.encodePixels(pixels, n);
      const { labels, adapter } = items[0];
      const logits = await inference.logits(features, n, labels, adapter);
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
    metrics.latency.observe((performance.now() - t0) / 1000, { route });
  });

  app.use('/internal/*', async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const m = /^Bearer (.+)$/.exec(header);
    const given = Buffer.from(m ? m[1] : '');
    if (!m || given.length !== tokenBytes.length || !timingSafeEqual(given, tokenBytes)) {
      return c.json({ error: { code: 'unauthorized', message: 'invalid worker token' } }, 401);
    }
    await next();
  });

  async function body(c: Context): Promise<Record<string, unknown>> {
    let v: unknown;
    try {
      v = await c.req.json();
    } catch {
      throw bad('request body must be JSON');
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('request body must be a JSON object');
    const b = v as Record<string, unknown>;
    if (typeof b.base_model !== 'string') throw bad('base_model must be a string');
    if (b.base_model !== name) throw invalid(`unknown base_model "${b.base_model.slice(0, 100)}" (this service runs "${name}")`);
    return b;
  }

  async function loadAdapter(ref: AdapterRef | null): Promise<AdapterParams | null> {
    return ref ? adapters.get(ref) : null;
  }

  app.get('/healthz', (c) => c.json({ ok: true, model: name }));

  app.get('/metrics', (c) => c.text(metrics.render(adapters.stats), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }));

  app.post('/internal/v1/classify', async (c) => {
    const b = await body(c);
    const ref = parseAdapter(b.adapter);
    const labels = stringList(b.labels, 'labels', MAX_LABELS, MAX_LABEL_CHARS);
    if (labels.some((l) => l.trim() === '')) throw invalid('labels must not be empty');
    if (!Array.isArray(b.images)) throw bad('images must be an array of base64 strings');
    if (b.images.length === 0) throw invalid('images must not be empty');
    if (b.images.length > MAX_IMAGES) throw invalid(`at most ${MAX_IMAGES} images per request (got ${b.images.length})`);
    const bytes = b.images.map((s, i) => {
      if (typeof s !== 'string') throw bad(`images[${i}] must be a base64 string`);
      return decodeBase64(s, i);
    });
    const pixels: Float32Array[] = [];
    for (const [i, img] of bytes.entries()) pixels.push(await preprocessImage(img, model.preprocess, `images[${i}]`));
    const adapter = await loadAdapter(ref);
    const key = `${ref ? ref.sha256 : 'zero-shot'}\u0000${JSON.stringify(labels)}`;
    const logits = await batcher.submit(key, { pixels, labels, adapter });
    return c.json({ logits });
  });

  app.post('/internal/v1/embeddings/text', async (c) => {
    const b = await body(c);
    const ref = parseAdapter(b.adapter);
    if (ref?.method === 'cocoop') throw invalid('text embeddings need a zero-shot or CoOp model (CoCoOp prompts depend on the image)');
    const texts = stringList(b.texts, 'texts', MAX_TEXTS, MAX_TEXT_CHARS);
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
