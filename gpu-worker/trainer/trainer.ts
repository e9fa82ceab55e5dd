// The lease loop: one job at a time per worker. Polls POST /internal/v1/leases every pollMs while
// there is work, backing off (doubling up to maxPollMs) while idle or while the edge is unreachable.
// stop() aborts the current job after its current step (no report: its lease expires and another
// worker resumes it from the last uploaded checkpoint), stops heartbeating, and ends the loop.
import type { ClipModel } from '../clip/model.ts';
import type { TrainEncoders } from '../cocoop/train.ts';
import type { EdgeClient } from './edge-client.ts';
import { type JobOutcome, type RunJobHooks, type WorkerBlobs, runJob } from './run-job.ts';

export interface JobWorkerOptions {
  client: EdgeClient;
  blobs: WorkerBlobs;
  model: ClipModel;
  encoders: TrainEncoders;
  workDir: string;
  workerId: string;
  /** Poll interval while busy / the first idle wait (default 2000 ms). */
  pollMs?: number;
  /** Longest idle wait (default 5 s: a new job waits at most this long for an idle worker). */
  maxPollMs?: number;
  leaseSeconds?: number;
  heartbeatMs?: number;
  log?: (line: string) => void;
  hooks?: RunJobHooks;
  /** Called after every job with its outcome. */
  onJobDone?: (jobId: string, outcome: JobOutcome) => void;
}

export class JobWorker {
  private readonly stopping = new AbortController();
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  /** The id of the job being worked on, or null when idle. */
  current: string | null = null;
  readonly outcomes: { jobId: string; outcome: JobOutcome }[] = [];

  constructor(private readonly opts: JobWorkerOptions) {}

  get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  /** Starts the loop (once); resolves when it has ended after stop(). */
  start(): Promise<void> {
    return (this.loop ??= this.run());
  }

  /** Graceful stop: abandon the current job after its current step; resolves when the loop has ended. */
  async stop(): Promise<void> {
    if (!this.stopped) this.stopping.abort(new Error('worker stopping'));
    this.wake?.();
    await this.loop;
  }

  private log(line: string) {
    (this.opts.log ?? ((l: string) => process.stderr.write(`${l}\n`)))(line);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((ok) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        ok();
      }
      this.wake = done;
    }).finally(() => {
      this.wake = null;
    });
  }

  private async run(): Promise<void> {
    const pollMs = this.opts.pollMs ?? 2000;
    const maxPollMs = Math.max(pollMs, this.opts.maxPollMs ?? 5000);
    let wait = pollMs;
    this.log(`worker ${this.opts.workerId}: polling for jobs`);
    while (!this.stopped) {
      let lease;
      try {
        lease = await this.opts.client.lease(this.opts.workerId, this.opts.leaseSeconds);
      } catch (err) {
        this.log(`worker ${this.opts.workerId}: lease request failed: ${err instanceof Error ? err.message : String(err)}`);
        lease = null;
      }
      if (this.stopped) break; // a job leased right now simply expires and is resumed elsewhere
      if (!lease) {
        await this.sleep(wait);
        wait = Math.min(maxPollMs, wait * 2);
        continue;
      }
      wait = pollMs;
      this.current = lease.job.id;
      this.log(`worker ${this.opts.workerId}: leased job ${lease.job.id} (attempt ${lease.attempts})`);
      let outcome: JobOutcome;
      try {
        outcome = await runJob(lease, {
          client: this.opts.client,
          blobs: this.opts.blobs,
          model: this.opts.model,
          encoders: this.opts.encoders,
          workDir: this.opts.workDir,
          leaseSeconds: this.opts.leaseSeconds,
          heartbeatMs: this.opts.heartbeatMs,
          signal: this.stopping.signal,
          log: this.opts.log,
          hooks: this.opts.hooks,
        });
      } catch (err) {
        this.log(`worker ${this.opts.workerId}: job ${lease.job.id} crashed: ${err instanceof Error ? err.message : String(err)}`);
        outcome = 'failed';
      }
      this.current = null;
      this.outcomes.push({ jobId: lease.job.id, outcome });
      this.log(`worker ${this.opts.workerId}: job ${lease.job.id} ${outcome}`);
      this.opts.onJobDone?.(lease.job.id, outcome);
    }
    this.log(`worker ${this.opts.workerId}: stopped`);
  }
}
