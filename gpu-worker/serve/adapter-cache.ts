// LRU of parsed adapters, keyed by blob key + sha256. A miss downloads the safetensors from the blob
// store, checks its sha256 against the request, parses and validates it against the loaded base model
// (readAdapter: format, shapes, base_model_sha256), then keeps it. Concurrent misses share one load.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AdapterRef } from '../../shared/contracts/inference-api.ts';
import type { ClipModel } from '../clip/model.ts';
import type { AdapterParams } from '../cocoop/adapter.ts';
import { AdapterError, readAdapter } from '../cocoop/artifact.ts';

/** The blob-store operation the cache needs (edge BlobStore / S3BlobStore fit). */
export interface BlobReader {
  get(key: string): Promise<Uint8Array | null>;
}

/** A problem with the requested adapter that the caller must fix (HTTP 422). */
export class AdapterRequestError extends Error {}

export interface AdapterCacheStats {
  hits: number;
  misses: number;
  size: number;
}

export class AdapterCache {
  private readonly entries = new Map<string, Promise<AdapterParams>>();
  private hits = 0;
  private misses = 0;

  constructor(
    private readonly model: ClipModel,
    private readonly blobs: BlobReader,
    private readonly capacity = 16,
  ) {
    if (!(capacity >= 1)) throw new Error('AdapterCache: capacity must be ≥ 1');
  }

  get stats(): AdapterCacheStats {
    return { hits: this.hits, misses: this.misses, size: this.entries.size };
  }

  async get(ref: AdapterRef): Promise<AdapterParams> {
    const id = `${ref.key}\u0000${ref.sha256.toLowerCase()}`;
    const cached = this.entries.get(id);
    if (cached) {
      this.hits++;
      this.entries.delete(id); // most recently used last
      this.entries.set(id, cached);
    } else {
      this.misses++;
    }
    const entry = cached ?? this.load(ref);
    if (!cached) {
      this.entries.set(id, entry);
      while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
      // Failed loads are not cached.
      entry.catch(() => {
        if (this.entries.get(id) === entry) this.entries.delete(id);
      });
    }
    const params = await entry;
    if (params.method !== ref.method) {
      throw new AdapterRequestError(`adapter ${ref.key} is a ${params.method} adapter, the request says ${ref.method}`);
    }
    return params;
  }

  private async load(ref: AdapterRef): Promise<AdapterParams> {
    const bytes = await this.blobs.get(ref.key);
    if (!bytes) throw new AdapterRequestError(`adapter ${ref.key} not found in the blob store`);
    const digest = createHash('sha256').update(bytes).digest('hex');
    if (digest !== ref.sha256.toLowerCase()) throw new AdapterRequestError('artifact hash mismatch');
    return parseAdapterBytes(bytes, ref.key, this.model);
  }
}

/** Parses adapter safetensors bytes with the product's reader (which reads from a file). */
export function parseAdapterBytes(bytes: Uint8Array, name: string, model: ClipModel): AdapterParams {
  const dir = mkdtempSync(join(tmpdir(), 'adapter-'));
  try {
    const path = join(dir, 'adapter.safetensors');
    writeFileSync(path, bytes);
    try {
      return readAdapter(path, { config: model.config, sha256: model.weightsSha256() }).params;
    } catch (e) {
      if (e instanceof AdapterError) throw new AdapterRequestError(`adapter ${name}: ${e.message.split(path).join('').replace(/^:\s*/, '')}`);
      throw e;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
