// Evaluations: a model (or zero-shot CLIP) measured on a ready dataset, against its classes or more labels. The list,
// a form that starts one, and one evaluation followed until it is done, its result shown like a job's validation.
import { useEffect, useState } from 'preact/hooks';
import { dateTime, percent } from '../format.ts';
import { type Problem, handleError } from '../errors.ts';
import { href, navigate } from '../router.ts';
import type { Evaluation } from '../sdk.ts';
import { api } from '../session.ts';
import { useAction } from '../ui/action.ts';
import { DetailHeader, ErrorNote, Loading, Section, Status, useLoad } from '../ui/common.tsx';
import { ListTable } from '../ui/list-table.tsx';
import { ScoresView } from '../ui/scores.tsx';
import { parseLabels } from '../labels.ts';

function NewEvaluation() {
  const options = useLoad(
    async (signal) => {
      const [models, datasets] = await Promise.all([api().models.list({ limit: 100 }, { signal }).page(), api().datasets.list({ limit: 100 }, { signal }).page()]);
      return { models: models.data, datasets: datasets.data.filter((d) => d.status === 'ready') };
    },
    [],
  );
  const [model, setModel] = useState('');
  const [datasetId, setDatasetId] = useState('');
  const [labels, setLabels] = useState('');
  const starting = useAction();

  const submit = (e: Event) => {
    e.preventDefault();
    if (!model || !datasetId) return starting.setProblem({ message: 'Choose a model and a ready dataset.' });
    const list = parseLabels(labels);
    void starting.run(async () => {
      const ev = await api().evaluations.create({ model, dataset_id: datasetId, ...(list.length > 0 ? { labels: list } : {}) });
      navigate(href('evaluations', ev.id));
    });
  };

  return (
    <form class="card" onSubmit={submit}>
      <div class="grid">
        <div class="field">
          <label for="eval-model">Model</label>
          <select id="eval-model" value={model} onChange={(e) => setModel(e.currentTarget.value)}>
            <option value="">Choose…</option>
            <option value="zero-shot">zero-shot CLIP</option>
            {(options.data?.models ?? []).map((m) => (
              <option key={m.id} value={m.id}>
                {m.id} ({m.method}, {m.classes.length} classes)
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="eval-dataset">Dataset (ready)</label>
          <select id="eval-dataset" value={datasetId} onChange={(e) => setDatasetId(e.currentTarget.value)}>
            <option value="">Choose…</option>
            {(options.data?.datasets ?? []).map((d) => (
              <option key={d.id} value={d.id}>
                {d.name} ({d.image_count} images)
              </option>
            ))}
          </select>
        </div>
      </div>
      <label for="eval-labels">Labels (optional: default the dataset's classes; more may be added, e.g. classes the model never saw)</label>
      <textarea id="eval-labels" rows={2} value={labels} onInput={(e) => setLabels(e.currentTarget.value)} />
      <button type="submit" class="primary" disabled={starting.busy}>
        Start evaluation
      </button>
      <ErrorNote problem={starting.problem} />
      <ErrorNote problem={options.problem} />
    </form>
  );
}

export function EvaluationsPage() {
  const list = useLoad((signal) => api().evaluations.list({ limit: 100 }, { signal }).page(), []);
  return (
    <>
      <h1>Evaluations</h1>
      <Section title="New evaluation">
        <NewEvaluation />
      </Section>
      <ListTable
        list={list}
        what="evaluations"
        columns={['Evaluation', 'Model', 'Dataset', 'Status', 'Adapted / zero-shot', 'Created']}
        row={(ev) => (
          <tr key={ev.id}>
            <td>
              <a href={href('evaluations', ev.id)}>
                <code>{ev.id}</code>
              </a>
            </td>
            <td>
              <code>{ev.model}</code>
            </td>
            <td>
              <a href={href('datasets', ev.dataset_id)}>
                <code>{ev.dataset_id}</code>
              </a>
            </td>
            <td>
              <Status status={ev.status} />
            </td>
            <td class="num">{ev.result ? `${percent(ev.result.accuracy)} / ${percent(ev.result.zero_shot_accuracy)}` : '–'}</td>
            <td>{dateTime(ev.created_at)}</td>
          </tr>
        )}
      />
    </>
  );
}

export function EvaluationPage({ id }: { id: string }) {
  const [ev, setEv] = useState<Evaluation | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const current = await api().evaluations.retrieve(id, { signal: controller.signal });
        setEv(current);
        if (current.status === 'queued' || current.status === 'running') timer = setTimeout(poll, 1000);
      } catch (err) {
        if (!controller.signal.aborted) setProblem(handleError(err));
      }
    };
    void poll();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [id]);
  if (!ev) return problem ? <ErrorNote problem={problem} /> : <Loading what="the evaluation" />;
  return (
    <>
      <DetailHeader back={href('evaluations')} backTitle="Evaluations">
        Evaluation <code>{ev.id}</code>
      </DetailHeader>
      <p class="meta" role="status" aria-live="polite">
        <Status status={ev.status} /> model <code>{ev.model}</code> on <a href={href('datasets', ev.dataset_id)}>{ev.dataset_id}</a> · {ev.labels.length} labels · created{' '}
        {dateTime(ev.created_at)}
      </p>
      {ev.error ? <ErrorNote problem={{ message: `${ev.error.code}: ${ev.error.message}` }} title="The evaluation failed:" /> : null}
      {ev.result ? <ScoresView scores={ev.result} what="This dataset" /> : null}
    </>
  );
}
