// A leased job's dataset, from the blob store to a local image folder: every image downloaded (storage failures
// retried within a budget), checked against the sha256 the edge verified, and decoded once before training.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { Lease } from '../../shared/contracts/worker-api.ts';
import { decodeImageRGB } from '../clip/preprocess.ts';
import type { ImageFolderDataset, LabelledImage } from '../cocoop/dataset.ts';
import { DatasetError, errorMessage } from './errors.ts';
import { type StorageRetry, type TrainerBlobs, retryStorage } from './storage.ts';

function imageExt(key: string): string {
  const e = extname(key).toLowerCase();
  return ['.png', '.jpg', '.jpeg', '.webp'].includes(e) ? e : '.img';
}

/**
 * Downloads the lease's images into `root/cNNN/<image id>.<ext>` and builds the dataset directly
 * (class names are the labels, sorted as readImageFolder sorts folder names; folders are numbered so
 * any label is safe on disk). Fails with a DatasetError (invalid_dataset, dataset_download_failed,
 * dataset_changed, invalid_image).
 */
export async function downloadDataset(
  lease: { dataset: Lease['dataset'] },
  blobs: Pick<TrainerBlobs, 'get'>,
  root: string,
  signal?: AbortSignal,
  retry: Omit<StorageRetry, 'signal'> = { budgetMs: 0, log: () => {} },
  opts: { minClasses?: number; purpose?: string } = {},
): Promise<ImageFolderDataset> {
  const minClasses = opts.minClasses ?? 2;
  const classNames = [...new Set(lease.dataset.images.map((i) => i.label))].sort();
  if (classNames.length < minClasses) {
    throw new DatasetError('invalid_dataset', `Dataset ${lease.dataset.id} has ${classNames.length} class(es); ${opts.purpose ?? 'training'} needs at least ${minClasses}.`);
  }
  const byLabel = new Map(classNames.map((c, i) => [c, i]));
  const images = [...lease.dataset.images].sort((a, b) => (a.label === b.label ? (a.id < b.id ? -1 : 1) : a.label < b.label ? -1 : 1));
  const items: LabelledImage[] = [];
  for (const img of images) {
    if (signal?.aborted) throw signal.reason ?? new Error('aborted');
    const label = byLabel.get(img.label)!;
    const dir = join(root, `c${String(label).padStart(3, '0')}`);
    mkdirSync(dir, { recursive: true });
    let bytes: Uint8Array | null;
    try {
      bytes = await retryStorage(`downloading image ${img.id}`, () => blobs.get(img.object_key), { ...retry, signal });
    } catch (err) {
      throw new DatasetError('dataset_download_failed', `Downloading image ${img.id}: ${errorMessage(err)}`, { cause: err });
    }
    if (!bytes) throw new DatasetError('dataset_download_failed', `Image ${img.id} (${img.object_key}) is missing from storage.`);
    if (img.sha256 && createHash('sha256').update(bytes).digest('hex') !== img.sha256) {
      throw new DatasetError(
        'dataset_changed',
        `Image ${img.id} of class "${img.label}" in storage is not the one the edge verified (sha256 differs): it was replaced after upload. Upload the dataset again.`,
      );
    }
    const path = join(dir, `${img.id}${imageExt(img.object_key)}`);
    writeFileSync(path, bytes);
    try {
      await decodeImageRGB(path);
    } catch (err) {
      throw new DatasetError('invalid_image', `Image ${img.id} of class "${img.label}" cannot be decoded: ${errorMessage(err)}`, { cause: err });
    }
    items.push({ path, label });
  }
  return { root, classNames, items };
}
