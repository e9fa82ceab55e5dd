// Runs one leased training job end to end:
//   1. on a re-leased job (attempts > 1) fetch the latest uploaded checkpoint and resume from it (checkpoint-sync.ts)
//   2. download the dataset's images into <workDir>/<job>/data, one folder per class, and the validation images
//      (a hold-out drawn with the job's seed, or the validation dataset; job-data.ts)
//   3. train with trainAdapter while the reporter heartbeats (reporter.ts), validating after every epoch; a
//      heartbeat answering cancel_requested aborts training within one step and the job is reported /cancelled
//   4. after every epoch upload the newest checkpoint and the pointer to it (checkpoint-sync.ts)
//   5. score the validation images (adapted and zero-shot, per class, confusion; cocoop/set-scorer.ts), write the
//      adapter, upload it to storage.artifact_key, /complete with its size, sha256 and the validation block
// A failure is /fail with the code its JobError carries (errors.ts; anything else is internal_error); a lost lease
// (409) stops work without a report; a trainer stop abandons the job to its lease. Outages are waited out within
// bounds: blob-store reads and writes that throw are retried for up to storageRetryMs (storage.ts) before the job
// fails, the final report for up to reportRetryMs while the edge is unreachable (reporter.ts).
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Scores } from '../../shared/contracts/evaluation.ts';
import type { TrainingLease } from '../../shared/contracts/worker-api.ts';
import type { ClipModel } from '../clip/model.ts';
import { DEFAULT_CTX_INIT } from '../cocoop/adapter.ts';
import { writeAdapter } from '../cocoop/artifact.ts';
import type { TrainEngineName } from '../cocoop/train-engines.ts';
import { SetScorer } from '../cocoop/set-scorer.ts';
import { trainAdapter, type TrainOptions, type TrainResult } from '../cocoop/train.ts';
import { modelName } from '../runtime/model.ts';
import { CheckpointSync } from './checkpoint-sync.ts';
import { downloadDataset } from './dataset-download.ts';
import { prepareJobData } from './job-data.ts';
import { type CompleteReport, LeaseLostError } from './edge-client.ts';
import { ArtifactUploadError, errorMessage, trainingError } from './errors.ts';
import { JobStop } from './job-stop.ts';
import { JobReporter, type JobOutcome } from './reporter.ts';
import type { WorkDeps } from './work-deps.ts';
import { DEFAULT_STORAGE_RETRY_MS, type StorageRetry, type TrainerBlobs, retryStorage } from './storage.ts';
import { leaseFolder } from './work-folders.ts';

// downloadDataset is named here by the G8 test (test/security/presigned-scope.test.ts) and docs/security.md.
export { downloadDataset };
export type { JobOutcome };

export interface RunJobHooks {
  /** After the checkpoint of `epoch` (1-based) is uploaded and the latest pointer names it. */
  afterCheckpointUpload?(epoch: number): void | Promise<void>;
  /** After the artifact is uploaded, right before POST /complete. */
  beforeComplete?(): void | Promise<void>;
}

export interface RunJobDeps extends WorkDeps {
  hooks?: RunJobHooks;
  /** The training engine (default: trainAdapter's, `ort`). */
  engine?: TrainEngineName;
}

/** trainAdapter options from the job's method and hyperparameters. */
export function trainOptionsOf(
  lease: Pick<TrainingLease, 'job'>,
): Pick<TrainOptions, 'method' | 'epochs' | 'shots' | 'lr' | 'batchSize' | 'nCtx' | 'ctxInit' | 'seed' | 'cropScale'> {
  const hp = lease.job.hyperparameters;
  const nCtx = hp.n_ctx ?? undefined;
  return {
    method: lease.job.method,
    epochs: hp.epochs,
    shots: hp.shots,
    lr: hp.learning_rate,
    batchSize: hp.batch_size,
    nCtx,
    ctxInit: nCtx !== undefined ? '' : (hp.ctx_init ?? DEFAULT_CTX_INIT),
    seed: hp.seed,
    cropScale: hp.crop_scale,
  };
}

export async function runJob(lease: TrainingLease, deps: RunJobDeps): Promise<JobOutcome> {
  const log = deps.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const jobId = lease.job.id;
  const heartbeatMs = deps.heartbeatMs ?? 5000;
  // One folder per lease (work-folders.ts): another worker sharing WORK_DIR may hold another attempt of this job (a
  // stale one still training), and each removes only its own folder.
  const jobDir = leaseFolder(deps.workDir, jobId, lease.attempts);
  const ckptDir = join(jobDir, 'checkpoints');

  const stop = new JobStop(jobId);
  const onTrainerStop = () => stop.stop('stop');
  if (deps.signal?.aborted) onTrainerStop();
  deps.signal?.addEventListener('abort', onTrainerStop, { once: true });
  const storage: StorageRetry = { budgetMs: deps.storageRetryMs ?? DEFAULT_STORAGE_RETRY_MS, log: (l) => log(`job ${jobId}: ${l}`), signal: stop.signal };
  const reporter = new JobReporter({ client: deps.client, lease, stop, log, leaseSeconds: deps.leaseSeconds, heartbeatMs, reportRetryMs: deps.reportRetryMs, signal: deps.signal });
  const checkpoints = new CheckpointSync({ jobId, blobs: deps.blobs, prefix: lease.storage.checkpoint_prefix, resumePrefixes: lease.storage.resume_prefixes, dir: ckptDir, stop, log, afterUpload: deps.hooks?.afterCheckpointUpload });
  const ticker = setInterval(() => {
    reporter.heartbeat();
    checkpoints.uploadNewest();
  }, heartbeatMs);
  const settle = () => Promise.all([reporter.settle(), checkpoints.settle()]);
  /** The outcome of a stop before the end: a cancel is reported, a lost lease or a trainer stop is not. */
  const stopped = async (): Promise<JobOutcome> => {
    await settle();
    if (stop.reason === 'cancel') return reporter.cancelled();
    return stop.reason === 'lease_lost' ? 'lease_lost' : 'abandoned';
  };

  /** The key this attempt uploaded its adapter to, once it has. */
  let published: string | null = null;
  /** The lease was lost after the upload: the adapter at this attempt's own key is nobody's; remove it (best effort). */
  const discardArtifact = async () => {
    if (published === null) return;
    try {
      await deps.blobs.delete([published]);
      log(`job ${jobId}: lease lost after uploading the adapter; removed ${published}`);
    } catch (err) {
      log(`job ${jobId}: could not remove ${published} (${errorMessage(err)})`);
    }
  };
  try {
    reporter.heartbeat();
    const resumedFrom = lease.attempts > 1 ? await checkpoints.fetchLatest() : null;
    const { train: data, validation, validationSource } = await prepareJobData(lease, deps, jobDir, storage);
    if (stop.reason) return await stopped();
    if (resumedFrom !== null) reporter.resumed(resumedFrom);
    else reporter.started(data.items.length, data.classNames.length, validationSource);
    const scorer = new SetScorer(deps.inference);

    let result: TrainResult;
    try {
      result = await trainAdapter(deps.model, deps.encoders, data, {
        ...trainOptionsOf(lease),
        engine: deps.engine,
        checkpointDir: ckptDir,
        resume: resumedFrom !== null,
        signal: stop.signal,
        ...(validation ? { validate: (params) => scorer.accuracy(validation, data.classNames, params, stop.signal) } : {}),
        log: (line) => log(`job ${jobId}: ${line}`),
        onProgress: (p) => {
          reporter.progress(p);
          checkpoints.uploadNewest(); // the previous epoch's checkpoint, once the next epoch runs
        },
      });
    } catch (err) {
      if (stop.reason) return await stopped();
      throw trainingError(err);
    }
    // The last epoch's checkpoint is uploaded too, after an upload still running (unless the job is stopping).
    await settle();
    if (!stop.reason) checkpoints.uploadNewest();
    await settle();
    if (stop.reason) return await stopped();

    let scores: Scores | null = null;
    try {
      scores = validation ? await scorer.score(validation, result.classNames, result.params, stop.signal) : null;
    } catch (err) {
      if (stop.reason) return await stopped();
      throw trainingError(err);
    }
    const report = await publishArtifact(lease, result, scores, deps.model, join(jobDir, 'adapter.safetensors'), deps.blobs, storage); // heartbeats go on
    published = report.artifact.key;
    clearInterval(ticker);
    await settle();
    if (stop.reason === 'lease_lost') await discardArtifact();
    if (stop.reason === 'lease_lost' || stop.reason === 'stop') return await stopped();
    await deps.hooks?.beforeComplete?.();
    return await reporter.complete(report);
  } catch (err) {
    clearInterval(ticker);
    await settle();
    if (err instanceof LeaseLostError || stop.reason === 'lease_lost') {
      await discardArtifact();
      return 'lease_lost';
    }
    if (stop.reason) return await stopped();
    return await reporter.fail(err);
  } finally {
    clearInterval(ticker);
    deps.signal?.removeEventListener('abort', onTrainerStop);
    rmSync(jobDir, { recursive: true, force: true });
  }
}

/** Writes the adapter, uploads it where the lease says (retried within the storage budget) and returns the /complete report. */
async function publishArtifact(
  lease: TrainingLease,
  result: TrainResult,
  validation: Scores | null,
  model: ClipModel,
  path: string,
  blobs: TrainerBlobs,
  storage: StorageRetry,
): Promise<CompleteReport> {
  const metrics = {
    train_accuracy: result.trainAccuracy,
    train_loss: result.finalLoss,
    ...(validation ? { val_accuracy: validation.accuracy, val_zero_shot_accuracy: validation.zero_shot_accuracy } : {}),
    epochs: result.epochs,
    steps: result.steps,
    seconds: result.seconds,
  };
  writeAdapter(path, result.params, { baseModelSha256: model.weightsSha256(), classNames: result.classNames, metrics: { ...metrics, engine: result.engine } });
  const bytes = readFileSync(path);
  const key = lease.storage.artifact_key;
  try {
    await retryStorage('artifact upload', () => blobs.put(key, bytes, 'application/octet-stream'), storage);
  } catch (err) {
    throw new ArtifactUploadError(`Uploading the adapter: ${errorMessage(err)}`, { cause: err });
  }
  return {
    artifact: { key, bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') },
    base_model: modelName(model),
    classes: result.classNames,
    metrics: Object.fromEntries(Object.entries(metrics).filter(([, v]) => Number.isFinite(v))),
    train: { loss: Number.isFinite(result.finalLoss) ? result.finalLoss : 0, accuracy: result.trainAccuracy },
    validation,
  };
}
