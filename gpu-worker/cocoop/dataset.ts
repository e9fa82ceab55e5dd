// An image-folder dataset: one sub-folder per class, folder name = class name (CLI `--data`).
import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';

export class DatasetError extends Error {}

export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp']);

export interface LabelledImage {
  path: string;
  label: number; // index into classNames
}

export interface ImageFolderDataset {
  root: string;
  classNames: string[]; // sorted by name (the official base/new split sorts by label)
  items: LabelledImage[]; // grouped by class, files sorted by name within a class
}

function listDir(path: string): string[] {
  try {
    return readdirSync(path).sort();
  } catch (e) {
    throw new DatasetError(`${path}: cannot read directory (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/**
 * Reads the folder layout (not the images). Hidden entries are skipped; files that are not
 * .jpg/.jpeg/.png/.webp are refused with the path, so nothing is silently left out.
 */
export function readImageFolder(root: string, opts: { minClasses?: number } = {}): ImageFolderDataset {
  const minClasses = opts.minClasses ?? 2;
  const classNames: string[] = [];
  const items: LabelledImage[] = [];
  for (const entry of listDir(root)) {
    if (entry.startsWith('.')) continue;
    const dir = join(root, entry);
    if (!statSync(dir).isDirectory()) {
      throw new DatasetError(`${dir}: expected one sub-folder per class, found a file at the top level`);
    }
    const files = listDir(dir).filter((f) => !f.startsWith('.'));
    const images = files.filter((f) => IMAGE_EXTENSIONS.has(extname(f).toLowerCase()));
    const other = files.find((f) => !IMAGE_EXTENSIONS.has(extname(f).toLowerCase()));
    if (other) throw new DatasetError(`${join(dir, other)}: not an image file (.jpg, .jpeg, .png, .webp)`);
    if (images.length === 0) throw new DatasetError(`${dir}: class folder has no images`);
    const label = classNames.length;
    classNames.push(entry);
    for (const f of images) items.push({ path: join(dir, f), label });
  }
  if (classNames.length === 0) throw new DatasetError(`${root}: no class folders (expected one sub-folder per class)`);
  if (classNames.length < minClasses) {
    throw new DatasetError(`${root}: ${classNames.length} class folder(s); training needs at least ${minClasses} classes`);
  }
  return { root, classNames, items };
}
