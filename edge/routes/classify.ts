// Classification and text embeddings: POST /v1/classify, POST /v1/embeddings/text.
//
// The edge validates everything (model in the caller's tenant, labels, images by their bytes), then asks
// the GPU inference service (edge/inference/client.ts; contract: shared/contracts/inference-api.ts and
// docs/API-internal.md) for raw logits and turns them into softmax probabilities (edge/inference/classify.ts).
// Text embeddings of static prompts (zero-shot, CoOp) are cached in the KeyValueCache
// (edge/inference/embeddings.ts); CoCoOp prompts depend on the image, so they have no static text embedding.
//
// Classify bodies carry base64 images, so the route raises the JSON body limit to CLASSIFY_MAX_BODY_BYTES
// with `classifyBodyLimit`, which createApp mounts on /v1/classify before the shared body guard.
// A call that succeeds is counted (edge/usage/record.ts) before its 200 is sent.
import { createRoute, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { endTime, startTime } from 'hono/timing';
import { MAX_IMAGE_PIXELS } from '../datasets/limits.ts';
import { requireTenant } from '../http/auth.ts';
import type { AppEnv } from '../http/context.ts';
import { JSON_BODY_ERRORS, SECURITY, V1_ERRORS, errorResponses, jsonBody, jsonResponse, newRouter } from '../http/openapi.ts';
import { MAX_CLASSIFY_IMAGES, MAX_CLASSIFY_IMAGE_BYTES, MAX_LABELS, MAX_LABEL_CHARS, classifyAnswer, prepareClassify } from '../inference/classify.ts';
import { InferenceClient } from '../inference/client.ts';
import { MAX_TEXTS, MAX_TEXT_CHARS, textEmbeddings } from '../inference/embeddings.ts';
import { ZERO_SHOT } from '../models/models.ts';
import { recordClassify, recordEmbeddingTexts } from '../usage/record.ts';

/** JSON body limit of POST /v1/classify (base64 images). */
export const CLASSIFY_MAX_BODY_BYTES = 15 * 1024 * 1024;

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
  operationId: 'classifyImages',
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
  operationId: 'createTextEmbeddings',
  tags,
  summary: 'Text embeddings of prompts',
  description: 'Served from the edge cache when present. Not available for CoCoOp models (their text features depend on the image).',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { body: jsonBody(EmbeddingsBody) },
  responses: { 200: jsonResponse(EmbeddingsResponse, 'One embedding per text, in order.'), ...errorResponses(...V1_ERRORS, ...JSON_BODY_ERRORS, 404, 503) },
});

function clientOf(c: { var: AppEnv['Variables'] }): InferenceClient {
  const { config } = c.var;
  return new InferenceClient({ baseUrl: config.inferenceUrl, token: config.inferenceToken, logger: config.logger });
}

export function classifyRoutes() {
  const app = newRouter();

  app.openapi(classifyRoute, async (c) => {
    const body = c.req.valid('json');
    const prepared = await prepareClassify(c.var.ports.db, { tenantId: c.var.tenant.tenantId, zeroShotBase: c.var.config.baseModel, body });
    startTime(c, 'inference', 'gpu-worker inference');
    const logits = await clientOf(c).classify(prepared.request);
    endTime(c, 'inference');
    const answer = classifyAnswer(body.model, prepared, logits, body.top_k);
    await recordClassify(c.var.ports.db, c.var.tenant.tenantId, prepared.request.images.length);
    return c.json(answer, 200);
  });

  app.openapi(embeddingsRoute, async (c) => {
    const { model = ZERO_SHOT, texts } = c.req.valid('json');
    const answer = await textEmbeddings(c.var.ports.db, c.var.ports.cache, {
      tenantId: c.var.tenant.tenantId,
      model,
      texts,
      zeroShotBase: c.var.config.baseModel,
      compute: async (request) => {
        startTime(c, 'inference', 'gpu-worker inference');
        const embeddings = await clientOf(c).textEmbeddings(request);
        endTime(c, 'inference');
        return embeddings;
      },
    });
    await recordEmbeddingTexts(c.var.ports.db, c.var.tenant.tenantId, texts.length);
    return c.json(answer, 200);
  });

  return app;
}
