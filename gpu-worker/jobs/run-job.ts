// Runs one leased training job end to end:
//   1. download the dataset's images from the blob store into <workDir>/<job>/data (one folder per class)
//   2. on a re-leased job (attempts > 1) fetch the latest uploaded checkpoint into the local checkpoint
//      dir and resume from it
//   3. train with trainAdapter while heartbeating (on a timer and on progress); a heartbeat answering
//      cancel_requested aborts training within one step and the job is reported /cancelled
//   4. after every epoch upload the newest checkpoint under storage.checkpoint_prefix (plus a small
//      latest.json pointer, since the blob store cannot list), and send a per-epoch metrics event
//   5. write the adapter, upload it to storage.artifact_key, /complete with its size and sha256
// Any error is /fail with a code and message; a LeaseLostError (409) stops work without reporting.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import type { ClipModel } from '../clip/model.ts';
import { decodeImageRGB } from '../clip/preprocess.ts';
import { DEFAULT_CTX_INIT } from '../cocoop/adapter.ts';
import { writeAdapter } from '../cocoop/artifact.ts';
import { checkpointPath, latestCheckpoint } from '../cocoop/checkpoint.ts';
import type { ImageFolderDataset, LabelledImage } from '../cocoop/dataset.ts';
import { trainAdapter, type TrainEncoders, type TrainOptions, type TrainProgress, type TrainResult } from '../cocoop/train.ts';
import { type EdgeClient, type Lease, LeaseLostError, type WorkerEvent } from './edge-client.ts';

/** The subset of the edge's BlobStore port the worker needs (S3BlobStore implements it). */
export interface WorkerBlobs {
  put(key: string, body: Uint8Array, contentType: string): Promise<void>;
  get(key: string): Promise<Uint8Array | null>;
}

export interface RunJobHooks {
  /** After the checkpoint of `epoch` (1-based) is uploaded and latest.json points at it. */
  afterCheckpointUpload?(epoch: number): void | Promise<void>;
}

export interface RunJobDeps {
  client: EdgeClient;
  blobs: WorkerBlobs;
  model: ClipModel;
  encoders: TrainEncoders;
  /** Scratch space; <workDir>/<job id> is removed when the job is done. */
  workDir: string;
  /** Lease length asked for on every heartbeat (default: the edge's default). */
  leaseSeconds?: number;
  /** Heartbeat period (default 5 s); progress heartbeats are at most this often too. */
  heartbeatMs?: number;
  /** The worker is stopping: abandon the job after the current step (no report; the lease expires). */
  signal?: AbortSignal;
  log?: (line: string) => void;
  hooks?: RunJobHooks;
}

export type JobOutcome = 'succeeded' | 'failed' | 'cancelled' | 'lease_lost' | 'abandoned';

/** A failure with the code reported to /fail. */
export class JobError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const LATEST_POINTER = 'latest.json';

/** trainAdapter options from the job's method and hyperparameters. */
export function trainOptionsOf(
  lease: Lease,
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

function imageExt(key: string): string {
  const e = extname(key).toLowerCase();
  return ['.png', '.jpg', '.jpeg', '.webp'].includes(e) ? e : '.img';
}

/**
 * Downloads the lease's images into `root/cNNN/<image id>.<ext>` and builds the dataset directly
 * (class names are the labels, sorted as readImageFolder sorts folder names; folders are numbered so
 * any label is safe on disk).
 */
export async function downloadDataset(lease: Lease, blobs: WorkerBlobs, root: string, signal?: AbortSignal): Promise<ImageFolderDataset> {
  const classNames = [...new Set(lease.dataset.images.map((i) => i.label))].sort();
  if (classNames.length < 2) throw new JobError('invalid_dataset', `Dataset ${lease.dataset.id} has ${classNames.length} class(es); training needs at least 2.`);
  const byLabel = new Map(classNames.map((c, i) => [c, i]));
  const images = [...lease.dataset.images].sort((a, b) => (a.label === b.label ? (a.id < b.id ? -1 : 1) : a.label < b.label ? -1 : 1));
  const items: LabelledImage[] = [];
  for (const img of images) {
    if (signal?.aborted) throw signal.reason ?? new Error('aborted');
    const label = byLabel.get(img.label)!;
    const dir = join(root, `c${String(label).padStart(3, '0')}`);
    mkdirSync(dir, { recursive: true });
    let bytes: Uint8Array | null;
    try {
      bytes = await blobs.get(img.object_key);
    } catch (err) {
      throw new JobError('dataset_download_failed', `Downloading image ${img.id}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!bytes) throw new JobError('dataset_download_failed', `Image ${img.id} (${img.object_key}) is missing from storage.`);
    const path = join(dir, `${img.id}${imageExt(img.object_key)}`);
    writeFileSync(path, bytes);
    try {
      await decodeImageRGB(path);
    } catch (err) {
      throw new JobError('invalid_image', `Image ${img.id} of class "${img.label}" cannot be decoded: ${err instanceof Error ? err.message : String(err)}`);
    }
    items.push({ path, label });
  }
  return { root, classNames, items };
}

/** The latest checkpoint uploaded for this job into `dir`, or null. */
async function fetchLatestCheckpoint(lease: Lease, blobs: WorkerBlobs, dir: string): Promise<number | null> {
  const pointer = await blobs.get(lease.storage.checkpoint_prefix + LATEST_POINTER);
  if (!pointer) return null;
  const { epoch, key } = JSON.parse(new TextDecoder().decode(pointer)) as { epoch: number; key: string };
  const bytes = await blobs.get(key);
  if (!bytes) return null;
  mkdirSync(dir, { recursive: true });
  writeFileSync(checkpointPath(dir, epoch), bytes);
  return epoch;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export async function runJob(lease: Lease, deps: RunJobDeps): Promise<JobOutcome> {
  const { client, blobs } = deps;
  const log = deps.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const jobId = lease.job.id;
  const leaseId = lease.lease_id;
  const heartbeatMs = deps.heartbeatMs ?? 5000;
  const jobDir = join(deps.workDir, jobId);
  const dataDir = join(jobDir, 'data');
  const ckptDir = join(jobDir, 'checkpoints');
  rmSync(jobDir, { recursive: true, force: true });
  mkdirSync(jobDir, { recursive: true });

  // Why training stopped early, decided by whoever aborts first.
  let stopReason: 'cancel' | 'lease_lost' | 'stop' | null = null;
  const abort = new AbortController();
  const stop = (why: 'cancel' | 'lease_lost' | 'stop') => {
    if (stopReason) return;
    stopReason = why;
    abort.abort(new Error(`job ${jobId}: ${why}`));
  };
  const onWorkerStop = () => stop('stop');
  if (deps.signal?.aborted) onWorkerStop();
  deps.signal?.addEventListener('abort', onWorkerStop, { once: true });

  // Background calls (heartbeats, events, uploads) are chained so they never overlap, and any
  // LeaseLostError stops the job.
  let chain: Promise<void> = Promise.resolve();
  const background = (what: string, fn: () => Promise<void>) => {
    chain = chain.then(async () => {
      if (stopReason === 'lease_lost') return;
      try {
        await fn();
      } catch (err) {
        if (err instanceof LeaseLostError) {
          log(`job ${jobId}: lease lost (${err.message}); stopping`);
          stop('lease_lost');
        } else {
          log(`job ${jobId}: ${what} failed: ${errorMessage(err)}`);
        }
      }
    });
  };
  const event = (e: WorkerEvent) => background('event', () => client.event(jobId, leaseId, e));

  let progress: TrainProgress | null = null;
  let lastBeat = 0;
  let beating = false;
  const heartbeat = () => {
    if (beating || stopReason === 'lease_lost' || stopReason === 'stop') return;
    beating = true;
    lastBeat = Date.now();
    const p = progress;
    background('heartbeat', async () => {
      try {
        const reply = await client.heartbeat(jobId, {
          lease_id: leaseId,
          ...(deps.leaseSeconds !== undefined ? { lease_seconds: deps.leaseSeconds } : {}),
          ...(p
            ? {
                progress: { epoch: p.epoch, epochs: p.epochs, step: p.step, steps: p.stepsPerEpoch },
                metrics: { train_loss: p.loss, train_accuracy: p.accuracy },
              }
            : {}),
        });
        if (reply.cancel_requested) stop('cancel');
      } finally {
        beating = false;
      }
    });
  };

  // Checkpoint uploads: whenever a newer local checkpoint exists than the last uploaded one.
  let uploadedEpoch = 0;
  let uploading = false;
  const uploadCheckpoint = () => {
    if (uploading || stopReason === 'lease_lost') return;
    const latest = latestCheckpoint(ckptDir);
    if (!latest || latest.epochsDone <= uploadedEpoch) return;
    uploading = true;
    const epoch = latest.epochsDone;
    background('checkpoint upload', async () => {
      try {
        const key = `${lease.storage.checkpoint_prefix}epoch-${String(epoch).padStart(4, '0')}.ckpt.safetensors`;
        await blobs.put(key, readFileSync(latest.path), 'application/octet-stream');
        await blobs.put(lease.storage.checkpoint_prefix + LATEST_POINTER, new TextEncoder().encode(JSON.stringify({ epoch, key })), 'application/json');
        uploadedEpoch = epoch;
        log(`job ${jobId}: uploaded the checkpoint of epoch ${epoch}`);
        await deps.hooks?.afterCheckpointUpload?.(epoch);
      } finally {
        uploading = false;
      }
    });
  };

  const timer = setInterval(() => {
    heartbeat();
    uploadCheckpoint();
  }, heartbeatMs);

  const outcomeOfStop = async (): Promise<JobOutcome> => {
    await chain;
    if (stopReason === 'cancel') {
      try {
        await client.cancelled(jobId, leaseId);
        log(`job ${jobId}: cancelled`);
        return 'cancelled';
      } catch (err) {
        if (err instanceof LeaseLostError) return 'lease_lost';
        throw err;
      }
    }
    return stopReason === 'lease_lost' ? 'lease_lost' : 'abandoned';
  };

  try {
    heartbeat();
    let resumedFrom: number | null = null;
    if (lease.attempts > 1) {
      try {
        resumedFrom = await fetchLatestCheckpoint(lease, blobs, ckptDir);
      } catch (err) {
        log(`job ${jobId}: could not fetch the latest checkpoint (${errorMessage(err)}); starting over`);
      }
      uploadedEpoch = resumedFrom ?? 0;
    }
    const data = await downloadDataset(lease, blobs, dataDir, abort.signal);
    if (stopReason) return await outcomeOfStop();

    if (resumedFrom !== null) {
      event({ level: 'info', type: 'message', message: `Resumed from checkpoint epoch ${resumedFrom}.`, data: { epoch: resumedFrom, attempt: lease.attempts } });
    } else {
      event({
        level: 'info',
        type: 'message',
        message: `Training started: ${data.items.length} images, ${data.classNames.length} classes${lease.attempts > 1 ? ' (no checkpoint to resume from)' : ''}.`,
      });
    }

    const opts = trainOptionsOf(lease);
    let result: TrainResult;
    try {
      result = await trainAdapter(deps.model, deps.encoders, data, {
        ...opts,
        checkpointDir: ckptDir,
        resume: resumedFrom !== null,
        signal: abort.signal,
        log: (line) => log(`job ${jobId}: ${line}`),
        onProgress: (p) => {
          progress = p;
          if (p.step === p.stepsPerEpoch) {
            event({
              level: 'info',
              type: 'metrics',
              message: `Epoch ${p.epoch}/${p.epochs}: loss ${p.loss.toFixed(4)}, accuracy ${p.accuracy.toFixed(3)}.`,
              data: { epoch: p.epoch, epochs: p.epochs, loss: p.loss, accuracy: p.accuracy, lr: p.lr },
            });
          }
          uploadCheckpoint(); // the previous epoch's checkpoint, once the next epoch runs
          if (Date.now() - lastBeat >= Math.min(heartbeatMs, 1000)) heartbeat();
        },
      });
    } catch (err) {
      if (stopReason) return await outcomeOfStop();
      const msg = errorMessage(err);
      throw new JobError(/diverged/.test(msg) ? 'training_diverged' : /checkpoint/i.test(msg) ? 'checkpoint_invalid' : 'training_failed', msg);
    }
    uploadCheckpoint();
    await chain;
    if (stopReason) return await outcomeOfStop();

    const artifactPath = join(jobDir, 'adapter.safetensors');
    const metrics = {
      train_accuracy: result.trainAccuracy,
      train_loss: result.finalLoss,
      epochs: result.epochs,
      steps: result.steps,
      seconds: result.seconds,
    };
    writeAdapter(artifactPath, result.params, { baseModelSha256: deps.model.weightsSha256(), classNames: result.classNames, metrics });
    const bytes = readFileSync(artifactPath);
    try {
      await blobs.put(lease.storage.artifact_key, bytes, 'application/octet-stream');
    } catch (err) {
      throw new JobError('artifact_upload_failed', `Uploading the adapter: ${errorMessage(err)}`);
    }
    clearInterval(timer);
    await chain;
    if (stopReason === 'lease_lost' || stopReason === 'stop') return await outcomeOfStop();
    await client.complete(jobId, leaseId, {
      artifact: { key: lease.storage.artifact_key, bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') },
      base_model: basename(deps.model.dir.replace(/\/+$/, '')),
      classes: result.classNames,
      metrics: Object.fromEntries(Object.entries(metrics).filter(([, v]) => Number.isFinite(v))),
    });
    log(`job ${jobId}: succeeded`);
    return 'succeeded';
  } catch (err) {
    clearInterval(timer);
    await chain;
    if (err instanceof LeaseLostError || stopReason === 'lease_lost') return 'lease_lost';
    if (stopReason) return await outcomeOfStop();
    const code = err instanceof JobError ? err.code : 'internal_error';
    const message = errorMessage(err);
    log(`job ${jobId}: failed (${code}): ${message}`);
    try {
      await client.fail(jobId, leaseId, code, message);
    } catch (e) {
      if (e instanceof LeaseLostError) return 'lease_lost';
      log(`job ${jobId}: could not report the failure: ${errorMessage(e)}`);
    }
    return 'failed';
  } finally {
    clearInterval(timer);
    deps.signal?.removeEventListener('abort', onWorkerStop);
    rmSync(jobDir, { recursive: true, force: true });
  }
}
