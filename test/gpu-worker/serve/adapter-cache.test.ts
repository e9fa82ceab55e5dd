import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadClipModel } from '../../../gpu-worker/clip/model.ts';
import { writeAdapter } from '../../../gpu-worker/cocoop/artifact.ts';
import { ctxFromPhrase } from '../../../gpu-worker/cocoop/prompts.ts';
import { AdapterCache, AdapterRequestError } from '../../../gpu-worker/serve/adapter-cache.ts';
import { configFromEnv } from '../../../gpu-worker/serve/main.ts';
import { useTmpDir } from '../../helpers/tmp.ts';

const model = loadClipModel(resolve(process.cwd(), 'models/toy-clip'));

describe('AdapterCache', () => {
  const dir = useTmpDir('adapter-cache-');

  function adapterBytes(phrase: string, baseSha = model.weightsSha256()): Buffer {
    const path = join(dir, `${phrase.replace(/\W/g, '_')}-${baseSha.slice(0, 4)}.safetensors`);
    const ctx = ctxFromPhrase(model.tokenizer, model.weights.text.tokenEmbedding, phrase);
    writeAdapter(path, { method: 'coop', ctx, ctxInit: phrase }, { baseModelSha256: baseSha, classNames: ['a'] });
    return readFileSync(path);
  }
  const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

  function store(files: Record<string, Uint8Array>) {
    const gets: string[] = [];
    return {
      gets,
      async get(key: string) {
        gets.push(key);
        return files[key] ?? null;
      },
    };
  }

  it('loads once, shares concurrent misses, evicts least recently used', async () => {
    const a = adapterBytes('a photo of a');
    const b = adapterBytes('a picture of');
    const c = adapterBytes('a photo');
    const blobs = store({ a, b, c });
    const cache = new AdapterCache(model, blobs, 2);
    const ref = (key: string, bytes: Uint8Array) => ({ key, sha256: sha(bytes), method: 'coop' as const });
    const [p1, p2] = await Promise.all([cache.get(ref('a', a)), cache.get(ref('a', a))]);
    expect(p1).toBe(p2);
    expect(p1.ctx.shape[0]).toBe(model.tokenizer.encodeBody('a photo of a').length);
    expect(blobs.gets).toEqual(['a']);
    await cache.get(ref('b', b));
    await cache.get(ref('a', a)); // a is now most recent
    await cache.get(ref('c', c)); // evicts b
    await cache.get(ref('a', a));
    expect(blobs.gets).toEqual(['a', 'b', 'c']);
    await cache.get(ref('b', b));
    expect(blobs.gets).toEqual(['a', 'b', 'c', 'b']);
    expect(cache.stats.size).toBe(2);
    expect(cache.stats.hits).toBe(3);
  });

  it('rejects hash mismatches, missing keys, other base models, method mismatches, garbage; failures are not cached', async () => {
    const a = adapterBytes('a photo of a');
    const other = adapterBytes('a photo of a', '0'.repeat(64));
    const blobs = store({ a, other, junk: new Uint8Array([1, 2, 3]) });
    const cache = new AdapterCache(model, blobs, 4);
    await expect(cache.get({ key: 'a', sha256: 'f'.repeat(64), method: 'coop' })).rejects.toThrow(/artifact hash mismatch/);
    await expect(cache.get({ key: 'missing', sha256: 'f'.repeat(64), method: 'coop' })).rejects.toThrow(AdapterRequestError);
    await expect(cache.get({ key: 'other', sha256: sha(other), method: 'coop' })).rejects.toThrow(/another base model/);
    await expect(cache.get({ key: 'junk', sha256: sha(new Uint8Array([1, 2, 3])), method: 'coop' })).rejects.toThrow(AdapterRequestError);
    await expect(cache.get({ key: 'a', sha256: sha(a), method: 'cocoop' })).rejects.toThrow(/coop adapter/);
    expect(cache.stats.size).toBe(1); // only the valid "a"
  });
});

describe('configFromEnv', () => {
  it('reads the env like the edge', () => {
    const c = configFromEnv({ WORKER_TOKEN: 't', S3_BUCKET: 'b', S3_ENDPOINT: 'http://127.0.0.1:9000', PORT: '9001' });
    expect(c.modelDir).toBe(resolve('models/toy-clip'));
    expect(c.port).toBe(9001);
    expect(c.s3).toMatchObject({ bucket: 'b', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true, region: 'us-east-1' });
    expect(() => configFromEnv({ S3_BUCKET: 'b' })).toThrow(/WORKER_TOKEN/);
    expect(() => configFromEnv({ WORKER_TOKEN: 't' })).toThrow(/S3_BUCKET/);
  });
});
