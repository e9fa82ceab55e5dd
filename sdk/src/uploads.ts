// Many files into one dataset through presigned uploads: request the upload URLs in batches (the API takes at most
// 100 files per call), PUT the bytes straight to storage a few at a time, then complete each batch (the API verifies
// every object and adds it as an image). Needs only fetch: runs on Workers too (the folder reader is node/).
import { CoCoOpError } from './core/errors.ts';
import type { HttpClient, RequestOptions } from './core/http.ts';
import type { Image, ImageContentType, PresignedUpload } from './types.ts';

/** Most files one POST /v1/datasets/{id}/uploads accepts. */
export const MAX_FILES_PER_UPLOAD_BATCH = 100;
export const DEFAULT_UPLOAD_CONCURRENCY = 8;

/** One file to upload. */
export interface UploadFile {
  /** The class the image belongs to. */
  label: string;
  /** How progress and errors name the file (e.g. its path). */
  name: string;
  contentType: ImageContentType;
  /** The bytes, or a function that reads them when their turn comes (keeps large datasets out of memory). */
  data: Uint8Array | Blob | (() => Promise<Uint8Array | Blob>);
  /** Size in bytes; required when `data` is a function. */
  bytes?: number;
}

/** Reported after every file's PUT (successful or not). */
export interface UploadProgress {
  /** Files uploaded so far. */
  uploaded: number;
  /** Files that failed so far. */
  failed: number;
  /** Files in the whole upload. */
  total: number;
  /** Bytes uploaded so far. */
  bytes: number;
  /** The file this report is about. */
  file: string;
  /** Set when this file failed (after its retries); the others go on. */
  error?: Error;
}

export interface UploadOptions extends Pick<RequestOptions, 'signal' | 'timeout' | 'maxRetries'> {
  /** PUTs in flight at once (default 8). */
  concurrency?: number;
  /** Files per presigned-upload request, 1..100 (default 100). */
  batchSize?: number;
  onProgress?: (progress: UploadProgress) => void;
}

export interface UploadResult {
  /** The dataset's new images, in the order of the files. */
  images: Image[];
}

/** Some files could not be uploaded; the others were added to the dataset (`images`). */
export class UploadError extends CoCoOpError {
  readonly failed: { file: string; error: Error }[];
  readonly images: Image[];

  constructor(failed: { file: string; error: Error }[], images: Image[], total: number) {
    const names = failed.slice(0, 5).map((f) => `${f.file} (${f.error.message})`).join('; ');
    super(`${failed.length} of ${total} files failed to upload: ${names}${failed.length > 5 ? '; …' : ''}`);
    this.failed = failed;
    this.images = images;
  }
}

/** What the upload needs of the datasets resource. */
export interface UploadTarget {
  createUploads(id: string, files: { label: string; content_type: ImageContentType; bytes: number }[], options?: RequestOptions): Promise<PresignedUpload[]>;
  completeUploads(id: string, imageIds: string[], options?: RequestOptions): Promise<Image[]>;
}

// Headers a fetch computes itself (and refuses to be told).
const FETCH_OWNED_HEADERS = new Set(['content-length', 'host']);

function sizeOf(f: UploadFile): number {
  if (typeof f.data === 'function') {
    if (f.bytes === undefined) throw new CoCoOpError(`${f.name}: give \`bytes\` when \`data\` is a function`);
    return f.bytes;
  }
  return f.data instanceof Blob ? f.data.size : f.data.byteLength;
}

/** Runs `work` over `items`, at most `limit` at a time. */
async function pool<T>(items: T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await work(items[i]!, i);
    }
  });
  await Promise.all(runners);
}

export async function uploadFiles(http: HttpClient, target: UploadTarget, datasetId: string, files: UploadFile[], options: UploadOptions = {}): Promise<UploadResult> {
  const concurrency = options.concurrency ?? DEFAULT_UPLOAD_CONCURRENCY;
  const batchSize = options.batchSize ?? MAX_FILES_PER_UPLOAD_BATCH;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new CoCoOpError(`concurrency must be a positive integer, got ${concurrency}`);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_FILES_PER_UPLOAD_BATCH) {
    throw new CoCoOpError(`batchSize must be an integer in 1..${MAX_FILES_PER_UPLOAD_BATCH}, got ${batchSize}`);
  }
  if (files.length === 0) throw new CoCoOpError('Nothing to upload: no files given.');
  const sizes = files.map(sizeOf);
  const requestOptions: RequestOptions = { signal: options.signal, timeout: options.timeout, maxRetries: options.maxRetries };
  const images: Image[] = [];
  const failed: { file: string; error: Error }[] = [];
  let uploaded = 0;
  let bytes = 0;

  for (let start = 0; start < files.length; start += batchSize) {
    const batch = files.slice(start, start + batchSize);
    const uploads = await target.createUploads(
      datasetId,
      batch.map((f, i) => ({ label: f.label, content_type: f.contentType, bytes: sizes[start + i]! })),
      requestOptions,
    );
    const done: boolean[] = batch.map(() => false);
    await pool(batch, concurrency, async (file, i) => {
      const upload = uploads[i]!;
      try {
        const data = typeof file.data === 'function' ? await file.data() : file.data;
        const headers = Object.fromEntries(Object.entries(upload.headers).filter(([k]) => !FETCH_OWNED_HEADERS.has(k.toLowerCase())));
        await http.request({ method: upload.method, path: upload.url, external: true, rawBody: data as BodyInit }, { ...requestOptions, headers });
        done[i] = true;
        uploaded += 1;
        bytes += sizes[start + i]!;
        options.onProgress?.({ uploaded, failed: failed.length, total: files.length, bytes, file: file.name });
      } catch (err) {
        if (options.signal?.aborted) throw err;
        const error = err instanceof Error ? err : new Error(String(err));
        failed.push({ file: file.name, error });
        options.onProgress?.({ uploaded, failed: failed.length, total: files.length, bytes, file: file.name, error });
      }
    });
    const ids = uploads.filter((_, i) => done[i]).map((u) => u.image_id);
    if (ids.length > 0) images.push(...(await target.completeUploads(datasetId, ids, requestOptions)));
  }
  if (failed.length > 0) throw new UploadError(failed, images, files.length);
  return { images };
}
