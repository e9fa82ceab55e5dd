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
// Outages are waited out within bounds: blob store reads and writes that throw (S3 down) are retried for up
// to storageRetryMs before the job fails, and /complete, /fail and /cancelled are retried for up to
// reportRetryMs while the edge is unreachable (network errors, 5xx). A /complete that never got through
// is not turned into a /fail (the model is fine): the job is abandoned, its lease expires, and another
// attempt resumes it from the last uploaded checkpoint.
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
import { EdgeApiError, type EdgeClient, type Lease, LeaseLostError, type WorkerEvent } from './edge-client.ts';

/** The subset of the edge's BlobStore port the worker needs (S3BlobStore implements it). */
export interface WorkerBlobs {
  put(key: string, body: Uint8Array, contentType: string): Promise<void>;
  get(key: string): Promise<Uint8Array | null>;
}

export interface RunJobHooks {
  /** After the checkpoint of `epoch` (1-based) is uploaded and latest.json points at it. */
  afterCheckpointUpload?(epoch: number): void | Promise<void>;
  /** After the artifact is uploaded, right before POST /complete. */
  beforeComplete?(): void | Promise<void>;
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
  /** How long a failing blob store read or write is retried before the job fails (default 120 s). */
  storageRetryMs?: number;
  /** How long /complete, /fail, /cancelled are retried while the edge is unreachable (default 300 s). */
  reportRetryMs?: number;
}

export const DEFAULT_STORAGE_RETRY_MS = 120_000;
export const DEFAULT_REPORT_RETRY_MS = 300_000;
const RETRY_FIRST_DELAY_MS = 500;
const RETRY_MAX_DELAY_MS = 10_000;

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((ok) => {
    if (signal?.aborted) return ok();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      ok();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Calls fn until it resolves; a failure is retried (with doubling delays, logged) while `retryable(err)`,
 * `signal` is not aborted and the next try starts within `budgetMs` of the first failure; else it is thrown.
 */
export async function retrying<T>(
  what: string,
  fn: () => Promise<T>,
  o: { budgetMs: number; retryable: (err: unknown) => boolean; log: (line: string) => void; signal?: AbortSignal },
): Promise<T> {
  let firstFailure = 0;
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      firstFailure ||= Date.now();
      const delay = Math.min(RETRY_MAX_DELAY_MS, RETRY_FIRST_DELAY_MS * 2 ** i);
      if (!o.retryable(err) || o.signal?.aborted || Date.now() + delay - firstFailure > o.budgetMs) throw err;
      o.log(`${what} failed (${errorMessage(err)}); retrying in ${delay} ms`);
      await abortableSleep(delay, o.signal);
      if (o.signal?.aborted) throw err;
    }
  }
}

/** The edge could not be reached (network errors, timeouts, 5xx after the client's own retries). */
function edgeUnreachable(err: unknown): boolean {
  return err instanceof EdgeApiError && err.status === null;
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
export async function downloadDataset(
  lease: Lease,
  blobs: WorkerBlobs,
  root: string,
  signal?: AbortSignal,
  retry: { budgetMs: number; log: (line: string) => void } = { budgetMs: 0, log: () => {} },
): Promise<ImageFolderDataset> {
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
      bytes = await retrying(`downloading image ${img.id}`, () => blobs.get(img.object_key), { ...retry, retryable: () => true, signal });
    } catch (err) {
      throw new JobError('dataset_download_failed', `Downloading image ${img.id}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!bytes) throw new JobError('dataset_download_failed', `Image ${img.id} (${img.object_key}) is missing from storage.`);
    if (img.sha256 && createHash('sha256').update(bytes).digest('hex') !== img.sha256) {
      throw new JobError(
        'dataset_changed',
        `Image ${img.id} of class "${img.label}" in storage is not the one the edge verified (sha256 differs): it was replaced after upload. Upload the dataset again.`,
      );
    }
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
  const storageRetryMs = deps.storageRetryMs ?? DEFAULT_STORAGE_RETRY_MS;
  const reportRetryMs = deps.reportRetryMs ?? DEFAULT_REPORT_RETRY_MS;
  /** A report to the edge, retried while the edge is unreachable (a worker stop ends the waiting). */
  const report = (what: string, fn: () => Promise<void>) =>
    retrying(`job ${jobId}: ${what}`, fn, { budgetMs: reportRetryMs, retryable: edgeUnreachable, log, signal: deps.signal });
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
        await report('cancelled', () => client.cancelled(jobId, leaseId));
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
    const data = await downloadDataset(lease, blobs, dataDir, abort.signal, { budgetMs: storageRetryMs, log: (l) => log(`job ${jobId}: ${l}`) });
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
    // An upload still in flight first: uploadCheckpoint() skips while one runs, and the last epoch's must not be
    // skipped (unless the worker is stopping: then it leaves at once).
    await chain;
    if (!stopReason) uploadCheckpoint();
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
      // Heartbeats go on meanwhile (the timer runs until the upload is done).
      await retrying(`job ${jobId}: artifact upload`, () => blobs.put(lease.storage.artifact_key, bytes, 'application/octet-stream'), {
        budgetMs: storageRetryMs,
        retryable: () => true,
        log,
        signal: abort.signal,
      });
    } catch (err) {
      throw new JobError('artifact_upload_failed', `Uploading the adapter: ${errorMessage(err)}`);
    }
    clearInterval(timer);
    await chain;
    if (stopReason === 'lease_lost' || stopReason === 'stop') return await outcomeOfStop();
    await deps.hooks?.beforeComplete?.();
    const completeBody = {
      artifact: { key: lease.storage.artifact_key, bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') },
      base_model: basename(deps.model.dir.replace(/\/+$/, '')),
      classes: result.classNames,
      metrics: Object.fromEntries(Object.entries(metrics).filter(([, v]) => Number.isFinite(v))),
    };
    try {
      await report('complete', () => client.complete(jobId, leaseId, completeBody));
    } catch (err) {
      if (!edgeUnreachable(err)) throw err;
      // Not a failure of the job: leave it to its lease; another attempt resumes from the last checkpoint.
      log(`job ${jobId}: could not reach the edge to complete (${errorMessage(err)}); abandoning the job to its lease`);
      return 'abandoned';
    }
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
      await report('fail', () => client.fail(jobId, leaseId, code, message));
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
