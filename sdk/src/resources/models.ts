// Models (published adapters): read, list, delete, and download the adapter file.
import type { RequestOptions } from '../core/http.ts';
import type { CursorList, PageParams } from '../core/pagination.ts';
import { APIResource, path } from '../core/resource.ts';
import type { Model } from '../types.ts';

export class Models extends APIResource {
  retrieve(id: string, options?: RequestOptions): Promise<Model> {
    return this.http.request({ method: 'GET', path: path`/v1/models/${id}` }, options);
  }

  /** Newest first. */
  list(params: PageParams = {}, options?: RequestOptions): CursorList<Model> {
    return this.cursorList<Model>('/v1/models', { ...params }, options);
  }

  delete(id: string, options?: RequestOptions): Promise<void> {
    return this.http.request({ method: 'DELETE', path: path`/v1/models/${id}` }, options);
  }

  /** The adapter's safetensors file (`artifact.bytes` long, sha256 `artifact.sha256`). */
  download(id: string, options?: RequestOptions): Promise<Uint8Array> {
    return this.http.request({ method: 'GET', path: path`/v1/models/${id}/artifact`, responseType: 'bytes' }, options);
  }
}
