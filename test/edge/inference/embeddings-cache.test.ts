// The text-embedding cache (edge/inference/embeddings.ts) on the real Node cache (MemoryCache, its clock injected)
// in front of the real inference server (gpu-worker/serve on the bundled toy CLIP, adapters read from the edge's
// s3rver bucket). A pass-through proxy between edge and inference server counts what reaches the server.
//   key   `emb:` + sha256("<base_model>|<adapter sha256 or zero-shot>|<text>"), recomputed here from the documented
//         format: the same (base model, adapter, text) is served from the cache whoever asks and whichever model row
//         names the adapter; another adapter or another text is a miss
//   TTL   EMBEDDING_CACHE_TTL_SECONDS, checked against the days docs/API.md and API-internal.md promise: served up to its last millisecond, a miss after, then cached again
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../../../edge/ids.ts';
import { EMBEDDING_CACHE_TTL_SECONDS } from '../../../edge/inference/embeddings.ts';
import { MemoryCache } from '../../../edge/node/memory-cache.ts';
import { type ClipModel, loadClipModel } from '../../../gpu-worker/clip/model.ts';
import { SeededRandom } from '../../../gpu-worker/clip/random.ts';
import { writeAdapter } from '../../../gpu-worker/cocoop/artifact.ts';
import { ctxFromPhrase } from '../../../gpu-worker/cocoop/prompts.ts';
import { type TestBlobStore, type TestEdge, jsonHeaders, startTestEdge, testBlobStore } from '../../helpers/edge.ts';
import { type ProxiedInference, TOY_MODEL_DIR, relay, startProxiedInference } from '../../helpers/inference-proxy.ts';
import { ManualClock } from '../../helpers/manual-clock.ts';

let proxied: ProxiedInference;
let store: TestBlobStore;
let edge: TestEdge;
let model: ClipModel;
let adapterDir: string;
const clock = new ManualClock();
const cache = new MemoryCache({ now: () => clock.now().getTime() });
/** The texts of each embeddings request that reached the inference server. */
const upstream: string[][] = [];

beforeAll(async () => {
  store = await testBlobStore();
  proxied = await startProxiedInference(store.blobs, async (req, res, raw, forward) => {
    if (req.url?.includes('embeddings')) upstream.push((JSON.parse(raw) as { texts: string[] }).texts);
    await relay(res, forward);
  });
  edge = await startTestEdge({ inferenceUrl: proxied.url, rateLimit: { requestsPerWindow: 10_000 }, clock: clock.now }, { blobs: store.blobs, cache });
  model = loadClipModel(TOY_MODEL_DIR);
  adapterDir = mkdtempSync(join(tmpdir(), 'embeddings-cache-'));
}, 120_000);
afterAll(async () => {
  await edge?.close();
  await proxied?.close();
  await store?.release();
  if (adapterDir) rmSync(adapterDir, { recursive: true, force: true });
});
beforeEach(() => {
  upstream.length = 0;
});

/** A CoOp adapter (context perturbed with `seed`) stored in the bucket; its bytes' sha256 and key. */
async function storeCoopAdapter(tenantId: string, seed: number): Promise<{ key: string; sha256: string; bytes: number }> {
  const rng = new SeededRandom(seed);
  const ctx = ctxFromPhrase(model.tokenizer, model.weights.text.tokenEmbedding, 'a photo of a');
  ctx.data = ctx.data.map((x) => x + 0.05 * rng.normal());
  const path = join(adapterDir, `${seed}.safetensors`);
  writeAdapter(path, { method: 'coop', ctx, ctxInit: 'a photo of a' }, { baseModelSha256: model.weightsSha256(), classNames: ['cat', 'dog'] });
  const bytes = readFileSync(path);
  const key = `tenants/${tenantId}/models/adapter-${seed}.safetensors`;
  await store.blobs.put(key, bytes, 'application/octet-stream');
  return { key, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.byteLength };
}

/** A model row of the tenant naming the adapter. */
function insertModel(tenantId: string, a: { key: string; sha256: string; bytes: number }): string {
  const id = newId('model');
  edge.db.raw
    .prepare(
      `INSERT INTO models (id, tenant_id, job_id, method, base_model, classes, metrics, artifact_key, artifact_bytes, artifact_sha256, created_at)
       VALUES (?, ?, ?, 'coop', 'toy-clip', '["cat","dog"]', '{}', ?, ?, ?, ?)`,
    )
    .run(id, tenantId, newId('job'), a.key, a.bytes, a.sha256, new Date().toISOString());
  return id;
}

type Embeddings = { data: { text: string; embedding: number[] }[]; cached: number };
async function embed(key: string, texts: string[], model?: string): Promise<Embeddings> {
  const res = await edge.fetch('/v1/embeddings/text', { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify({ texts, ...(model ? { model } : {}) }) });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text) as Embeddings;
}

/** The documented key, computed here independently of the product's function. */
const documentedKey = (baseModel: string, adapter: string, text: string) => `emb:${createHash('sha256').update(`${baseModel}|${adapter}|${text}`).digest('hex')}`;

describe('the text-embedding cache', () => {
  it('key: the same (base model, adapter, text) is a hit for anyone; another adapter or text is a miss', async () => {
    const a = await edge.createTenant('A');
    const b = await edge.createTenant('B');
    const first = await embed(a.api_key, ['a photo of a fox', 'a photo of an owl']);
    expect(first.cached).toBe(0);
    expect(upstream).toEqual([['a photo of a fox', 'a photo of an owl']]);
    // Stored under the documented key, holding what was answered.
    expect(JSON.parse((await cache.get(documentedKey('toy-clip', 'zero-shot', 'a photo of a fox')))!)).toEqual(first.data[0]!.embedding);

    // Another tenant, same zero-shot texts: served from the cache, the server sees nothing; another text is a miss.
    upstream.length = 0;
    const again = await embed(b.api_key, ['a photo of an owl', 'a photo of a fox', 'a photo of a hen'], 'zero-shot');
    expect(again.cached).toBe(2);
    expect(again.data[1]!.embedding).toEqual(first.data[0]!.embedding);
    expect(upstream).toEqual([['a photo of a hen']]);

    // A CoOp adapter: the same text is a miss (its own entries), then a hit.
    const adapter1 = await storeCoopAdapter(a.id, 1);
    const m1 = insertModel(a.id, adapter1);
    upstream.length = 0;
    const coop = await embed(a.api_key, ['a photo of a fox'], m1);
    expect(coop.cached).toBe(0);
    expect(upstream).toEqual([['a photo of a fox']]);
    expect(coop.data[0]!.embedding).not.toEqual(first.data[0]!.embedding); // the adapter's prompt, not zero-shot's
    expect(JSON.parse((await cache.get(documentedKey('toy-clip', adapter1.sha256, 'a photo of a fox')))!)).toEqual(coop.data[0]!.embedding);
    upstream.length = 0;
    expect((await embed(a.api_key, ['a photo of a fox'], m1)).cached).toBe(1);
    expect(upstream).toEqual([]);

    // Another model row with the same adapter bytes (its sha256 names it): a hit. Another adapter: a miss.
    const m1copy = insertModel(b.id, { ...adapter1, key: `tenants/${b.id}/models/copy.safetensors` });
    expect(await embed(b.api_key, ['a photo of a fox'], m1copy)).toEqual({ ...coop, cached: 1 });
    expect(upstream).toEqual([]);
    const m2 = insertModel(a.id, await storeCoopAdapter(a.id, 2));
    const other = await embed(a.api_key, ['a photo of a fox'], m2);
    expect(other.cached).toBe(0);
    expect(upstream).toEqual([['a photo of a fox']]);
  }, 60_000);

  it(`TTL: an entry is served for ${EMBEDDING_CACHE_TTL_SECONDS} s, then it is a miss and is cached anew`, async () => {
    // The TTL the docs promise, read from them (not from the constant under test).
    const promised = { 'docs/API-internal.md': /caches each embedding in its KeyValueCache for (\d+) days/, 'docs/API.md': /cached embeddings are kept (\d+) days/ };
    for (const [doc, sentence] of Object.entries(promised)) {
      const days = sentence.exec(readFileSync(join(process.cwd(), doc), 'utf8').replace(/\s+/g, ' '));
      expect(days, doc).not.toBeNull();
      expect(EMBEDDING_CACHE_TTL_SECONDS, doc).toBe(Number(days![1]) * 24 * 3600);
    }
    const t = await edge.createTenant('TTL');
    const texts = ['a drawing of a kite'];
    expect((await embed(t.api_key, texts)).cached).toBe(0);
    clock.advance(EMBEDDING_CACHE_TTL_SECONDS * 1000 - 1);
    expect((await embed(t.api_key, texts)).cached).toBe(1); // its last millisecond
    expect(upstream).toEqual([texts]);
    clock.advance(1);
    const expired = await embed(t.api_key, texts);
    expect(expired.cached).toBe(0);
    expect(upstream).toEqual([texts, texts]);
    // Cached again, for a full TTL from now.
    clock.advance(EMBEDDING_CACHE_TTL_SECONDS * 1000 - 1);
    expect((await embed(t.api_key, texts)).cached).toBe(1);
    expect(upstream).toHaveLength(2);
  }, 60_000);
});
