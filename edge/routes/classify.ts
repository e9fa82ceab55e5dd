// Classification and text embeddings: POST /v1/classify, POST /v1/embeddings/text.
//
// The edge validates everything (model in the caller's tenant, labels, images by their bytes), then asks
// the GPU inference service (edge/inference/client.ts, contract documented there and in
// docs/API-internal.md) for raw logits and turns them into softmax probabilities here. Text embeddings
// of static prompts (zero-shot, CoOp) are cached in the KeyValueCache; CoCoOp prompts depend on the
// image, so they have no static text embedding.
//
// Classify bodies carry base64 images, so the route raises the JSON body limit to CLASSIFY_MAX_BODY_BYTES
// with `classifyBodyLimit`, which createApp mounts on /v1/classify before the shared body guard.
import { createRoute, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { sha256Hex } from '../crypto.ts';
import { type ImageInfo, ImageProbeError, probeImage } from '../datasets/image-probe.ts';
import { MAX_IMAGE_PIXELS } from '../datasets/limits.ts';
import { requireTenant } from '../http/auth.ts';
import type { AppEnv } from '../http/context.ts';
import { notFound, validationFailed } from '../http/errors.ts';
import { PLAIN_TEXT_RULE, isPlainText } from '../http/text.ts';
import { JSON_BODY_ERRORS, SECURITY, V1_ERRORS, errorResponses, jsonBody, jsonResponse, newRouter } from '../http/openapi.ts';
import { endTime, startTime } from 'hono/timing';
import { type AdapterRef, InferenceClient } from '../inference/client.ts';
import type { SqlDatabase } from '../ports.ts';

/** JSON body limit of POST /v1/classify (base64 images). */
export const CLASSIFY_MAX_BODY_BYTES = 15 * 1024 * 1024;
export const MAX_CLASSIFY_IMAGES = 32;
/** Largest decoded image. */
export const MAX_CLASSIFY_IMAGE_BYTES = 10 * 1024 * 1024;
export const MAX_LABELS = 1000;
export const MAX_LABEL_CHARS = 200;
export const MAX_TEXTS = 256;
export const MAX_TEXT_CHARS = 1000;
export const EMBEDDING_CACHE_TTL_SECONDS = 7 * 24 * 3600;
export const ZERO_SHOT = 'zero-shot';

/**
 * Middleware mounted on /v1/classify ahead of jsonBodyGuard: the guard reads `config.maxJsonBytes`, so
 * this request sees a config whose limit is at least CLASSIFY_MAX_BODY_BYTES (the rest is unchanged).
 */
export const classifyBodyLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
  const config = c.var.config;
  if (config.maxJsonBytes < CLASSIFY_MAX_BODY_BYTES) c.set('config', { ...config, maxJsonBytes: CLASSIFY_MAX_BODY_BYTES });
  await next();
};

const ModelRef = z.string().min(1).max(100).openapi({ description: '"zero-shot" (the base CLIP model) or the id of one of your models.', example: ZERO_SHOT });
const Base64Image = z.string().min(1).openapi({ description: `Base64 of a JPEG, PNG or WebP file (a data: URL prefix is accepted), at most ${MAX_CLASSIFY_IMAGE_BYTES} bytes decoded and ${MAX_IMAGE_PIXELS} pixels.` });

const ClassifyBody = z
  .object({
    model: ModelRef,
    image: Base64Image.optional(),
    images: z.array(Base64Image).min(1).max(MAX_CLASSIFY_IMAGES).optional().openapi({ description: 'A batch instead of `image` (exactly one of the two).' }),
    labels: z
      .array(z.string().max(MAX_LABEL_CHARS))
      .min(1)
      .max(MAX_LABELS)
      .optional()
      .openapi({ description: 'Candidate labels (distinct after trimming). Default: the model\'s training classes; required for "zero-shot". May include labels the model never saw.' }),
    top_k: z.number().int().min(1).max(MAX_LABELS).optional().openapi({ description: 'Return only the k most probable labels.' }),
  })
  .strict()
  .openapi('ClassifyRequest');

const Prediction = z.object({ label: z.string(), score: z.number().openapi({ description: 'Softmax probability over the label set.' }) });
const ClassifyResponse = z
  .object({
    model: z.string(),
    labels_source: z.enum(['model', 'request']),
    predictions: z.array(Prediction).optional().openapi({ description: 'For `image`: highest score first.' }),
    results: z.array(z.object({ predictions: z.array(Prediction) })).optional().openapi({ description: 'For `images`: one entry per image, in order.' }),
  })
  .openapi('ClassifyResponse');

const EmbeddingsBody = z
  .object({
    model: ModelRef.optional().openapi({ description: '"zero-shot" (default) or the id of one of your CoOp models.' }),
    texts: z.array(z.string().min(1).max(MAX_TEXT_CHARS)).min(1).max(MAX_TEXTS),
  })
  .strict()
  .openapi('TextEmbeddingsRequest');

const EmbeddingsResponse = z
  .object({
    data: z.array(z.object({ text: z.string(), embedding: z.array(z.number()) })),
    cached: z.number().int().openapi({ description: 'How many of the texts were served from the edge cache.' }),
  })
  .openapi('TextEmbeddings');

const tags = ['Classification'];

const classifyRoute = createRoute({
  method: 'post',
  path: '/v1/classify',
  tags,
  summary: 'Classify images',
  description: `Scores are softmax probabilities over the label set. Body limit ${CLASSIFY_MAX_BODY_BYTES} bytes; at most ${MAX_CLASSIFY_IMAGES} images.`,
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { body: jsonBody(ClassifyBody) },
  responses: { 200: jsonResponse(ClassifyResponse, 'Predictions.'), ...errorResponses(...V1_ERRORS, ...JSON_BODY_ERRORS, 404, 503) },
});

const embeddingsRoute = createRoute({
  method: 'post',
  path: '/v1/embeddings/text',
  tags,
  summary: 'Text embeddings of prompts',
  description: 'Served from the edge cache when present. Not available for CoCoOp models (their text features depend on the image).',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { body: jsonBody(EmbeddingsBody) },
  responses: { 200: jsonResponse(EmbeddingsResponse, 'One embedding per text, in order.'), ...errorResponses(...V1_ERRORS, ...JSON_BODY_ERRORS, 404, 503) },
});

interface ModelRow {
  id: string;
  method: string;
  base_model: string;
  classes: string;
  artifact_key: string;
  artifact_sha256: string;
}

interface ResolvedModel {
  baseModel: string;
  adapter: AdapterRef | null;
  classes: string[] | null;
}

async function resolveModel(db: SqlDatabase, tenantId: string, model: string, zeroShotBase: string): Promise<ResolvedModel> {
  if (model === ZERO_SHOT) return { baseModel: zeroShotBase, adapter: null, classes: null };
  const row = await db
    .prepare('SELECT id, method, base_model, classes, artifact_key, artifact_sha256 FROM models WHERE id = ? AND tenant_id = ?')
    .bind(model, tenantId)
    .first<ModelRow>();
  if (!row) {
    const shown = JSON.stringify(model.length > 64 ? `${model.slice(0, 64)}…` : model);
    throw notFound(`No model with id ${shown} in your tenant; use "zero-shot" or an id from GET /v1/models.`, 'model');
  }
  return {
    baseModel: row.base_model,
    adapter: { key: row.artifact_key, sha256: row.artifact_sha256, method: row.method === 'coop' ? 'coop' : 'cocoop' },
    classes: JSON.parse(row.classes) as string[],
  };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const DATA_URL = /^data:image\/[a-z0-9.+-]+;base64,/i;

/** The decoded, probed image (422 with `param` otherwise) and its normalized base64. */
function checkImage(value: string, param: string): string {
  const b64 = value.replace(DATA_URL, '');
  if (b64.length % 4 !== 0 || !BASE64.test(b64)) {
    throw validationFailed(`Field "${param}" is not valid base64; send the file's bytes base64-encoded (standard alphabet, padded).`, param);
  }
  const decodedBytes = (b64.length / 4) * 3 - (b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0);
  if (decodedBytes > MAX_CLASSIFY_IMAGE_BYTES) {
    throw validationFailed(`Field "${param}" is ${decodedBytes} bytes decoded; the limit is ${MAX_CLASSIFY_IMAGE_BYTES} bytes per image.`, param);
  }
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  let info: ImageInfo;
  try {
    info = probeImage(bytes);
  } catch (err) {
    if (err instanceof ImageProbeError) throw validationFailed(`Field "${param}" is not a usable image: ${err.message}. Send a JPEG, PNG or WebP file.`, param);
    throw err;
  }
  // Decompression-bomb guard, as for dataset images: the inference service would have to decode it.
  const pixels = info.width * info.height;
  if (pixels > MAX_IMAGE_PIXELS) {
    throw validationFailed(
      `Field "${param}" is ${info.width}x${info.height} = ${pixels} pixels, over the limit of ${MAX_IMAGE_PIXELS}; downscale it.`,
      param,
    );
  }
  return b64;
}

/** Trimmed, non-empty, plain-text, distinct labels (422 with `param` otherwise). */
function checkLabels(labels: string[]): string[] {
  const seen = new Map<string, number>();
  return labels.map((raw, i) => {
    const label = raw.trim();
    if (!label) throw validationFailed(`Field "labels[${i}]" must not be empty or blank.`, `labels[${i}]`);
    if (!isPlainText(label)) throw validationFailed(`Field "labels[${i}]" ${PLAIN_TEXT_RULE}.`, `labels[${i}]`);
    const prev = seen.get(label);
    if (prev !== undefined) throw validationFailed(`Field "labels[${i}]" repeats labels[${prev}] (${JSON.stringify(label)}); labels must be distinct.`, `labels[${i}]`);
    seen.set(label, i);
    return label;
  });
}

/** Numerically stable softmax of one row of logits. */
export function softmax(logits: readonly number[]): number[] {
  let max = -Infinity;
  for (const x of logits) if (x > max) max = x;
  const exps = logits.map((x) => Math.exp(x - max));
  let sum = 0;
  for (const e of exps) sum += e;
  return exps.map((e) => e / sum);
}

function predictions(labels: string[], logits: number[], topK: number | undefined) {
  const probs = softmax(logits);
  const out = labels.map((label, i) => ({ label, score: probs[i] }));
  out.sort((a, b) => b.score - a.score || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
  return topK === undefined ? out : out.slice(0, topK);
}

function clientOf(c: { var: AppEnv['Variables'] }): InferenceClient {
  const { config } = c.var;
  return new InferenceClient({ baseUrl: config.inferenceUrl, token: config.workerToken, logger: config.logger });
}

/** Cache key of a text embedding: sha256(base_model | adapter sha256 or "zero-shot" | text). */
export function embeddingCacheKey(baseModel: string, adapterSha256: string | null, text: string): Promise<string> {
  return sha256Hex(`${baseModel}|${adapterSha256 ?? ZERO_SHOT}|${text}`).then((h) => `emb:${h}`);
}

export function classifyRoutes() {
  const app = newRouter();

  app.openapi(classifyRoute, async (c) => {
    const body = c.req.valid('json');
    if ((body.image === undefined) === (body.images === undefined)) {
      throw validationFailed(
        body.image === undefined ? 'Send one image as "image" or a batch as "images".' : 'Send either "image" or "images", not both.',
        body.image === undefined ? 'image' : 'images',
      );
    }
    const resolved = await resolveModel(c.var.ports.db, c.var.tenant.tenantId, body.model, c.var.config.baseModel);
    let labels: string[];
    let labelsSource: 'model' | 'request';
    if (body.labels !== undefined) {
      labels = checkLabels(body.labels);
      labelsSource = 'request';
    } else if (resolved.classes) {
      labels = resolved.classes;
      labelsSource = 'model';
    } else {
      throw validationFailed('Field "labels" is required with model "zero-shot" (it has no training classes).', 'labels');
    }
    const images = body.image !== undefined ? [checkImage(body.image, 'image')] : body.images!.map((img, i) => checkImage(img, `images[${i}]`));

    startTime(c, 'inference', 'gpu-worker inference');
    const logits = await clientOf(c).classify({ base_model: resolved.baseModel, adapter: resolved.adapter, labels, images });
    endTime(c, 'inference');
    const base = { model: body.model, labels_source: labelsSource };
    if (body.image !== undefined) return c.json({ ...base, predictions: predictions(labels, logits[0], body.top_k) }, 200);
    return c.json({ ...base, results: logits.map((row) => ({ predictions: predictions(labels, row, body.top_k) })) }, 200);
  });

  app.openapi(embeddingsRoute, async (c) => {
    const body = c.req.valid('json');
    const model = body.model ?? ZERO_SHOT;
    const resolved = await resolveModel(c.var.ports.db, c.var.tenant.tenantId, model, c.var.config.baseModel);
    if (resolved.adapter?.method === 'cocoop') {
      throw validationFailed(
        `Model ${model} is a CoCoOp model: its prompts are conditioned on each image, so it has no static text embeddings. Use a CoOp model or "zero-shot".`,
        'model',
      );
    }
    const { cache } = c.var.ports;
    const sha = resolved.adapter?.sha256 ?? null;
    const keys = await Promise.all(body.texts.map((t) => embeddingCacheKey(resolved.baseModel, sha, t)));
    const found = new Map<string, number[]>();
    let cached = 0;
    const misses: string[] = [];
    for (let i = 0; i < body.texts.length; i++) {
      const text = body.texts[i];
      if (found.has(text) || misses.includes(text)) continue;
      const hit = await cache.get(keys[i]);
      let parsed: unknown = null;
      if (hit !== null) {
        try {
          parsed = JSON.parse(hit);
        } catch {
          parsed = null;
        }
      }
      if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'number')) found.set(text, parsed as number[]);
      else misses.push(text);
    }
    for (const t of body.texts) if (found.has(t)) cached++;

    if (misses.length > 0) {
      const adapter = resolved.adapter ? { ...resolved.adapter, method: 'coop' as const } : null;
      startTime(c, 'inference', 'gpu-worker inference');
      const embeddings = await clientOf(c).textEmbeddings({ base_model: resolved.baseModel, adapter, texts: misses });
      endTime(c, 'inference');
      await Promise.all(
        misses.map((text, i) => {
          found.set(text, embeddings[i]);
          return embeddingCacheKey(resolved.baseModel, sha, text).then((k) => cache.put(k, JSON.stringify(embeddings[i]), EMBEDDING_CACHE_TTL_SECONDS));
        }),
      );
    }
    return c.json({ data: body.texts.map((text) => ({ text, embedding: found.get(text)! })), cached }, 200);
  });

  return app;
}
