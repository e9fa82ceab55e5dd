// A cursor list shown page by page: the first page on mount (and on reload(), which drops the pages added since),
// more() appends the next page; usable by ListTable like a list loaded whole.
import { useState } from 'preact/hooks';
import { type Problem, handleError } from '../errors.ts';
import type { CursorPage } from '../sdk.ts';
import { type Loaded, useLoad } from './common.tsx';

export interface PagedList<T> extends Loaded<{ data: T[] }> {
  /** The API says more items follow the ones shown. */
  hasMore: boolean;
  loadingMore: boolean;
  more(): Promise<void>;
}

export function usePagedList<T extends { id: string }>(first: (signal: AbortSignal) => Promise<CursorPage<T>>, deps: unknown[]): PagedList<T> {
  const head = useLoad(first, deps);
  // The pages after the first, remembered with the first page they follow: a reloaded first page starts over.
  const [later, setLater] = useState<{ after: CursorPage<T> | null; pages: CursorPage<T>[] }>({ after: null, pages: [] });
  const [moreState, setMoreState] = useState<{ busy: boolean; problem: Problem | null }>({ busy: false, problem: null });
  const firstPage = head.data;
  const pages = firstPage ? [firstPage, ...(later.after === firstPage ? later.pages : [])] : [];
  const last = pages[pages.length - 1];

  const more = async () => {
    if (!firstPage || !last?.hasNextPage()) return;
    setMoreState({ busy: true, problem: null });
    try {
      const next = await last.getNextPage();
      setLater((l) => ({ after: firstPage, pages: [...(l.after === firstPage ? l.pages : []), next] }));
      setMoreState({ busy: false, problem: null });
    } catch (err) {
      setMoreState({ busy: false, problem: handleError(err) });
    }
  };

  return {
    data: firstPage ? { data: pages.flatMap((p) => p.data) } : null,
    problem: head.problem ?? moreState.problem,
    loading: head.loading,
    reload: head.reload,
    hasMore: last?.hasNextPage() ?? false,
    loadingMore: moreState.busy,
    more,
  };
}

/** "Show more" under a paged list, while the API says there is more. */
export function MoreButton<T>({ list, label, id }: { list: PagedList<T>; label: string; id?: string }) {
  if (!list.hasMore) return null;
  return (
    <p>
      <button type="button" id={id} disabled={list.loadingMore} onClick={() => void list.more()}>
        {list.loadingMore ? 'Loading…' : label}
      </button>
    </p>
  );
}
