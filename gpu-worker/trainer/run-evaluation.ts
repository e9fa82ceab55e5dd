// Runs one leased evaluation (POST /v1/evaluations) end to end, under the same lease, heartbeats and final-report
// rules as a training job (run-job.ts):
//   1. download the dataset's images (dataset-download.ts) and, unless zero-shot, the model's adapter (its sha256
//      checked against the one the edge recorded)
//   2. encode the images once (test-time transform) and classify them against the evaluation's labels with the
//      adapter and with zero-shot CLIP (cocoop/set-scorer.ts: the code path of POST /v1/classify)
//   3. /result with the figures (per class, confusion)
// An evaluation has no checkpoints: one whose worker stopped is run again from the start by the next lease, and
// since it is deterministic every attempt computes the same result. Failures are /fail with a code:
// model_unavailable (the adapter is gone or does not match), the dataset codes of dataset-download.ts, or
// internal_error.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { EvaluationLease } from '../../shared/contracts/worker-api.ts';
import type { AdapterParams } from '../cocoop/adapter.ts';
import { LabelledFeatures, SetScorer } from '../cocoop/set-scorer.ts';
import { AdapterCache } from '../serve/adapter-cache.ts';
import { downloadDataset } from './dataset-download.ts';
import { LeaseLostError } from './edge-client.ts';
import { JobError, errorMessage } from './errors.ts';
import { JobStop } from './job-stop.ts';
import { JobReporter, type JobOutcome } from './reporter.ts';
import type { WorkDeps } from './work-deps.ts';
import { DEFAULT_STORAGE_RETRY_MS, type StorageRetry, retryStorage } from './storage.ts';
import { leaseFolder } from './work-folders.ts';

export interface RunEvaluationDeps extends WorkDeps {
  /** After the images are encoded, before they are classified (tests stop a worker here). */
  afterEncode?: () => void | Promise<void>;
}

/** The evaluated adapter cannot be loaded: deleted, or its bytes do not match the model's record. */
export class ModelUnavailableError extends JobError {
  override name = 'ModelUnavailableError';
}

export async function runEvaluation(lease: EvaluationLease, deps: RunEvaluationDeps): Promise<JobOutcome> {
  const log = deps.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const ev = lease.evaluation;
  const dir = leaseFolder(deps.workDir, ev.id, lease.attempts); // one folder per lease, as run-job.ts
  const stop = new JobStop(ev.id);
  const onTrainerStop = () => stop.stop('stop');
  if (deps.signal?.aborted) onTrainerStop();
  deps.signal?.addEventListener('abort', onTrainerStop, { once: true });
  const storage: StorageRetry = { budgetMs: deps.storageRetryMs ?? DEFAULT_STORAGE_RETRY_MS, log: (l) => log(`evaluation ${ev.id}: ${l}`), signal: stop.signal };
  const reporter = new JobReporter({
    client: deps.client,
    lease: { lease_id: lease.lease_id, attempts: lease.attempts, job: { id: ev.id } },
    stop,
    log,
    leaseSeconds: deps.leaseSeconds,
    heartbeatMs: deps.heartbeatMs ?? 5000,
    reportRetryMs: deps.reportRetryMs,
    signal: deps.signal,
  });
  const ticker = setInterval(() => reporter.heartbeat(), deps.heartbeatMs ?? 5000);
  /** A stop before the end: nothing is reported (an evaluation is never cancelled); the lease expires. */
  const stopped = async (): Promise<JobOutcome> => {
    await reporter.settle();
    return stop.reason === 'lease_lost' ? 'lease_lost' : 'abandoned';
  };
  try {
    reporter.heartbeat();
    const data = await downloadDataset(lease, deps.blobs, join(dir, 'data'), stop.signal, storage, { minClasses: 1, purpose: 'an evaluation' });
    const adapter = lease.model ? await loadAdapter(lease, deps, storage) : null;
    if (stop.reason) return await stopped();
    const what = lease.model ? `model ${lease.model.id}` : 'zero-shot CLIP';
    reporter.note(`Evaluating ${what} on ${data.items.length} images of dataset ${lease.dataset.id} against ${ev.labels.length} labels.`);
    // Progress in heartbeats (the edge fails work whose progress stalls): images encoded, then classified
    // by zero-shot CLIP and by the adapter.
    const n = data.items.length;
    const steps = n * (adapter ? 3 : 2);
    const set = await LabelledFeatures.of(deps.encoders, data, stop.signal, (done) => reporter.steps(done, steps));
    await deps.afterEncode?.();
    const result = await new SetScorer(deps.inference).score(set, ev.labels, adapter, stop.signal, (done) => reporter.steps(n + done, steps));
    clearInterval(ticker);
    await reporter.settle();
    if (stop.reason) return await stopped();
    return await reporter.result(result);
  } catch (err) {
    clearInterval(ticker);
    await reporter.settle();
    if (err instanceof LeaseLostError || stop.reason === 'lease_lost') return 'lease_lost';
    if (stop.reason) return await stopped();
    return await reporter.fail(err);
  } finally {
    clearInterval(ticker);
    deps.signal?.removeEventListener('abort', onTrainerStop);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function loadAdapter(lease: EvaluationLease, deps: RunEvaluationDeps, storage: StorageRetry): Promise<AdapterParams> {
  const m = lease.model!;
  const reader = { get: (key: string) => retryStorage(`downloading the adapter of ${m.id}`, () => deps.blobs.get(key), storage) };
  try {
    return await new AdapterCache(deps.model, reader, 1).get({ key: m.artifact_key, sha256: m.sha256, method: m.method });
  } catch (err) {
    if (storage.signal?.aborted) throw err; // a stop, not a missing model
    throw new ModelUnavailableError('model_unavailable', `Model ${m.id} cannot be loaded: ${errorMessage(err)}`, { cause: err });
  }
}
