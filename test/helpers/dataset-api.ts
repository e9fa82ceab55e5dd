// The fixture of the dataset route tests (test/edge/routes/dataset*.test.ts): one real edge per test file (real
// SQLite, the real S3BlobStore against s3rver), the requests those tests make, image bytes made with sharp, and
// look-ups of what is stored (image rows, object keys).
import sharp from 'sharp';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect } from 'vitest';
import type { EdgeConfigInput } from '../../edge/config.ts';
import type { S3BlobStore } from '../../shared/storage/s3-blob-store.ts';
import { ADMIN_TOKEN, type TestEdge, bearer, jsonHeaders, startTestEdge } from './edge.ts';

export interface Dataset {
  id: string;
  name: string;
  status: string;
  image_count: number;
  classes: { name: string; image_count: number }[];
  created_at: string;
}

export async function errorOf(res: Response): Promise<{ code: string; message: string; param?: string }> {
  const body = (await res.json()) as { error: { code: string; message: string; param?: string } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error.message.length).toBeGreaterThan(10);
  return body.error;
}

export async function expectError(res: Response, status: number, code: string, param?: string) {
  expect(res.status).toBe(status);
  const err = await errorOf(res);
  expect(err.code).toBe(code);
  if (param !== undefined) expect(err.param).toBe(param);
  return err;
}

const solid = (w: number, h: number, r = 10) => sharp({ create: { width: w, height: h, channels: 3, background: { r, g: 100, b: 200 } } });
export const png = async (w = 32, h = 24, r = 10) => new Uint8Array(await solid(w, h, r).png().toBuffer());
export const jpeg = async (w = 32, h = 24, r = 10) => new Uint8Array(await solid(w, h, r).jpeg().toBuffer());
export const webp = async (w = 32, h = 24, r = 10) => new Uint8Array(await solid(w, h, r).webp().toBuffer());

export function form(label: string | null, files: { bytes: Uint8Array; name?: string; type?: string }[], extra: Record<string, string> = {}) {
  const fd = new FormData();
  if (label !== null) fd.append('label', label);
  for (const [k, v] of Object.entries(extra)) fd.append(k, v);
  for (const [i, file] of files.entries()) {
    fd.append('file', new Blob([file.bytes as Uint8Array<ArrayBuffer>], { type: file.type ?? 'application/octet-stream' }), file.name ?? `f${i}.bin`);
  }
  return fd;
}

export const datasetPrefix = (tenantId: string, datasetId: string) => `tenants/${tenantId}/datasets/${datasetId}/`;

/**
 * Starts an edge with `config` before the file's tests and closes it after them; the returned helpers talk to it.
 * `edge` and `blobs` are read through getters: they exist once beforeAll has run.
 */
export function useDatasetEdge(config: Partial<EdgeConfigInput> = {}) {
  let edge: TestEdge;
  let blobs: S3BlobStore;

  beforeAll(async () => {
    edge = await startTestEdge(config);
    blobs = edge.ports.blobs as S3BlobStore;
  }, 30_000);

  afterAll(async () => {
    await edge?.close();
  });

  const f = (path: string, init?: RequestInit) => fetch(edge.url + path, init);

  async function newTenant(name = 'Acme'): Promise<{ id: string; key: string }> {
    const res = await f('/v1/tenants', { method: 'POST', headers: jsonHeaders(ADMIN_TOKEN), body: JSON.stringify({ name }) });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { id: string; api_key: string };
    return { id: body.id, key: body.api_key };
  }

  async function createDataset(key: string, body: Record<string, unknown> = { name: 'Pets' }): Promise<Dataset> {
    const res = await f('/v1/datasets', { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify(body) });
    expect(res.status).toBe(201);
    return (await res.json()) as Dataset;
  }

  async function getDataset(key: string, id: string): Promise<Dataset> {
    const res = await f(`/v1/datasets/${id}`, { headers: bearer(key) });
    expect(res.status).toBe(200);
    return (await res.json()) as Dataset;
  }

  function postImages(key: string, datasetId: string, body: FormData | string, headers: Record<string, string> = {}) {
    return f(`/v1/datasets/${datasetId}/images`, { method: 'POST', headers: bearer(key, headers), body });
  }

  function postJson(key: string, path: string, body: unknown) {
    return f(path, { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify(body) });
  }

  async function objectKeys(prefix: string): Promise<string[]> {
    const out = await blobs.client.send(new ListObjectsV2Command({ Bucket: blobs.bucket, Prefix: prefix }));
    return (out.Contents ?? []).map((o) => o.Key!).sort();
  }

  function imageRows(datasetId: string): { id: string; status: string; label: string; object_key: string }[] {
    return edge.db.raw.prepare('SELECT id, status, label, object_key FROM images WHERE dataset_id = ? ORDER BY id').all(datasetId) as never;
  }

  /** Nothing stored for the dataset: no rows, no objects. */
  async function expectEmpty(tenantId: string, datasetId: string) {
    expect(imageRows(datasetId)).toEqual([]);
    expect(await objectKeys(datasetPrefix(tenantId, datasetId))).toEqual([]);
  }

  return {
    get edge(): TestEdge {
      return edge;
    },
    get blobs(): S3BlobStore {
      return blobs;
    },
    f,
    newTenant,
    createDataset,
    getDataset,
    postImages,
    postJson,
    objectKeys,
    imageRows,
    expectEmpty,
  };
}
