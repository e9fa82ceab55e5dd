// Models (published adapters): the list with their validation figures.
import { bytes, dateTime, percent } from '../format.ts';
import { href } from '../router.ts';
import { api } from '../session.ts';
import { useLoad } from '../ui/common.tsx';
import { ListTable } from '../ui/list-table.tsx';

export function ModelsPage() {
  const list = useLoad((signal) => api().models.list({ limit: 100 }, { signal }).page(), []);
  return (
    <>
      <h1>Models</h1>
      <ListTable
        list={list}
        what="models"
        empty="No models yet: a training job that succeeds publishes one."
        id="models-table"
        columns={['Model', 'Method', 'Classes', 'Validation: adapted', 'zero-shot', 'Adapter', 'Created']}
        row={(m) => (
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
        )}
      />
    </>
  );
}
