// Uploading into an open dataset: drop a folder (one sub-folder per class) or choose one, or pick image files and
// give them a label. The plan (classes, counts, files left out and why) is shown first; then presigned uploads run in
// parallel (the SDK's datasets.uploadFiles: batches of presigned PUTs straight to storage, each batch completed) with
// the total and every file's state; files that fail are listed with the reason and can be sent again.
import { useRef, useState } from 'preact/hooks';
import { type PlannedFile, type UploadPlan, droppedFiles, pathsOfInput, planLabelled, planUpload } from '../folder.ts';
import { bytes } from '../format.ts';
import { type Problem, handleError } from '../errors.ts';
import { UploadError, type UploadFile } from '../sdk.ts';
import { api } from '../session.ts';
import { addThumbnail } from '../thumbs.ts';
import { ErrorNote } from '../ui/common.tsx';

type FileState = { state: 'waiting' | 'uploading' | 'done' } | { state: 'failed'; error: string };

/** Files listed one by one at most (the total counts them all). */
const LISTED_FILES = 400;
const CONCURRENCY = 6;
/** <input type=file> picks a folder (webkitdirectory: in every current browser, not in Preact's attribute types). */
const DIRECTORY_PICKER = { webkitdirectory: true } as Record<string, unknown>;

export function UploadPanel({ datasetId, onUploaded }: { datasetId: string; onUploaded: () => void }) {
  const [plan, setPlan] = useState<UploadPlan | null>(null);
  const [looseFiles, setLooseFiles] = useState<File[] | null>(null);
  const [label, setLabel] = useState('');
  const [dragging, setDragging] = useState(false);
  const [running, setRunning] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [totals, setTotals] = useState<{ uploaded: number; failed: number; total: number; bytes: number } | null>(null);
  const [failedFiles, setFailedFiles] = useState<PlannedFile[]>([]);
  const states = useRef(new Map<string, FileState>());
  const [, setVersion] = useState(0);
  const bump = () => setVersion((v) => v + 1);

  const reset = () => {
    setPlan(null);
    setLooseFiles(null);
    setProblem(null);
  };

  const onDrop = async (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    if (running || !e.dataTransfer) return;
    reset();
    const { entries, folders } = await droppedFiles(e.dataTransfer);
    if (folders) setPlan(planUpload(entries));
    else setLooseFiles(entries.map((x) => x.file));
  };

  const upload = async (files: PlannedFile[]) => {
    setRunning(true);
    setProblem(null);
    setFailedFiles([]);
    states.current = new Map(files.map((f) => [f.name, { state: 'waiting' }]));
    setTotals({ uploaded: 0, failed: 0, total: files.length, bytes: 0 });
    const byName = new Map(files.map((f) => [f.name, f]));
    const failed: PlannedFile[] = [];
    const sdkFiles: UploadFile[] = files.map((f) => ({
      label: f.label,
      name: f.name,
      contentType: f.contentType,
      bytes: f.file.size,
      // Called when the file's turn comes: it is in flight from then on.
      data: async () => {
        states.current.set(f.name, { state: 'uploading' });
        bump();
        return f.file;
      },
    }));
    try {
      await api().datasets.uploadFiles(datasetId, sdkFiles, {
        concurrency: CONCURRENCY,
        onProgress: (p) => {
          const file = byName.get(p.file)!;
          if (p.error) {
            states.current.set(p.file, { state: 'failed', error: handleError(p.error).message });
            failed.push(file);
          } else {
            states.current.set(p.file, { state: 'done' });
            addThumbnail(datasetId, file.label, file.file);
          }
          setTotals({ uploaded: p.uploaded, failed: p.failed, total: p.total, bytes: p.bytes });
        },
      });
    } catch (err) {
      if (!(err instanceof UploadError)) setProblem(handleError(err));
    } finally {
      setFailedFiles(failed);
      setRunning(false);
      setPlan(null);
      setLooseFiles(null);
      onUploaded();
    }
  };

  const startLabelled = () => {
    if (!looseFiles) return;
    if (label.trim() === '') return setProblem({ message: 'Give these files a label (the class they show).', param: 'label' });
    const p = planLabelled(looseFiles, label);
    if (p.files.length === 0) return setProblem({ message: `None of these files can be uploaded: ${p.skipped.join('; ')}` });
    void upload(p.files);
  };

  const listed = [...states.current].slice(0, LISTED_FILES);
  return (
    <div class="upload">
      <div
        class={`dropzone${dragging ? ' dragging' : ''}`}
        id="dropzone"
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
      >
        <p>
          <strong>Drop a folder here</strong> with one sub-folder per class (its name is the label), or loose image files to label.
        </p>
        <div class="choosers">
          <label class="file-button">
            Choose a folder…
            <input
              type="file"
              id="folder-input"
              {...DIRECTORY_PICKER}
              multiple
              disabled={running}
              onChange={(e) => {
                const list = e.currentTarget.files;
                reset();
                if (list && list.length > 0) setPlan(planUpload(pathsOfInput(list)));
                e.currentTarget.value = '';
              }}
            />
          </label>
          <label class="file-button">
            Pick image files…
            <input
              type="file"
              id="files-input"
              accept="image/png,image/jpeg,image/webp"
              multiple
              disabled={running}
              onChange={(e) => {
                const list = e.currentTarget.files;
                reset();
                if (list && list.length > 0) setLooseFiles([...list]);
                e.currentTarget.value = '';
              }}
            />
          </label>
        </div>
      </div>

      {plan ? (
        <div class="plan" id="upload-plan">
          <p>
            {plan.files.length} {plan.files.length === 1 ? 'image' : 'images'} in {plan.classes.length} {plan.classes.length === 1 ? 'class' : 'classes'}:{' '}
            {plan.classes.map((c, i) => (
              <span key={c.label}>
                {i > 0 ? ', ' : ''}
                <span class="label-text">{c.label}</span> ({c.count})
              </span>
            ))}
          </p>
          {plan.skipped.length > 0 ? (
            <details open>
              <summary>{plan.skipped.length} left out</summary>
              <ul>
                {plan.skipped.map((s) => (
                  <li key={s}>{s}</li>
                ))}
              </ul>
            </details>
          ) : null}
          <button type="button" class="primary" id="start-upload" disabled={plan.files.length === 0} onClick={() => void upload(plan.files)}>
            Upload {plan.files.length} {plan.files.length === 1 ? 'image' : 'images'}
          </button>{' '}
          <button type="button" onClick={reset}>
            Clear
          </button>
        </div>
      ) : null}

      {looseFiles ? (
        <div class="plan" id="label-plan">
          <p>
            {looseFiles.length} {looseFiles.length === 1 ? 'file' : 'files'} chosen: give them the label of the class they show.
          </p>
          <label for="upload-label">Label</label> <input id="upload-label" value={label} maxLength={100} onInput={(e) => setLabel(e.currentTarget.value)} />{' '}
          <button type="button" class="primary" id="start-labelled-upload" onClick={startLabelled}>
            Upload with this label
          </button>{' '}
          <button type="button" onClick={reset}>
            Clear
          </button>
        </div>
      ) : null}

      <ErrorNote problem={problem} />

      {totals ? (
        <div class="progress-block">
          <label for="upload-progress">Upload progress</label>
          <progress id="upload-progress" max={totals.total} value={totals.uploaded + totals.failed} />
          <p role="status" aria-live="polite" id="upload-status">
            {running ? 'Uploading: ' : 'Done: '}
            {totals.uploaded} of {totals.total} uploaded{totals.failed > 0 ? `, ${totals.failed} failed` : ''} ({bytes(totals.bytes)}).
          </p>
          {!running && failedFiles.length > 0 ? (
            <button type="button" id="retry-failed" onClick={() => void upload(failedFiles)}>
              Upload the {failedFiles.length} failed {failedFiles.length === 1 ? 'file' : 'files'} again
            </button>
          ) : null}
          <details open={running || failedFiles.length > 0}>
            <summary>Files</summary>
            <ol class="file-list">
              {listed.map(([name, s]) => (
                <li key={name} class={`file-${s.state}`}>
                  <span class="file-name">{name}</span> <span class="file-state">{s.state === 'failed' ? `failed: ${s.error}` : s.state}</span>
                </li>
              ))}
            </ol>
            {states.current.size > LISTED_FILES ? <p class="muted">… and {states.current.size - LISTED_FILES} more.</p> : null}
          </details>
        </div>
      ) : null}
    </div>
  );
}
