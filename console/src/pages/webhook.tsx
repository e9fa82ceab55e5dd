// One webhook endpoint: enable / disable, send a test event, rotate the secret, delete; its deliveries (newest
// first, filtered by status) with every attempt, and resend.
import { useEffect, useState } from 'preact/hooks';
import { dateTime } from '../format.ts';
import { type Problem, handleError } from '../errors.ts';
import { href, navigate } from '../router.ts';
import type { WebhookDelivery, WebhookEndpoint } from '../sdk.ts';
import { api } from '../session.ts';
import { useAction } from '../ui/action.ts';
import { ConfirmButton, DetailHeader, ErrorNote, Loading, Section, Status, useLoad } from '../ui/common.tsx';

type Filter = '' | 'pending' | 'succeeded' | 'failed';

function Deliveries({ endpoint, version, onChange }: { endpoint: WebhookEndpoint; version: number; onChange: () => void }) {
  const [filter, setFilter] = useState<Filter>('');
  const list = useLoad(
    (signal) => api().webhookEndpoints.deliveries(endpoint.id, { limit: 50, ...(filter ? { status: filter } : {}) }, { signal }).page(),
    [endpoint.id, filter, version],
  );
  const [problem, setProblem] = useState<Problem | null>(null);
  const pending = list.data?.data.some((d) => d.status === 'pending') ?? false;
  // Pending deliveries change on their own: look again every 2 s while there are any.
  useEffect(() => {
    if (!pending) return;
    const t = setTimeout(list.reload, 2000);
    return () => clearTimeout(t);
  }, [pending, list.data]);

  const resend = async (d: WebhookDelivery) => {
    setProblem(null);
    try {
      await api().webhookEndpoints.resendDelivery(d.id);
      onChange();
    } catch (err) {
      setProblem(handleError(err));
    }
  };

  return (
    <>
      <label for="delivery-filter">Show</label>{' '}
      <select id="delivery-filter" value={filter} onChange={(e) => setFilter(e.currentTarget.value as Filter)}>
        <option value="">all deliveries</option>
        <option value="pending">pending</option>
        <option value="succeeded">succeeded</option>
        <option value="failed">failed</option>
      </select>{' '}
      <button type="button" onClick={list.reload}>
        Refresh
      </button>
      <ErrorNote problem={list.problem ?? problem} />
      {list.data && list.data.data.length === 0 ? <p class="muted">No deliveries{filter ? ` with status ${filter}` : ''}.</p> : null}
      {list.data && list.data.data.length > 0 ? (
        <ol class="deliveries" id="deliveries">
          {list.data.data.map((d) => (
            <li key={d.id} class="delivery">
              <div>
                <code>{d.event_type}</code> <Status status={d.status} /> {d.attempt_count} {d.attempt_count === 1 ? 'attempt' : 'attempts'} · created {dateTime(d.created_at)}
                {d.next_attempt_at ? ` · next attempt ${dateTime(d.next_attempt_at)}` : ''} · <code>{d.id}</code>{' '}
                <button type="button" class="small" onClick={() => void resend(d)} disabled={!endpoint.enabled}>
                  Resend
                </button>
              </div>
              {d.attempts.length > 0 ? (
                <details>
                  <summary>Attempts</summary>
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">When</th>
                        <th scope="col">HTTP status</th>
                        <th scope="col">Error</th>
                        <th scope="col">Took</th>
                      </tr>
                    </thead>
                    <tbody>
                      {d.attempts.map((a, i) => (
                        <tr key={i}>
                          <td>{dateTime(a.attempted_at)}</td>
                          <td class="num">{a.status_code ?? '–'}</td>
                          <td>{a.error ?? ''}</td>
                          <td class="num">{a.duration_ms} ms</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </details>
              ) : null}
            </li>
          ))}
        </ol>
      ) : null}
    </>
  );
}

export function WebhookPage({ id }: { id: string }) {
  const ep = useLoad((signal) => api().webhookEndpoints.retrieve(id, { signal }), [id]);
  const [version, setVersion] = useState(0);
  const action = useAction();
  const [secret, setSecret] = useState<string | null>(null);
  if (!ep.data) return ep.problem ? <ErrorNote problem={ep.problem} /> : <Loading what="the endpoint" />;
  const e = ep.data;

  const act = (what: () => Promise<unknown>) => () =>
    action.run(async () => {
      await what();
      ep.reload();
      setVersion((v) => v + 1);
    });

  return (
    <>
      <DetailHeader back={href('webhooks')} backTitle="Webhooks">
        Endpoint <code>{e.id}</code>
      </DetailHeader>
      <p class="meta wrap">
        <Status status={e.enabled ? 'enabled' : 'disabled'} /> {e.url}
        {e.disabled_reason ? ` · disabled: ${e.disabled_reason}` : ''}
      </p>
      <p>Events: {e.events.join(', ')}</p>
      <p class="actions">
        <button type="button" id="send-test" onClick={act(() => api().webhookEndpoints.test(e.id))} disabled={!e.enabled}>
          Send a test event
        </button>{' '}
        {e.enabled ? (
          <button type="button" id="disable" onClick={act(() => api().webhookEndpoints.update(e.id, { enabled: false }))}>
            Disable
          </button>
        ) : (
          <button type="button" id="re-enable" onClick={act(() => api().webhookEndpoints.update(e.id, { enabled: true }))}>
            Re-enable
          </button>
        )}{' '}
        <button type="button" onClick={act(async () => setSecret((await api().webhookEndpoints.rotateSecret(e.id)).secret))}>
          Rotate secret
        </button>{' '}
        <ConfirmButton
          label="Delete endpoint…"
          question="Delete this endpoint and its delivery log?"
          confirmLabel="Yes, delete it"
          onConfirm={() =>
            action.run(async () => {
              await api().webhookEndpoints.delete(e.id);
              navigate(href('webhooks'));
            })
          }
        />
      </p>
      {secret ? (
        <div class="notice" role="status">
          New signing secret, shown this once (the old one keeps signing for 24 h): <code class="wrap">{secret}</code>
        </div>
      ) : null}
      <ErrorNote problem={action.problem} />
      <Section title="Deliveries">
        <Deliveries endpoint={e} version={version} onChange={() => setVersion((v) => v + 1)} />
      </Section>
    </>
  );
}
