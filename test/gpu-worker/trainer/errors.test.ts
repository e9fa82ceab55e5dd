// The failure codes reported to /fail come from the error's class, not from its message.
import { describe, expect, it } from 'vitest';
import { CheckpointError } from '../../../gpu-worker/cocoop/checkpoint.ts';
import { TrainingDivergedError } from '../../../gpu-worker/cocoop/train.ts';
import { OrtProviderError } from '../../../gpu-worker/runtime/ort.ts';
import { ArtifactUploadError, DatasetError, JobError, TrainingError, failureOf, trainingError } from '../../../gpu-worker/trainer/errors.ts';

describe('job errors', () => {
  it('a training failure is classified by what trainAdapter threw', () => {
    const diverged = trainingError(new TrainingDivergedError('training diverged: loss is NaN at epoch 2 step 3; try a lower --lr'));
    expect(diverged).toBeInstanceOf(TrainingError);
    expect([diverged.code, diverged.message]).toEqual(['training_diverged', 'training diverged: loss is NaN at epoch 2 step 3; try a lower --lr']);
    expect(trainingError(new CheckpointError('/w/job/checkpoints/epoch-0001.ckpt.safetensors: rng seed 1 differs')).code).toBe('checkpoint_invalid');
    // The message alone decides nothing: a path with "checkpoint" in it, or "diverged" mid-sentence, is a plain failure.
    expect(trainingError(new Error("ENOSPC: no space left on device, open '/w/job/checkpoints/epoch-0002.ckpt.safetensors'")).code).toBe('training_failed');
    expect(trainingError(new Error('the run diverged from the plan')).code).toBe('training_failed');
    expect(trainingError(new Error('training diverged: a plain Error with that text')).code).toBe('training_failed');
    expect(trainingError(new OrtProviderError('the CUDA execution provider was asked for (ORT_EP=cuda) but libonnxruntime_providers_cuda.so is not installed')).code).toBe('runtime_unavailable');
    expect(trainingError('a string').code).toBe('training_failed');
    const cause = new Error('x');
    expect(trainingError(cause).cause).toBe(cause);
  });

  it('failureOf: the JobError code, else internal_error', () => {
    expect(failureOf(new DatasetError('dataset_changed', 'replaced'))).toEqual({ code: 'dataset_changed', message: 'replaced' });
    expect(failureOf(new ArtifactUploadError('Uploading the adapter: S3 down'))).toEqual({ code: 'artifact_upload_failed', message: 'Uploading the adapter: S3 down' });
    expect(failureOf(new JobError('invalid_image', 'nope')).code).toBe('invalid_image');
    expect(failureOf(new TypeError('boom'))).toEqual({ code: 'internal_error', message: 'boom' });
  });
});
