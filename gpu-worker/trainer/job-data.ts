// What a training job trains and validates on: its dataset downloaded (dataset-download.ts), then either the
// validation dataset the job names downloaded too, or a hold-out of the dataset drawn with the job's seed
// (hyperparameters.validation_split; cocoop/sampling.ts). The held-out images are encoded once (test-time
// transform) for the per-epoch validation and the final validation block.
import { join } from 'node:path';
import type { TrainingLease } from '../../shared/contracts/worker-api.ts';
import type { OrtClipEncoders } from '../clip/ort-encoders.ts';
import type { ImageFolderDataset } from '../cocoop/dataset.ts';
import { holdOut } from '../cocoop/sampling.ts';
import { LabelledFeatures } from '../cocoop/set-scorer.ts';
import { downloadDataset } from './dataset-download.ts';
import { DatasetError } from './errors.ts';
import type { StorageRetry, TrainerBlobs } from './storage.ts';

export interface JobData {
  /** The training pool (shots are drawn from it by trainAdapter). */
  train: ImageFolderDataset;
  /** The encoded validation images, or null when the job validates on nothing. */
  validation: LabelledFeatures | null;
  /** Where the validation images came from, for the job's events. */
  validationSource: string;
}

export async function prepareJobData(
  lease: Pick<TrainingLease, 'dataset' | 'validation_dataset' | 'job'>,
  deps: { blobs: TrainerBlobs; encoders: OrtClipEncoders },
  dir: string,
  storage: StorageRetry,
): Promise<JobData> {
  const { signal } = storage;
  const data = await downloadDataset(lease, deps.blobs, join(dir, 'data'), signal, storage);
  const hp = lease.job.hyperparameters;
  if (lease.validation_dataset) {
    const val = await downloadDataset({ dataset: lease.validation_dataset }, deps.blobs, join(dir, 'validation'), signal, storage, {
      minClasses: 1,
      purpose: 'validation',
    });
    const unknown = val.classNames.filter((c) => !data.classNames.includes(c));
    if (unknown.length > 0) {
      throw new DatasetError('invalid_dataset', `Validation dataset ${lease.validation_dataset.id} has labels the training dataset lacks: ${unknown.slice(0, 5).map((l) => JSON.stringify(l)).join(', ')}.`);
    }
    return {
      train: data,
      validation: await LabelledFeatures.of(deps.encoders, val, signal),
      validationSource: `${val.items.length} images of dataset ${lease.validation_dataset.id}`,
    };
  }
  const split = hp.validation_split ?? 0;
  const { train, validation } = holdOut(data, split, hp.seed);
  return {
    train,
    validation: validation ? await LabelledFeatures.of(deps.encoders, validation, signal) : null,
    validationSource: validation ? `${validation.items.length} images held out (validation_split ${split}, seed ${hp.seed})` : 'no validation images',
  };
}
