// Models (published adapters): the list with their validation figures.
import { bytes, dateTime, percent } from '../format.ts';
import { href } from '../router.ts';
import { api } from '../session.ts';
import { ErrorNote, Loading, useLoad } from '../ui/common.tsx';

export function ModelsPage() {
  const list = useLoad((signal) => api().models.list({ limit: 100 }, { signal }).page(), []);
  return (
    <>
      <h1>Models</h1>
      {list.loading && !list.data ? <Loading what="models" /> : null}
      <ErrorNote problem={list.problem} />
      {list.data && list.data.data.length === 0 ? <p class="muted">No models yet: a training job that succeeds publishes one.</p> : null}
      {list.data && list.data.data.length > 0 ? (
        <div class="table-scroll">
          <table class="list" id="models-table">
            <thead>
              <tr>
                <th scope="col">Model</th>
                <th scope="col">Method</th>
                <th scope="col">Classes</th>
                <th scope="col">Validation: adapted</th>
                <th scope="col">zero-shot</th>
                <th scope="col">Adapter</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {list.data.data.map((m) => (
                <tr key={m.id}>
                  <td>
                    <a href={href('models', m.id)}>
                      <code>{m.id}</code>
                    </a>
                  </td>
                  <td>{m.method}</td>
                  <td class="num">{m.classes.length}</td>
                  <td class="num">{percent(m.metrics.validation?.accuracy)}</td>
                  <td class="num">{percent(m.metrics.validation?.zero_shot_accuracy)}</td>
                  <td class="num">{bytes(m.artifact.bytes)}</td>
                  <td>{dateTime(m.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}
