// Everything a running job tells the edge, and the only part of a job that talks to the EdgeClient: heartbeats
// (on a timer and on progress; an answer with cancel_requested stops the job), the job's events, and its final
// report (/complete, /fail or /cancelled).
//
// Heartbeats and events run in the background, one at a time and in order; they get the client's few retries,
// after which the failure is logged (the events of an outage are lost, docs/reliability.md). A 409 (LeaseLostError)
// from any call stops the job. The final reports are retried for up to reportRetryMs while the edge is
// unreachable; a /complete that never got through is not turned into a /fail (the model is fine): the job is
// abandoned to its lease, and another attempt resumes it from the last uploaded checkpoint.
import type { Scores } from '../../shared/contracts/evaluation.ts';
import type { TrainProgress } from '../cocoop/train.ts';
import { type CallOptions, type CompleteReport, type EdgeClient, EdgeUnreachableError, type Lease, LeaseLostError, type TrainerEvent } from './edge-client.ts';
import { errorMessage, failureOf } from './errors.ts';
import type { JobStop } from './job-stop.ts';

/** How a job ended, for the trainer's log and tests (the edge learns it from the final report). */
export type JobOutcome = 'succeeded' | 'failed' | 'cancelled' | 'lease_lost' | 'abandoned';

/** How long /complete, /fail, /cancelled are retried while the edge is unreachable (default). */
export const DEFAULT_REPORT_RETRY_MS = 300_000;

export interface ReporterOptions {
  client: EdgeClient;
  /** The lease, and the id of the job or evaluation it is for. */
  lease: Pick<Lease, 'lease_id' | 'attempts'> & { job: { id: string } };
  stop: JobStop;
  log: (line: string) => void;
  /** Lease length asked for on every heartbeat (default: the edge's default). */
  leaseSeconds?: number;
  /** Heartbeat period; progress heartbeats are at most min(this, 1 s) apart. */
  heartbeatMs: number;
  reportRetryMs?: number;
  /** The trainer is stopping: ends the waiting of a final report. */
  signal?: AbortSignal;
}

export class JobReporter {
  private readonly jobId: string;
  private readonly leaseId: string;
  private chain: Promise<void> = Promise.resolve();
  private latest: TrainProgress | null = null;
  private lastBeat = 0;
  private beating = false;
  private valAccuracy: number | undefined;
  /** Progress of work that is not training (an evaluation): steps done of steps. */
  private stepsDone: { step: number; steps: number } | null = null;

  constructor(private readonly o: ReporterOptions) {
    this.jobId = o.lease.job.id;
    this.leaseId = o.lease.lease_id;
  }

  // ---- background: heartbeats and events ------------------------------------------------------------

  /** A heartbeat with the latest progress, unless one is in flight or the job is stopping without a report. */
  heartbeat(): void {
    const { stop } = this.o;
    if (this.beating || stop.reason === 'lease_lost' || stop.reason === 'stop') return;
    this.beating = true;
    this.lastBeat = Date.now();
    const p = this.latest;
    this.background('heartbeat', async () => {
      try {
        const reply = await this.o.client.heartbeat(this.jobId, {
          lease_id: this.leaseId,
          ...(this.o.leaseSeconds !== undefined ? { lease_seconds: this.o.leaseSeconds } : {}),
          ...(p
            ? {
                progress: { epoch: p.epoch, epochs: p.epochs, step: p.step, steps: p.stepsPerEpoch },
                metrics: { train_loss: p.loss, train_accuracy: p.accuracy, ...(this.valAccuracy !== undefined ? { val_accuracy: this.valAccuracy } : {}) },
              }
            : this.stepsDone
              ? { progress: { ...this.stepsDone } }
              : {}),
        });
        if (reply.cancel_requested) stop.stop('cancel');
      } finally {
        this.beating = false;
      }
    });
  }

  /**
   * A training step finished: the end of an epoch is a metrics event, and a heartbeat carries the progress when the
   * last one is older than min(heartbeatMs, 1 s).
   */
  progress(p: TrainProgress): void {
    this.latest = p;
    if (p.valAccuracy !== undefined) this.valAccuracy = p.valAccuracy;
    if (p.step === p.stepsPerEpoch) {
      const val = p.valAccuracy !== undefined ? `, validation accuracy ${p.valAccuracy.toFixed(3)}` : '';
      this.event({
        level: 'info',
        type: 'metrics',
        message: `Epoch ${p.epoch}/${p.epochs}: loss ${p.loss.toFixed(4)}, accuracy ${p.accuracy.toFixed(3)}${val}.`,
        data: { epoch: p.epoch, epochs: p.epochs, loss: p.loss, accuracy: p.accuracy, lr: p.lr, ...(p.valAccuracy !== undefined ? { val_accuracy: p.valAccuracy } : {}) },
      });
    }
    if (Date.now() - this.lastBeat >= Math.min(this.o.heartbeatMs, 1000)) this.heartbeat();
  }

  /** Work that is not training moved (an evaluation's images encoded and classified): the next heartbeat says so. */
  steps(step: number, steps: number): void {
    this.stepsDone = { step, steps };
    if (Date.now() - this.lastBeat >= Math.min(this.o.heartbeatMs, 1000)) this.heartbeat();
  }

  started(images: number, classes: number, validation?: string): void {
    const note = this.o.lease.attempts > 1 ? ' (no checkpoint to resume from)' : '';
    const val = validation ? `; validation: ${validation}` : '';
    this.event({ level: 'info', type: 'message', message: `Training started: ${images} images in the training pool, ${classes} classes${val}${note}.` });
  }

  /** A message event (e.g. an evaluation's steps). */
  note(message: string, data?: Record<string, unknown>): void {
    this.event({ level: 'info', type: 'message', message, ...(data ? { data } : {}) });
  }

  resumed(epoch: number): void {
    this.event({ level: 'info', type: 'message', message: `Resumed from checkpoint epoch ${epoch}.`, data: { epoch, attempt: this.o.lease.attempts } });
  }

  /** Resolves when every heartbeat and event started so far is done. */
  async settle(): Promise<void> {
    await this.chain;
  }

  private event(e: TrainerEvent): void {
    this.background('event', () => this.o.client.event(this.jobId, this.leaseId, e));
  }

  private background(what: string, fn: () => Promise<void>): void {
    this.chain = this.chain.then(async () => {
      if (this.o.stop.reason === 'lease_lost') return;
      try {
        await fn();
      } catch (err) {
        if (err instanceof LeaseLostError) {
          this.o.log(`job ${this.jobId}: lease lost (${err.message}); stopping`);
          this.o.stop.stop('lease_lost');
        } else {
          this.o.log(`job ${this.jobId}: ${what} failed: ${errorMessage(err)}`);
        }
      }
    });
  }

  // ---- the final report --------------------------------------------------------------------------

  /** /complete: 'succeeded', or 'abandoned' when the edge stayed unreachable. A LeaseLostError or another answer is thrown. */
  async complete(report: CompleteReport): Promise<JobOutcome> {
    try {
      await this.o.client.complete(this.jobId, this.leaseId, report, this.final('complete'));
    } catch (err) {
      if (!(err instanceof EdgeUnreachableError)) throw err;
      // Not a failure of the job: leave it to its lease; another attempt resumes from the last checkpoint.
      this.o.log(`job ${this.jobId}: could not reach the edge to complete (${err.message}); abandoning the job to its lease`);
      return 'abandoned';
    }
    this.o.log(`job ${this.jobId}: succeeded`);
    return 'succeeded';
  }

  /** /result of an evaluation: 'succeeded', or 'abandoned' when the edge stayed unreachable (the lease then expires and the evaluation is run again). */
  async result(result: Scores): Promise<JobOutcome> {
    try {
      await this.o.client.result(this.jobId, this.leaseId, result, this.final('result'));
    } catch (err) {
      if (!(err instanceof EdgeUnreachableError)) throw err;
      this.o.log(`evaluation ${this.jobId}: could not reach the edge to report the result (${err.message}); abandoning it to its lease`);
      return 'abandoned';
    }
    this.o.log(`evaluation ${this.jobId}: succeeded`);
    return 'succeeded';
  }

  /** /fail with the error's code: 'failed' (also when it could not be reported), or 'lease_lost'. */
  async fail(err: unknown): Promise<JobOutcome> {
    const { code, message } = failureOf(err);
    this.o.log(`job ${this.jobId}: failed (${code}): ${message}`);
    try {
      await this.o.client.fail(this.jobId, this.leaseId, code, message, this.final('fail'));
    } catch (e) {
      if (e instanceof LeaseLostError) return 'lease_lost';
      this.o.log(`job ${this.jobId}: could not report the failure: ${errorMessage(e)}`);
    }
    return 'failed';
  }

  /** /cancelled: 'cancelled', 'lease_lost', or 'abandoned' when it could not be reported (the lease then expires). */
  async cancelled(): Promise<JobOutcome> {
    try {
      await this.o.client.cancelled(this.jobId, this.leaseId, this.final('cancelled'));
    } catch (err) {
      if (err instanceof LeaseLostError) return 'lease_lost';
      this.o.log(`job ${this.jobId}: could not report the cancel: ${errorMessage(err)}`);
      return 'abandoned';
    }
    this.o.log(`job ${this.jobId}: cancelled`);
    return 'cancelled';
  }

  /** A final report waits out an unreachable edge for reportRetryMs, logging each retry; a trainer stop ends it. */
  private final(what: string): CallOptions {
    return {
      budgetMs: this.o.reportRetryMs ?? DEFAULT_REPORT_RETRY_MS,
      signal: this.o.signal,
      onRetry: (err, delayMs) => this.o.log(`job ${this.jobId}: ${what} failed (${err.message}); retrying in ${delayMs} ms`),
    };
  }
}
