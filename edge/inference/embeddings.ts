// Text embeddings of prompts, served from the KeyValueCache when present: each embedding is cached for
// EMBEDDING_CACHE_TTL_SECONDS under `emb:` + sha256(<base_model>|<adapter sha256 or "zero-shot">|<text>)
// (docs/API-internal.md). An adapter is immutable (its sha256 names it), so nothing is ever invalidated.
// Only static prompts have text embeddings: zero-shot or a CoOp model (CoCoOp prompts depend on the image).
import type { TextEmbeddingsRequest } from '../../shared/contracts/inference-api.ts';
import { sha256Hex } from '../crypto.ts';
import { validationFailed } from '../http/errors.ts';
import { ZERO_SHOT, resolveModel } from '../models/models.ts';
import type { KeyValueCache, SqlDatabase } from '../ports.ts';

export { MAX_TEXTS, MAX_TEXT_CHARS } from '../../shared/contracts/inference-api.ts';
export const EMBEDDING_CACHE_TTL_SECONDS = 7 * 24 * 3600;

/** Cache key of a text embedding: sha256(base_model | adapter sha256 or "zero-shot" | text). */
export function embeddingCacheKey(baseModel: string, adapterSha256: string | null, text: string): Promise<string> {
  return sha256Hex(`${baseModel}|${adapterSha256 ?? ZERO_SHOT}|${text}`).then((h) => `emb:${h}`);
}

export interface TextEmbeddingsOptions {
  tenantId: string;
  /** ZERO_SHOT or one of the tenant's CoOp models (422 for a CoCoOp model, 404 unknown). */
  model: string;
  texts: string[];
  zeroShotBase: string;
  /** Asks the inference service for the embeddings of the texts the cache did not have (one row per text, in order). */
  compute: (request: TextEmbeddingsRequest) => Promise<number[][]>;
}

/** One embedding per text, in order, and how many of the texts came from the cache. */
export async function textEmbeddings(db: SqlDatabase, cache: KeyValueCache, o: TextEmbeddingsOptions) {
  const { model, texts } = o;
  const resolved = await resolveModel(db, o.tenantId, model, o.zeroShotBase);
  if (resolved.adapter?.method === 'cocoop') {
    throw validationFailed(
      `Model ${model} is a CoCoOp model: its prompts are conditioned on each image, so it has no static text embeddings. Use a CoOp model or "zero-shot".`,
      'model',
    );
  }
  const sha = resolved.adapter?.sha256 ?? null;
  const keys = await Promise.all(texts.map((t) => embeddingCacheKey(resolved.baseModel, sha, t)));
  const found = new Map<string, number[]>();
  let cached = 0;
  const misses: string[] = [];
  for (let i = 0; i < texts.length; i++) {
    const text = texts[i];
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
  for (const t of texts) if (found.has(t)) cached++;

  if (misses.length > 0) {
    const adapter = resolved.adapter ? { ...resolved.adapter, method: 'coop' as const } : null;
    const embeddings = await o.compute({ base_model: resolved.baseModel, adapter, texts: misses });
    await Promise.all(
      misses.map((text, i) => {
        found.set(text, embeddings[i]);
        return embeddingCacheKey(resolved.baseModel, sha, text).then((k) => cache.put(k, JSON.stringify(embeddings[i]), EMBEDDING_CACHE_TTL_SECONDS));
      }),
    );
  }
  return { data: texts.map((text) => ({ text, embedding: found.get(text)! })), cached };
}
