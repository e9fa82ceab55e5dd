// What a dropped or chosen folder holds, as the upload sees it: one sub-folder per class (its name is the label),
// image files in it. Files come from a drop (DataTransferItem.webkitGetAsEntry, walked here) or from
// <input type=file webkitdirectory> (File.webkitRelativePath); both end up as (path, file) pairs for planUpload,
// which decides the labels and lists what it leaves out and why — before anything is uploaded.
import type { ImageContentType } from './sdk.ts';

/** The API's largest image (docs/API.md: 10 MiB). */
export const MAX_IMAGE_BYTES = 10 * 1024 * 1024;
/** The API's longest label. */
export const MAX_LABEL_LENGTH = 100;

const TYPES: Record<string, ImageContentType> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', webp: 'image/webp' };

export interface PathFile {
  /** Slash-separated, relative to what was dropped or chosen: "shapes/red circle/000.png" or "red circle/000.png". */
  path: string;
  file: File;
}

export interface PlannedFile {
  label: string;
  /** The path, for progress and errors. */
  name: string;
  contentType: ImageContentType;
  file: File;
}

export interface UploadPlan {
  files: PlannedFile[];
  /** Labels with their file counts, sorted by label. */
  classes: { label: string; count: number }[];
  /** Files left out, each with the reason ("notes.txt: not a JPEG, PNG or WebP image"). */
  skipped: string[];
}

/** The content type of an image file by its extension (by its MIME type when it has none); null for anything else. */
export function imageType(name: string, mime = ''): ImageContentType | null {
  const ext = name.toLowerCase().match(/\.([a-z0-9]+)$/)?.[1];
  if (ext !== undefined) return TYPES[ext] ?? null;
  return Object.values(TYPES).includes(mime as ImageContentType) ? (mime as ImageContentType) : null;
}

function checkFile(name: string, file: File): { contentType: ImageContentType } | { skip: string } {
  const contentType = imageType(name, file.type);
  if (!contentType) return { skip: `${name}: not a JPEG, PNG or WebP image` };
  if (file.size === 0) return { skip: `${name}: empty file` };
  if (file.size > MAX_IMAGE_BYTES) return { skip: `${name}: over 10 MiB` };
  return { contentType };
}

function sortPlan(files: PlannedFile[], skipped: string[]): UploadPlan {
  files.sort((a, b) => (a.label === b.label ? a.name.localeCompare(b.name) : a.label.localeCompare(b.label)));
  const counts = new Map<string, number>();
  for (const f of files) counts.set(f.label, (counts.get(f.label) ?? 0) + 1);
  return { files, classes: [...counts].map(([label, count]) => ({ label, count })), skipped };
}

/**
 * The upload of a folder: each file's label is its class folder's name. When every file sits under one top folder
 * (a dropped or chosen "shapes/" holding the class folders), that folder is not a class. Hidden entries (".DS_Store",
 * ".git/…") are ignored; files outside a class folder, in nested folders, or that are not images are left out with
 * the reason.
 */
export function planUpload(entries: PathFile[]): UploadPlan {
  const visible = entries.filter((e) => !e.path.split('/').some((part) => part.startsWith('.')));
  const parts = visible.map((e) => e.path.split('/').filter((p) => p !== ''));
  const first = parts[0]?.[0];
  const oneRoot = parts.length > 0 && parts.every((p) => p.length >= 2 && p[0] === first) && parts.some((p) => p.length >= 3);
  const files: PlannedFile[] = [];
  const skipped: string[] = [];
  visible.forEach((entry, i) => {
    const rel = oneRoot ? parts[i]!.slice(1) : parts[i]!;
    if (rel.length < 2) return void skipped.push(`${entry.path}: not inside a class folder`);
    if (rel.length > 2) return void skipped.push(`${entry.path}: in a nested folder (one level of class folders only)`);
    const label = rel[0]!.trim();
    if (label.length > MAX_LABEL_LENGTH) return void skipped.push(`${entry.path}: the class folder's name is over ${MAX_LABEL_LENGTH} characters`);
    const checked = checkFile(entry.path, entry.file);
    if ('skip' in checked) return void skipped.push(checked.skip);
    files.push({ label, name: entry.path, contentType: checked.contentType, file: entry.file });
  });
  return sortPlan(files, skipped);
}

/** The upload of loose files, all with one label. */
export function planLabelled(fileList: File[], label: string): UploadPlan {
  const files: PlannedFile[] = [];
  const skipped: string[] = [];
  for (const file of fileList) {
    const checked = checkFile(file.name, file);
    if ('skip' in checked) skipped.push(checked.skip);
    else files.push({ label: label.trim(), name: file.name, contentType: checked.contentType, file });
  }
  return sortPlan(files, skipped);
}

/** The (path, file) pairs of <input webkitdirectory>'s files. */
export function pathsOfInput(list: FileList): PathFile[] {
  return [...list].map((file) => ({ path: file.webkitRelativePath || file.name, file }));
}

function readAll(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  // readEntries answers in batches (100 in Chromium) until an empty one.
  return new Promise((ok, fail) => {
    const all: FileSystemEntry[] = [];
    const next = () =>
      reader.readEntries((batch) => {
        if (batch.length === 0) return ok(all);
        all.push(...batch);
        next();
      }, fail);
    next();
  });
}

async function walkEntry(entry: FileSystemEntry, out: PathFile[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((ok, fail) => (entry as FileSystemFileEntry).file(ok, fail));
    out.push({ path: entry.fullPath.replace(/^\//, ''), file });
  } else if (entry.isDirectory) {
    for (const child of await readAll((entry as FileSystemDirectoryEntry).createReader())) await walkEntry(child, out);
  }
}

/** What a drop holds: folders walked to their files, loose files as they are; `folders` says whether any was a folder. */
export async function droppedFiles(transfer: DataTransfer): Promise<{ entries: PathFile[]; folders: boolean }> {
  // The entries must be taken synchronously, before the drop event's data store closes.
  const roots = [...transfer.items].filter((item) => item.kind === 'file').map((item) => item.webkitGetAsEntry?.() ?? null);
  if (roots.some((r) => r === null)) return { entries: [...transfer.files].map((file) => ({ path: file.name, file })), folders: false };
  const entries: PathFile[] = [];
  for (const root of roots) await walkEntry(root!, entries);
  return { entries, folders: roots.some((r) => r!.isDirectory) };
}
