// Webhook endpoints: the list and a form that adds one (its signing secret is shown once).
import { useState } from 'preact/hooks';
import { dateTime } from '../format.ts';
import { type Problem, handleError } from '../errors.ts';
import { href } from '../router.ts';
import type { WebhookEventType } from '../sdk.ts';
import { api } from '../session.ts';
import { ErrorNote, Section, Status, useLoad } from '../ui/common.tsx';
import { ListTable } from '../ui/list-table.tsx';

export const EVENT_TYPES: WebhookEventType[] = [
  'training_job.succeeded',
  'training_job.failed',
  'training_job.cancelled',
  'training_job.started',
  'evaluation.succeeded',
  'evaluation.failed',
];
/** The API's default subscription. */
const DEFAULT_EVENTS = new Set<WebhookEventType>(['training_job.succeeded', 'training_job.failed', 'training_job.cancelled']);

function NewEndpoint({ onCreated }: { onCreated: () => void }) {
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState(new Set(DEFAULT_EVENTS));
  const [secret, setSecret] = useState<{ id: string; secret: string | null } | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    setProblem(null);
    if (events.size === 0) return setProblem({ message: 'Choose at least one event.', param: 'events' });
    try {
      const created = await api().webhookEndpoints.create({ url: url.trim(), events: [...events] });
      setSecret({ id: created.id, secret: created.secret });
      setUrl('');
      onCreated();
    } catch (err) {
      setProblem(handleError(err));
    }
  };

  return (
    <form class="card" onSubmit={submit}>
      <label for="endpoint-url">Endpoint URL</label>
      <input id="endpoint-url" type="url" value={url} onInput={(e) => setUrl(e.currentTarget.value)} placeholder="https://example.com/hooks" required />
      <fieldset>
        <legend>Events</legend>
        {EVENT_TYPES.map((t) => (
          <label class="choice" key={t}>
            <input
              type="checkbox"
              checked={events.has(t)}
              onChange={(e) => {
                const next = new Set(events);
                if (e.currentTarget.checked) next.add(t);
                else next.delete(t);
                setEvents(next);
              }}
            />{' '}
            <code>{t}</code>
          </label>
        ))}
      </fieldset>
      <button type="submit" class="primary">
        Add endpoint
      </button>
      <ErrorNote problem={problem} />
      {secret ? (
        <div class="notice" role="status">
          Endpoint <a href={href('webhooks', secret.id)}>{secret.id}</a> added.{' '}
          {secret.secret ? (
            <>
              Its signing secret, shown this once: <code class="wrap">{secret.secret}</code>
            </>
          ) : (
            'Its secret was shown to an earlier attempt of this request: rotate it to get one.'
          )}
        </div>
      ) : null}
    </form>
  );
}

export function WebhooksPage() {
  const list = useLoad((signal) => api().webhookEndpoints.list({ limit: 100 }, { signal }).page(), []);
  return (
    <>
      <h1>Webhooks</h1>
      <Section title="New endpoint">
        <NewEndpoint onCreated={list.reload} />
      </Section>
      <ListTable
        list={list}
        what="endpoints"
        id="endpoints-table"
        columns={['Endpoint', 'URL', 'State', 'Events', 'Created']}
        row={(ep) => (
          <tr key={ep.id}>
            <td>
              <a href={href('webhooks', ep.id)}>
                <code>{ep.id}</code>
              </a>
            </td>
            <td class="wrap">{ep.url}</td>
            <td>
              <Status status={ep.enabled ? 'enabled' : 'disabled'} />
            </td>
            <td>{ep.events.join(', ')}</td>
            <td>{dateTime(ep.created_at)}</td>
          </tr>
        )}
      />
    </>
  );
}
