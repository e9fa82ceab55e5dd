// Datasets: the list (newest first) and a form that creates one, then opens it for uploading.
import { useState } from 'preact/hooks';
import { dateTime } from '../format.ts';
import { type Problem, handleError } from '../errors.ts';
import { href, navigate } from '../router.ts';
import { api } from '../session.ts';
import { ErrorNote, Loading, Status, useLoad } from '../ui/common.tsx';

export function DatasetsPage() {
  const list = useLoad((signal) => api().datasets.list({ limit: 100 }, { signal }).page(), []);
  const [name, setName] = useState('');
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);

  const create = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      const ds = await api().datasets.create({ name: name.trim() });
      setName('');
      navigate(href('datasets', ds.id));
    } catch (err) {
      setProblem(handleError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <h1>Datasets</h1>
      <form class="card inline-form" onSubmit={create}>
        <label for="new-dataset-name">New dataset name</label>
        <input id="new-dataset-name" value={name} onInput={(e) => setName(e.currentTarget.value)} maxLength={200} required />
        <button type="submit" class="primary" disabled={busy}>
          Create dataset
        </button>
        <ErrorNote problem={problem} />
      </form>
      {list.loading && !list.data ? <Loading what="datasets" /> : null}
      <ErrorNote problem={list.problem} />
      {list.data ? (
        list.data.data.length === 0 ? (
          <p class="muted">No datasets yet: create one, then drop a folder of images into it.</p>
        ) : (
          <div class="table-scroll">
            <table class="list" id="datasets-table">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Status</th>
                  <th scope="col">Images</th>
                  <th scope="col">Classes</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {list.data.data.map((ds) => (
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
                ))}
              </tbody>
            </table>
          </div>
        )
      ) : null}
    </>
  );
}
