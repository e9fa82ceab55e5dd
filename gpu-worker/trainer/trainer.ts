// The trainer's lease loop: one job at a time — a training job (run-job.ts) or an evaluation (run-evaluation.ts). Polls POST /internal/v1/leases every pollMs while there is work,
// backing off (doubling up to maxPollMs) while idle or while the edge is unreachable. stop() aborts the current job
// after its current step (no report: its lease expires and another trainer resumes it from the last uploaded
// checkpoint), stops heartbeating, and ends the loop.
import { sleep } from '../../shared/util/sleep.ts';
import type { ClipModel } from '../clip/model.ts';
import type { OrtClipEncoders } from '../clip/ort-encoders.ts';
import { CocoopInference } from '../cocoop/ort-inference.ts';
import type { TrainEngineName } from '../cocoop/train-engines.ts';
import type { EdgeClient, Lease } from './edge-client.ts';
import { errorMessage } from './errors.ts';
import { runEvaluation } from './run-evaluation.ts';
import { type JobOutcome, type RunJobHooks, runJob } from './run-job.ts';
import type { TrainerBlobs } from './storage.ts';
import { sweepDeadFolders } from './work-folders.ts';

export interface TrainerOptions {
  client: EdgeClient;
  blobs: TrainerBlobs;
  model: ClipModel;
  encoders: OrtClipEncoders;
  /** Classifies validation and evaluation images (default: one built on `encoders` when first needed). */
  inference?: CocoopInference;
  workDir: string;
  /** This trainer's name in leases and job events (the API's worker_id). */
  workerId: string;
  /** Poll interval while busy / the first idle wait (default 2000 ms). */
  pollMs?: number;
  /** Longest idle wait (default 5 s: a new job waits at most this long for an idle trainer). */
  maxPollMs?: number;
  leaseSeconds?: number;
  heartbeatMs?: number;
  log?: (line: string) => void;
  hooks?: RunJobHooks;
  /** The training engine (default `ort`). */
  engine?: TrainEngineName;
  /** Evaluations: after the images are encoded, before they are classified (tests stop a worker here). */
  afterEvaluationEncode?: () => void | Promise<void>;
  /** Called after every job with its outcome. */
  onJobDone?: (jobId: string, outcome: JobOutcome) => void;
}

export class Trainer {
  private readonly stopping = new AbortController();
  private loop: Promise<void> | null = null;
  /** The id of the job being worked on, or null when idle. */
  current: string | null = null;
  readonly outcomes: { jobId: string; outcome: JobOutcome }[] = [];

  constructor(private readonly opts: TrainerOptions) {}

  get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  /** Starts the loop (once); resolves when it has ended after stop(). */
  start(): Promise<void> {
    return (this.loop ??= this.run());
  }

  /** Graceful stop: abandon the current job after its current step; resolves when the loop has ended. */
  async stop(): Promise<void> {
    if (!this.stopped) this.stopping.abort(new Error('trainer stopping'));
    await this.loop;
  }

  private inferenceEngine: CocoopInference | null = null;

  private get inference(): CocoopInference {
    return (this.inferenceEngine ??= this.opts.inference ?? new CocoopInference(this.opts.encoders, { log: () => {} }));
  }

  private log(line: string) {
    (this.opts.log ?? ((l: string) => process.stderr.write(`${l}\n`)))(line);
  }

  private async run(): Promise<void> {
    const { workerId } = this.opts;
    const pollMs = this.opts.pollMs ?? 2000;
    const maxPollMs = Math.max(pollMs, this.opts.maxPollMs ?? 5000);
    const signal = this.stopping.signal;
    let wait = pollMs;
    // Folders left by a worker process of this host that died mid-lease (its job went on elsewhere).
    const swept = sweepDeadFolders(this.opts.workDir);
    if (swept.length > 0) this.log(`worker ${workerId}: removed ${swept.length} folder(s) of dead worker processes from ${this.opts.workDir}: ${swept.join(', ')}`);
    this.log(`worker ${workerId}: polling for jobs`);
    while (!this.stopped) {
      let lease: Lease | null;
      try {
        lease = await this.opts.client.lease(workerId, this.opts.leaseSeconds, { signal });
      } catch (err) {
        this.log(`worker ${workerId}: lease request failed: ${errorMessage(err)}`);
        lease = null;
      }
      if (this.stopped) break; // a job leased right now simply expires and is resumed elsewhere
      if (!lease) {
        await sleep(wait, signal);
        wait = Math.min(maxPollMs, wait * 2);
        continue;
      }
      wait = pollMs;
      const id = lease.kind === 'training' ? lease.job.id : lease.evaluation.id;
      this.current = id;
      this.log(`worker ${workerId}: leased ${lease.kind === 'training' ? 'job' : 'evaluation'} ${id} (attempt ${lease.attempts})`);
      const common = {
        client: this.opts.client,
        blobs: this.opts.blobs,
        model: this.opts.model,
        encoders: this.opts.encoders,
        inference: this.inference,
        workDir: this.opts.workDir,
        leaseSeconds: this.opts.leaseSeconds,
        heartbeatMs: this.opts.heartbeatMs,
        signal,
        log: this.opts.log,
      };
      let outcome: JobOutcome;
      try {
        outcome =
          lease.kind === 'training'
            ? await runJob(lease, { ...common, hooks: this.opts.hooks, engine: this.opts.engine })
            : await runEvaluation(lease, { ...common, afterEncode: this.opts.afterEvaluationEncode });
      } catch (err) {
        this.log(`worker ${workerId}: ${id} crashed: ${errorMessage(err)}`);
        outcome = 'failed';
      }
      this.current = null;
      this.outcomes.push({ jobId: id, outcome });
      this.log(`worker ${workerId}: ${id} ${outcome}`);
      this.opts.onJobDone?.(id, outcome);
    }
    if (this.inferenceEngine && !this.opts.inference) await this.inferenceEngine.release();
    this.log(`worker ${workerId}: stopped`);
  }
}
