// One model: what it was trained on, its validation figures, the adapter file to download, delete, and "try it".
import { bytes, dateTime } from '../format.ts';
import { handleError } from '../errors.ts';
import { href, navigate } from '../router.ts';
import { api } from '../session.ts';
import { useAction } from '../ui/action.ts';
import { ConfirmButton, DetailHeader, ErrorNote, Loading, Section, useLoad } from '../ui/common.tsx';
import { ScoresView } from '../ui/scores.tsx';
import { TryIt } from './try-it.tsx';

/** Saves bytes as a file through a temporary object URL (the download needs the key, so no plain link). */
function saveFile(data: Uint8Array, name: string): void {
  const url = URL.createObjectURL(new Blob([data as BlobPart], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function ModelPage({ id }: { id: string }) {
  const model = useLoad((signal) => api().models.retrieve(id, { signal }), [id]);
  const action = useAction();
  if (!model.data) return model.problem ? <ErrorNote problem={model.problem} /> : <Loading what="the model" />;
  const m = model.data;

  const download = () => action.run(async () => saveFile(await api().models.download(m.id), `${m.id}.safetensors`));
  // Not action.run: the delete leaves a problem already shown in place until its own answer.
  const remove = async () => {
    try {
      await api().models.delete(m.id);
      navigate(href('models'));
    } catch (err) {
      action.setProblem(handleError(err));
    }
  };

  return (
    <>
      <DetailHeader back={href('models')} backTitle="Models">
        Model <code>{m.id}</code>
      </DetailHeader>
      <p class="meta">
        {m.method} on {m.base_model} · trained by <a href={href('jobs', m.job_id)}>{m.job_id}</a> · created {dateTime(m.created_at)}
      </p>
      <p>
        Classes:{' '}
        {m.classes.map((c, i) => (
          <span key={c}>
            {i > 0 ? ', ' : ''}
            <span class="label-text">{c}</span>
          </span>
        ))}
      </p>
      <Section title="Try it">
        <TryIt model={m} />
      </Section>
      {m.metrics.validation ? (
        <Section title="Validation">
          <ScoresView scores={m.metrics.validation} what="Held-out images" />
        </Section>
      ) : null}
      <Section title="Adapter file">
        <p>
          {bytes(m.artifact.bytes)}, sha256 <code class="wrap">{m.artifact.sha256}</code>
        </p>
        <button type="button" id="download-model" onClick={download} disabled={action.busy}>
          {action.busy ? 'Downloading…' : 'Download adapter (.safetensors)'}
        </button>{' '}
        <ConfirmButton label="Delete model…" question="Delete this model? Classify calls naming it will fail." confirmLabel="Yes, delete it" onConfirm={remove} />
        <ErrorNote problem={action.problem} />
      </Section>
    </>
  );
}
