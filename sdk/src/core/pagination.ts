// Cursor pagination of the API's lists: `?limit=&after=<id of the last item>` answered with `{data, has_more}`.
// A CursorList is what every `list()` returns: iterate it with `for await` to walk every item across pages (one
// request per page, made as the loop needs it), or take `page()` for the first page only.

export interface PageParams {
  /** Items per page, 1..100 (API default 20). */
  limit?: number;
  /** Start after the item with this id (the cursor). */
  after?: string;
}

export interface PageBody<T> {
  data: T[];
  has_more: boolean;
}

export type FetchPage<T> = (params: PageParams) => Promise<PageBody<T>>;

/** One page of a list. */
export class CursorPage<T extends { id: string }> {
  readonly data: T[];
  /** The API says more items follow this page. */
  readonly hasMore: boolean;
  readonly #fetchPage: FetchPage<T>;
  readonly #params: PageParams;

  constructor(fetchPage: FetchPage<T>, params: PageParams, body: PageBody<T>) {
    this.#fetchPage = fetchPage;
    this.#params = params;
    this.data = body.data;
    this.hasMore = body.has_more;
  }

  hasNextPage(): boolean {
    return this.hasMore && this.data.length > 0;
  }

  /** The cursor of the next page: the id of this page's last item (undefined when there is none). */
  nextCursor(): string | undefined {
    return this.hasNextPage() ? this.data[this.data.length - 1]!.id : undefined;
  }

  /** The next page; throws when there is none (check hasNextPage()). */
  async getNextPage(): Promise<CursorPage<T>> {
    const after = this.nextCursor();
    if (after === undefined) throw new Error('No next page: check hasNextPage() first.');
    const params = { ...this.#params, after };
    return new CursorPage(this.#fetchPage, params, await this.#fetchPage(params));
  }
}

/** A list of the API, fetched page by page as it is iterated. */
export class CursorList<T extends { id: string }> implements AsyncIterable<T> {
  readonly #fetchPage: FetchPage<T>;
  readonly #params: PageParams;

  constructor(fetchPage: FetchPage<T>, params: PageParams = {}) {
    this.#fetchPage = fetchPage;
    this.#params = { ...params };
  }

  /** The first page (starting after `params.after` when given). */
  async page(): Promise<CursorPage<T>> {
    return new CursorPage(this.#fetchPage, this.#params, await this.#fetchPage(this.#params));
  }

  /** Every page, in order. */
  async *pages(): AsyncGenerator<CursorPage<T>, void, undefined> {
    let page = await this.page();
    yield page;
    while (page.hasNextPage()) {
      page = await page.getNextPage();
      yield page;
    }
  }

  /** Every item of every page, in order. */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for await (const page of this.pages()) yield* page.data;
  }

  /** Every item in an array (fetches all pages: mind long lists). */
  async toArray(): Promise<T[]> {
    const all: T[] = [];
    for await (const item of this) all.push(item);
    return all;
  }
}
