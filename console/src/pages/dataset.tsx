// One dataset: its classes with counts (and thumbnails of what this tab uploaded), uploading while it is open,
// finalize (the API's reasons shown when it refuses), training once it is ready, delete after a confirmation.
import { dateTime } from '../format.ts';
import { href, navigate } from '../router.ts';
import type { Dataset } from '../sdk.ts';
import { api } from '../session.ts';
import { forgetThumbnails, thumbnails } from '../thumbs.ts';
import { useAction } from '../ui/action.ts';
import { ConfirmButton, DetailHeader, ErrorNote, Loading, Section, Status, useLoad } from '../ui/common.tsx';
import { TrainForm } from './train-form.tsx';
import { UploadPanel } from './upload.tsx';

function Classes({ dataset }: { dataset: Dataset }) {
  const thumbs = thumbnails.value.get(dataset.id);
  if (dataset.classes.length === 0) return <p class="muted">No images yet.</p>;
  return (
    <ul class="classes" id="classes">
      {dataset.classes.map((c) => (
        <li key={c.name} class="class-card">
          <div class="class-head">
            <span class="label-text class-name">{c.name}</span> <span class="count">{c.image_count}</span>
          </div>
          <div class="thumbs">
            {(thumbs?.get(c.name) ?? []).map((url) => (
              <img key={url} src={url} alt="" width={56} height={56} />
            ))}
          </div>
        </li>
      ))}
    </ul>
  );
}

export function DatasetPage({ id }: { id: string }) {
  const ds = useLoad((signal) => api().datasets.retrieve(id, { signal }), [id]);
  const finalizing = useAction();
  const deleting = useAction();

  if (!ds.data) return ds.problem ? <ErrorNote problem={ds.problem} /> : <Loading what="the dataset" />;
  const d = ds.data;

  const finalize = () =>
    finalizing.run(async () => {
      await api().datasets.finalize(d.id);
      ds.reload();
    });

  const remove = () =>
    deleting.run(async () => {
      await api().datasets.delete(d.id);
      forgetThumbnails(d.id);
      navigate(href('datasets'));
    });

  return (
    <>
      <DetailHeader back={href('datasets')} backTitle="Datasets" titleClass="dataset-title">
        {d.name}
      </DetailHeader>
      <p class="meta">
        <Status status={d.status} /> <span id="dataset-count">{d.image_count}</span> images in {d.classes.length} classes · <code>{d.id}</code> · created {dateTime(d.created_at)}
      </p>
      <Section title="Classes">
        <Classes dataset={d} />
      </Section>
      {d.status === 'open' ? (
        <>
          <Section title="Add images">
            <UploadPanel datasetId={d.id} onUploaded={ds.reload} />
          </Section>
          <Section title="Finalize">
            <p>A ready dataset is immutable and can be trained on. The API refuses when something is missing and says what.</p>
            <button type="button" class="primary" id="finalize" disabled={finalizing.busy} onClick={finalize}>
              {finalizing.busy ? 'Finalizing…' : 'Finalize dataset'}
            </button>
            <ErrorNote problem={finalizing.problem} title="Not finalized:" />
          </Section>
        </>
      ) : (
        <Section title="Train">
          <TrainForm dataset={d} />
        </Section>
      )}
      <Section title="Delete">
        <p>Deletes the dataset and its stored images (refused while a job or evaluation uses it).</p>
        <ConfirmButton label="Delete dataset…" question={`Delete “${d.name}” and its ${d.image_count} images?`} confirmLabel="Yes, delete it" onConfirm={remove} />
        <ErrorNote problem={deleting.problem} />
      </Section>
    </>
  );
}
