// What every resource shares: the client's request engine and the building of cursor lists.
import type { HttpClient, QueryValue, RequestOptions } from './http.ts';
import { CursorList, type PageBody, type PageParams } from './pagination.ts';

/** `/v1/datasets/${id}` with the id escaped. */
export function path(strings: TemplateStringsArray, ...ids: string[]): string {
  return strings.reduce((out, s, i) => out + s + (i < ids.length ? encodeURIComponent(ids[i]!) : ''), '');
}

export abstract class APIResource {
  protected readonly http: HttpClient;

  constructor(http: HttpClient) {
    this.http = http;
  }

  /** A cursor list of GET `listPath`; `filters` are sent with every page. */
  protected cursorList<T extends { id: string }>(listPath: string, params: PageParams & Record<string, QueryValue> = {}, options?: RequestOptions): CursorList<T> {
    const { limit, after, ...filters } = params;
    return new CursorList<T>(
      (page) => this.http.request<PageBody<T>>({ method: 'GET', path: listPath, query: { ...filters, limit: page.limit, after: page.after } }, options),
      { limit, after },
    );
  }
}
