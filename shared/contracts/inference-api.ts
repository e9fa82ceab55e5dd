// The internal inference API (edge → GPU worker process's inference server; docs/API-internal.md), as one
// set of zod schemas: the inference server validates requests with them (gpu-worker/serve/app.ts), the
// edge's client builds requests of these types and checks the answers' shapes (edge/inference/client.ts).
//
//   POST /internal/v1/classify          ClassifyRequest       → 200 {logits: number[images][labels]}
//   POST /internal/v1/embeddings/text   TextEmbeddingsRequest → 200 {embeddings: number[texts][dim]}
import { z } from 'zod';

export const MAX_LABELS = 1000;
export const MAX_LABEL_CHARS = 200;
export const MAX_IMAGES = 32;
export const MAX_TEXTS = 256;
export const MAX_TEXT_CHARS = 1000;

/** A published adapter: its blob-store key, the sha256 of its bytes (cache key and integrity check), its method. */
export const AdapterRef = z.strictObject({
  key: z.string().min(1).max(1024),
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, '64 hex digits'),
  method: z.enum(['cocoop', 'coop']),
});
export type AdapterRef = z.infer<typeof AdapterRef>;

export const ClassifyRequest = z.object({
  base_model: z.string().min(1),
  /** null: the zero-shot base model. */
  adapter: AdapterRef.nullable(),
  labels: z.array(z.string().max(MAX_LABEL_CHARS)).min(1).max(MAX_LABELS),
  /** Base64 image files (no data: prefix), already checked as JPEG/PNG/WebP by the edge. */
  images: z.array(z.string()).min(1).max(MAX_IMAGES),
});
export type ClassifyRequest = z.infer<typeof ClassifyRequest>;

export const ClassifyResponse = z.object({ logits: z.array(z.array(z.number())) });
export type ClassifyResponse = z.infer<typeof ClassifyResponse>;

export const TextEmbeddingsRequest = z.object({
  base_model: z.string().min(1),
  /** Only static prompts have text embeddings: zero-shot (null) or a CoOp adapter. */
  adapter: AdapterRef.extend({ method: z.literal('coop') }).nullable(),
  texts: z.array(z.string().max(MAX_TEXT_CHARS)).min(1).max(MAX_TEXTS),
});
export type TextEmbeddingsRequest = z.infer<typeof TextEmbeddingsRequest>;

export const TextEmbeddingsResponse = z.object({ embeddings: z.array(z.array(z.number())) });
export type TextEmbeddingsResponse = z.infer<typeof TextEmbeddingsResponse>;
