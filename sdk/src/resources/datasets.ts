// Datasets: create, read, list, delete, presigned uploads and finalize. `uploadFiles` uploads many files the way
// uploadFolder does (batches of presigned PUTs, then complete) from any source of bytes, Workers included.
import { type RequestOptions } from '../core/http.ts';
import type { CursorList, PageParams } from '../core/pagination.ts';
import { APIResource, path } from '../core/resource.ts';
import type { Dataset, DatasetCreateParams, Image, ImageContentType, PresignedUpload } from '../types.ts';
import { type UploadFile, type UploadOptions, type UploadResult, uploadFiles } from '../uploads.ts';

export class Datasets extends APIResource {
  /** POST /v1/datasets: a new open dataset (classes are optional: labels of uploaded images add classes). */
  create(params: DatasetCreateParams, options?: RequestOptions): Promise<Dataset> {
    return this.http.request({ method: 'POST', path: '/v1/datasets', body: params }, options);
  }

  retrieve(id: string, options?: RequestOptions): Promise<Dataset> {
    return this.http.request({ method: 'GET', path: path`/v1/datasets/${id}` }, options);
  }

  /** Newest first. */
  list(params: PageParams = {}, options?: RequestOptions): CursorList<Dataset> {
    return this.cursorList<Dataset>('/v1/datasets', { ...params }, options);
  }

  /** Deletes the dataset and its stored images (409 while an unfinished job or evaluation uses it). */
  delete(id: string, options?: RequestOptions): Promise<void> {
    return this.http.request({ method: 'DELETE', path: path`/v1/datasets/${id}` }, options);
  }

  /** Marks the dataset ready (immutable; trainable). 422 names what is missing, e.g. a class without images. */
  finalize(id: string, options?: RequestOptions): Promise<Dataset> {
    // A second finalize answers 409: not repeated after an unknown outcome.
    return this.http.request({ method: 'POST', path: path`/v1/datasets/${id}/finalize`, retry: 'once' }, options);
  }

  /**
   * POST /v1/datasets/{id}/images: a few images of one class in one multipart request (up to 50 MiB; for more, use
   * uploadFiles or uploadFolder). All of them are stored or, when one does not decode, none.
   */
  async uploadImages(id: string, params: { label: string; files: (Uint8Array | Blob)[] }, options?: RequestOptions): Promise<Image[]> {
    const form = new FormData();
    form.append('label', params.label);
    params.files.forEach((f, i) => form.append('file', f instanceof Blob ? f : new Blob([f as BlobPart]), `${i}`));
    // Serialized once: the Idempotency-Key covers the raw body, so every attempt must send the same bytes (boundary too).
    const encoded = new Response(form);
    const body = new Uint8Array(await encoded.arrayBuffer());
    const res = await this.http.request<{ images: Image[] }>(
      { method: 'POST', path: path`/v1/datasets/${id}/images`, rawBody: body as BodyInit, contentType: encoded.headers.get('content-type') ?? undefined },
      options,
    );
    return res.images;
  }

  /** POST /v1/datasets/{id}/uploads: one presigned PUT per file (at most 100 files per call). */
  async createUploads(id: string, files: { label: string; content_type: ImageContentType; bytes: number }[], options?: RequestOptions): Promise<PresignedUpload[]> {
    const res = await this.http.request<{ uploads: PresignedUpload[] }>({ method: 'POST', path: path`/v1/datasets/${id}/uploads`, body: { files } }, options);
    return res.uploads;
  }

  /** POST /v1/datasets/{id}/uploads/complete: verifies the uploaded objects and adds them as images (safe to repeat). */
  async completeUploads(id: string, imageIds: string[], options?: RequestOptions): Promise<Image[]> {
    const res = await this.http.request<{ images: Image[] }>(
      { method: 'POST', path: path`/v1/datasets/${id}/uploads/complete`, body: { image_ids: imageIds }, retry: 'repeatable' },
      options,
    );
    return res.images;
  }

  /**
   * Uploads `files` into the open dataset `id`: presigned uploads requested in batches of at most 100, the PUTs
   * `concurrency` at a time, each batch completed once its PUTs are done; `onProgress` after every file. Rejects with
   * UploadError (listing the files that failed, after the others were added) when any PUT failed after its retries.
   */
  uploadFiles(id: string, files: UploadFile[], options: UploadOptions = {}): Promise<UploadResult> {
    return uploadFiles(this.http, this, id, files, options);
  }
}
