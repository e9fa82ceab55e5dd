// Reads an image folder for upload: one sub-folder per class (its name is the label), image files inside. Every
// problem is found before anything is uploaded: files outside a class folder, nested folders, empty class folders,
// files that are not JPEG/PNG/WebP (by their first bytes, not their names), empty or too large files. Hidden entries
// (names starting with ".", e.g. .DS_Store) are skipped.
import { open, readFile, readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { CoCoOpError } from '../core/errors.ts';
import type { ImageContentType } from '../types.ts';
import type { UploadFile } from '../uploads.ts';

/** The API's largest image (10 MiB). */
export const MAX_IMAGE_BYTES = 10 * 1024 * 1024;

/** The folder cannot be uploaded as it is; `problems` says why, one line per file or folder. */
export class ImageFolderError extends CoCoOpError {
  readonly problems: string[];

  constructor(root: string, problems: string[]) {
    const shown = problems.slice(0, 10).map((p) => `  - ${p}`);
    if (problems.length > 10) shown.push(`  - … and ${problems.length - 10} more`);
    super(`${root} is not an image folder to upload (nothing was uploaded):\n${shown.join('\n')}`);
    this.problems = problems;
  }
}

/** The image type of a file from its first bytes; undefined when it is none of JPEG, PNG, WebP. */
export function sniffImageType(head: Uint8Array): ImageContentType | undefined {
  const at = (i: number, bytes: number[]) => bytes.every((b, j) => head[i + j] === b);
  if (at(0, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (at(0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (at(0, [0x52, 0x49, 0x46, 0x46]) && at(8, [0x57, 0x45, 0x42, 0x50])) return 'image/webp';
  return undefined;
}

async function readHead(file: string): Promise<Uint8Array> {
  const handle = await open(file, 'r');
  try {
    const buf = new Uint8Array(12);
    const { bytesRead } = await handle.read(buf, 0, 12, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

const visible = (name: string) => !name.startsWith('.');

/** The files of the image folder `root`, sorted by class then name; throws ImageFolderError listing every problem. */
export async function readImageFolder(root: string): Promise<UploadFile[]> {
  const problems: string[] = [];
  let entries;
  try {
    entries = (await readdir(root, { withFileTypes: true })).filter((e) => visible(e.name)).sort((a, b) => a.name.localeCompare(b.name));
  } catch (err) {
    throw new ImageFolderError(root, [`cannot read the folder: ${(err as Error).message}`]);
  }
  const files: UploadFile[] = [];
  for (const entry of entries) {
    const classDir = join(root, entry.name);
    if (!entry.isDirectory()) {
      problems.push(`${entry.name}: a file outside the class folders (put each image in a folder named after its class)`);
      continue;
    }
    const children = (await readdir(classDir, { withFileTypes: true })).filter((e) => visible(e.name)).sort((a, b) => a.name.localeCompare(b.name));
    if (children.length === 0) problems.push(`${entry.name}/: an empty class folder`);
    for (const child of children) {
      const file = join(classDir, child.name);
      const name = relative(root, file);
      if (!child.isFile()) {
        problems.push(`${name}: not a file (class folders hold image files only, no sub-folders)`);
        continue;
      }
      const { size } = await stat(file);
      const contentType = size > 0 ? sniffImageType(await readHead(file)) : undefined;
      if (size === 0) problems.push(`${name}: an empty file`);
      else if (!contentType) problems.push(`${name}: not a JPEG, PNG or WebP image`);
      else if (size > MAX_IMAGE_BYTES) problems.push(`${name}: ${size} bytes, over the ${MAX_IMAGE_BYTES}-byte limit per image`);
      else files.push({ label: entry.name, name, contentType, bytes: size, data: async () => new Uint8Array(await readFile(file)) });
    }
  }
  if (entries.length === 0) problems.push('the folder is empty (it needs one sub-folder of images per class)');
  if (problems.length > 0) throw new ImageFolderError(root, problems);
  return files;
}
