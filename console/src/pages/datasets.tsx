// Datasets: the list (newest first) and a form that creates one, then opens it for uploading.
import { useState } from 'preact/hooks';
import { dateTime } from '../format.ts';
import { href, navigate } from '../router.ts';
import { api } from '../session.ts';
import { useAction } from '../ui/action.ts';
import { ErrorNote, Status, useLoad } from '../ui/common.tsx';
import { ListTable } from '../ui/list-table.tsx';

export function DatasetsPage() {
  const list = useLoad((signal) => api().datasets.list({ limit: 100 }, { signal }).page(), []);
  const [name, setName] = useState('');
  const creating = useAction();

  const create = (e: Event) => {
    e.preventDefault();
    void creating.run(async () => {
      const ds = await api().datasets.create({ name: name.trim() });
      setName('');
      navigate(href('datasets', ds.id));
    });
  };

  return (
    <>
      <h1>Datasets</h1>
      <form class="card inline-form" onSubmit={create}>
        <label for="new-dataset-name">New dataset name</label>
        <input id="new-dataset-name" value={name} onInput={(e) => setName(e.currentTarget.value)} maxLength={200} required />
        <button type="submit" class="primary" disabled={creating.busy}>
          Create dataset
        </button>
        <ErrorNote problem={creating.problem} />
      </form>
      <ListTable
        list={list}
        what="datasets"
        empty="No datasets yet: create one, then drop a folder of images into it."
        id="datasets-table"
        columns={['Name', 'Status', 'Images', 'Classes', 'Created']}
        row={(ds) => (
          <tr key={ds.id}>
            <td>
              <a href={href('datasets', ds.id)} class="dataset-name">
                {ds.name}
              </a>
            </td>
            <td>
              <Status status={ds.status} />
            </td>
            <td class="num">{ds.image_count}</td>
            <td class="num">{ds.classes.length}</td>
            <td>{dateTime(ds.created_at)}</td>
          </tr>
        )}
      />
    </>
  );
}
