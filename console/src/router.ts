// Hash routes (#/datasets/ds_…): the page's URL never carries the API key, only where the user is.
import { signal } from '@preact/signals';

export type Route =
  | { page: 'datasets' }
  | { page: 'dataset'; id: string }
  | { page: 'jobs' }
  | { page: 'job'; id: string }
  | { page: 'models' }
  | { page: 'model'; id: string }
  | { page: 'evaluations' }
  | { page: 'evaluation'; id: string }
  | { page: 'webhooks' }
  | { page: 'webhook'; id: string }
  | { page: 'account' }
  | { page: 'not-found'; path: string };

const DETAIL: Record<string, Route['page']> = {
  datasets: 'dataset',
  jobs: 'job',
  models: 'model',
  evaluations: 'evaluation',
  webhooks: 'webhook',
};

/** Sections that are one page, without detail pages under them. */
const SINGLE = new Set<Route['page']>(['account']);

type Section = keyof typeof DETAIL | 'account';

/** The route of a location hash ('' and '#/' are the datasets list). */
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#\/?/, '');
  const [section = '', id, ...rest] = path.split('/').map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  if (section === '' && id === undefined) return { page: 'datasets' };
  if (SINGLE.has(section as Route['page'])) {
    // '#/account' and '#/account/'; nothing under it is a page.
    return id === undefined || (id === '' && rest.length === 0) ? ({ page: section } as Route) : { page: 'not-found', path };
  }
  if (!(section in DETAIL) || rest.length > 0) return { page: 'not-found', path };
  if (id === undefined || id === '') return { page: section as 'datasets' | 'jobs' | 'models' | 'evaluations' | 'webhooks' };
  return { page: DETAIL[section], id } as Route;
}

/** The hash of a page: href(`jobs`, job.id) → '#/jobs/job_…'. */
export function href(section: Section, id?: string): string {
  return id === undefined ? `#/${section}` : `#/${section}/${encodeURIComponent(id)}`;
}

export const route = signal<Route>(parseRoute(location.hash));

addEventListener('hashchange', () => {
  route.value = parseRoute(location.hash);
});

/** Back to the start page without a history entry (after sign-out: nothing of the last page stays in the URL). */
export function resetRoute(): void {
  history.replaceState(null, '', location.pathname);
  route.value = parseRoute('');
}

export function navigate(hash: string): void {
  if (location.hash === hash) route.value = parseRoute(hash);
  else location.hash = hash;
}
