// The folder half of `cocoop remote train`: check the image folder, create the dataset, upload with progress,
// finalize. A folder that cannot be uploaded creates nothing; a failed upload or refused finalize deletes the dataset
// it created (so nothing half-made stays behind) and says so.
import { basename, resolve } from 'node:path';
import { type CoCoOp, type Dataset, ImageFolderError, type UploadFile, type UploadProgress, readImageFolder } from '../../../sdk/src/node/index.ts';
import { CliError } from '../args.ts';
import { Exit } from '../context.ts';
import { PlainSteps, type StatusLine, bar, formatBytes, percent } from '../progress.ts';
import { INTERRUPTED_EXIT, interruptible } from './shared.ts';

/** The files of the image folder; one line listing its problems (nothing is created) when it cannot be uploaded. */
export async function checkedFolder(folder: string): Promise<UploadFile[]> {
  try {
    return await readImageFolder(folder);
  } catch (e) {
    if (!(e instanceof ImageFolderError)) throw e;
    const shown = e.problems.slice(0, 5).join('; ') + (e.problems.length > 5 ? `; and ${e.problems.length - 5} more` : '');
    throw new CliError(`${folder} cannot be uploaded (nothing was created): ${shown}`);
  }
}

class UploadView {
  private readonly plain = new PlainSteps();
  private readonly started: number;

  constructor(
    private readonly status: StatusLine,
    private readonly totalBytes: number,
    private readonly now: () => number = Date.now,
  ) {
    this.started = now();
  }

  progress(p: UploadProgress): void {
    if (p.error) this.status.note(`  failed: ${p.file}: ${p.error.message}`);
    const fraction = (p.uploaded + p.failed) / p.total;
    const seconds = (this.now() - this.started) / 1000;
    const rate = seconds > 0 ? `${formatBytes(p.bytes / seconds)}/s` : '';
    const figures = [`${p.uploaded}/${p.total} files`, `${formatBytes(p.bytes)} of ${formatBytes(this.totalBytes)}`, rate].filter(Boolean);
    if (this.status.isTTY) this.status.update(`uploading ${bar(fraction)} ${percent(fraction)}  ${figures.join('  ')}`);
    else if (this.plain.due(fraction)) this.status.note(`uploaded ${figures.join(', ')}`);
  }
}

async function deleteQuietly(client: CoCoOp, status: StatusLine, id: string): Promise<void> {
  try {
    await client.datasets.delete(id);
    status.note(`deleted the unfinished dataset ${id}`);
  } catch (e) {
    status.note(`could not delete the unfinished dataset ${id} (${(e as Error).message}): cocoop remote datasets delete ${id}`);
  }
}

/** Creates a dataset of the folder's files, uploads them and finalizes it; Ctrl-C deletes it (exit 130). */
export async function uploadDataset(client: CoCoOp, status: StatusLine, folder: string, files: UploadFile[], name?: string): Promise<Dataset | Exit> {
  const dataset = await client.datasets.create({ name: name ?? basename(resolve(folder)) });
  const totalBytes = files.reduce((sum, f) => sum + (f.bytes ?? 0), 0);
  status.note(`dataset ${dataset.id}: uploading ${files.length} images (${formatBytes(totalBytes)})`);
  const view = new UploadView(status, totalBytes);
  try {
    return await interruptible(
      async (signal) => {
        await client.datasets.uploadFiles(dataset.id, files, { signal, onProgress: (p) => view.progress(p) });
        status.done();
        const ready = await client.datasets.finalize(dataset.id, { signal });
        status.note(`dataset ${ready.id} ready: ${ready.image_count} images, ${ready.classes.map((c) => `${c.name} (${c.image_count})`).join(', ')}`);
        return ready;
      },
      async () => {
        status.done();
        await deleteQuietly(client, status, dataset.id);
        return new Exit(undefined, INTERRUPTED_EXIT, 'interrupted: nothing was trained');
      },
    );
  } catch (e) {
    status.done();
    await deleteQuietly(client, status, dataset.id);
    throw e;
  }
}
