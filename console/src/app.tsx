// The console's frame: a skip link, the header (sections, the tenant, sign-out) and the page of the current route.
import { useEffect, useRef } from 'preact/hooks';
import { AccountPage } from './pages/account.tsx';
import { DatasetPage } from './pages/dataset.tsx';
import { DatasetsPage } from './pages/datasets.tsx';
import { EvaluationPage, EvaluationsPage } from './pages/evaluations.tsx';
import { JobPage } from './pages/job.tsx';
import { JobsPage } from './pages/jobs.tsx';
import { ModelPage } from './pages/model.tsx';
import { ModelsPage } from './pages/models.tsx';
import { SignIn } from './pages/sign-in.tsx';
import { WebhookPage } from './pages/webhook.tsx';
import { WebhooksPage } from './pages/webhooks.tsx';
import { type Route, href, route } from './router.ts';
import { signOut, signedIn, tenant } from './session.ts';

const SECTIONS = [
  { section: 'datasets', label: 'Datasets', pages: ['datasets', 'dataset'] },
  { section: 'jobs', label: 'Training', pages: ['jobs', 'job'] },
  { section: 'models', label: 'Models', pages: ['models', 'model'] },
  { section: 'evaluations', label: 'Evaluations', pages: ['evaluations', 'evaluation'] },
  { section: 'webhooks', label: 'Webhooks', pages: ['webhooks', 'webhook'] },
  { section: 'account', label: 'Account', pages: ['account'] },
] as const;

function Page({ r }: { r: Route }) {
  switch (r.page) {
    case 'datasets':
      return <DatasetsPage />;
    case 'dataset':
      return <DatasetPage id={r.id} />;
    case 'jobs':
      return <JobsPage />;
    case 'job':
      return <JobPage id={r.id} />;
    case 'models':
      return <ModelsPage />;
    case 'model':
      return <ModelPage id={r.id} />;
    case 'evaluations':
      return <EvaluationsPage />;
    case 'evaluation':
      return <EvaluationPage id={r.id} />;
    case 'webhooks':
      return <WebhooksPage />;
    case 'webhook':
      return <WebhookPage id={r.id} />;
    case 'account':
      return <AccountPage />;
    case 'not-found':
      return (
        <>
          <h1>Not found</h1>
          <p>
            Nothing here. Go to the <a href={href('datasets')}>datasets</a>.
          </p>
        </>
      );
  }
}

export function App() {
  const main = useRef<HTMLElement>(null);
  const firstPage = useRef(true);
  const r = route.value;
  // Another page: focus moves to its content (screen readers announce it; keyboard users go on from there). Not on
  // the first page of a load, where Tab starts at the top (the skip link).
  useEffect(() => {
    if (firstPage.current) firstPage.current = false;
    else main.current?.focus({ preventScroll: true });
    document.title = `${SECTIONS.find((s) => (s.pages as readonly string[]).includes(r.page))?.label ?? 'Not found'} · CoCoOp console`;
  }, [r]);

  if (!signedIn.value) return <SignIn />;
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), main.current?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">CoCoOp console</span>
        <nav aria-label="Sections">
          <ul>
            {SECTIONS.map((s) => (
              <li key={s.section}>
                <a href={href(s.section)} aria-current={(s.pages as readonly string[]).includes(r.page) ? 'page' : undefined}>
                  {s.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="who">
          {tenant.value ? <span class="tenant-name">{tenant.value.name}</span> : null}
          <button type="button" id="sign-out" onClick={() => signOut()}>
            Sign out
          </button>
        </span>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        <Page r={r} />
      </main>
    </>
  );
}
