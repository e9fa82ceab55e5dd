// Why a job failed, as the code reported to POST /internal/v1/jobs/{id}/fail (and shown to the API caller as the
// job's error.code). Each place that can fail a job throws a JobError subclass carrying its code; anything else is
// internal_error.
import { CheckpointError } from '../cocoop/checkpoint.ts';
import { TrainingDivergedError } from '../cocoop/train.ts';
import { OrtProviderError } from '../runtime/ort.ts';

export type DatasetFailureCode = 'invalid_dataset' | 'dataset_download_failed' | 'dataset_changed' | 'invalid_image';
export type TrainingFailureCode = 'training_diverged' | 'checkpoint_invalid' | 'runtime_unavailable' | 'training_failed';
export type FailureCode = DatasetFailureCode | TrainingFailureCode | 'artifact_upload_failed' | 'model_unavailable' | 'internal_error';

/** A failure of the job with the code reported to /fail. */
export class JobError<C extends FailureCode = FailureCode> extends Error {
  override name = 'JobError';
  constructor(
    readonly code: C,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The dataset cannot be trained on: too few classes, an image missing, replaced or undecodable. */
export class DatasetError extends JobError<DatasetFailureCode> {
  override name = 'DatasetError';
}

/** Training stopped with an error (not a cancel or a stop). */
export class TrainingError extends JobError<TrainingFailureCode> {
  override name = 'TrainingError';
}

/** The trained adapter could not be uploaded within the storage retry budget. */
export class ArtifactUploadError extends JobError<'artifact_upload_failed'> {
  override name = 'ArtifactUploadError';
  constructor(message: string, options?: ErrorOptions) {
    super('artifact_upload_failed', message, options);
  }
}

/** A failure of trainAdapter as the job's TrainingError. */
export function trainingError(err: unknown): TrainingError {
  const message = errorMessage(err);
  const code: TrainingFailureCode =
    err instanceof CheckpointError
      ? 'checkpoint_invalid'
      : err instanceof TrainingDivergedError
        ? 'training_diverged'
        : err instanceof OrtProviderError
          ? 'runtime_unavailable'
          : 'training_failed';
  return new TrainingError(code, message, { cause: err });
}

/** The code and message reported to /fail for any error. */
export function failureOf(err: unknown): { code: FailureCode; message: string } {
  return { code: err instanceof JobError ? err.code : 'internal_error', message: errorMessage(err) };
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
