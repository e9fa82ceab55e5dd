// A lease's dataset to a local image folder, and each way it fails with its DatasetError code.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LeaseImage } from '../../../shared/contracts/worker-api.ts';
import { downloadDataset } from '../../../gpu-worker/trainer/dataset-download.ts';
import { DatasetError } from '../../../gpu-worker/trainer/errors.ts';
import { useTmpDirs } from '../../helpers/tmp.ts';

const tmp = useTmpDirs('dataset-download-');
let png: Uint8Array;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  png = new Uint8Array(await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 200, g: 10, b: 10 } } }).png().toBuffer());
});

function store(objects: Record<string, Uint8Array>, failures = 0) {
  let left = failures;
  return {
    gets: 0,
    async get(key: string) {
      this.gets++;
      if (left > 0) {
        left--;
        throw new Error('S3 is down');
      }
      return objects[key] ?? null;
    },
  };
}

const image = (id: string, label: string, extra: Partial<LeaseImage> = {}): LeaseImage => ({ id, label, object_key: `k/${id}.png`, sha256: null, ...extra });
const lease = (images: LeaseImage[]) => ({ dataset: { id: 'ds_1', images } });

async function failure(p: Promise<unknown>): Promise<DatasetError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(DatasetError);
  return err as DatasetError;
}

describe('downloadDataset', () => {
  it('one numbered folder per class (labels sorted), every image checked and decoded; storage failures retried within the budget', async () => {
    const root = tmp();
    const logs: string[] = [];
    const blobs = store({ 'k/b1.png': png, 'k/a1.png': png, 'k/a2.png': png }, 2);
    const ds = await downloadDataset(lease([image('b1', 'dog'), image('a2', 'cat', { sha256: sha(png) }), image('a1', 'cat')]), blobs, root, undefined, {
      budgetMs: 60_000,
      log: (l) => logs.push(l),
    });
    expect(ds.classNames).toEqual(['cat', 'dog']);
    expect(ds.items).toEqual([
      { path: join(root, 'c000', 'a1.png'), label: 0 },
      { path: join(root, 'c000', 'a2.png'), label: 0 },
      { path: join(root, 'c001', 'b1.png'), label: 1 },
    ]);
    expect(logs).toEqual(['downloading image a1 failed (S3 is down); retrying in 500 ms', 'downloading image a1 failed (S3 is down); retrying in 1000 ms']);
  }, 10_000);

  it('fails with invalid_dataset, dataset_download_failed, dataset_changed, invalid_image', async () => {
    expect((await failure(downloadDataset(lease([image('a', 'cat')]), store({}), tmp()))).code).toBe('invalid_dataset');
    const missing = await failure(downloadDataset(lease([image('a', 'cat'), image('b', 'dog')]), store({ 'k/a.png': png }), tmp()));
    expect([missing.code, missing.message]).toEqual(['dataset_download_failed', 'Image b (k/b.png) is missing from storage.']);
    const down = await failure(downloadDataset(lease([image('a', 'cat'), image('b', 'dog')]), store({}, 1), tmp()));
    expect([down.code, down.message]).toEqual(['dataset_download_failed', 'Downloading image a: S3 is down']);
    const changed = await failure(downloadDataset(lease([image('a', 'cat', { sha256: 'f'.repeat(64) }), image('b', 'dog')]), store({ 'k/a.png': png, 'k/b.png': png }), tmp()));
    expect(changed.code).toBe('dataset_changed');
    const junk = await failure(downloadDataset(lease([image('a', 'cat'), image('b', 'dog')]), store({ 'k/a.png': png, 'k/b.png': new TextEncoder().encode('not an image') }), tmp()));
    expect(junk.code).toBe('invalid_image');
    expect(junk.message).toMatch(/^Image b of class "dog" cannot be decoded: /);
  });
});
