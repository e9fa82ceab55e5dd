// Following a training job: poll it and its events until it is final, showing its progress on stderr (a bar with
// epoch, step, loss, validation accuracy and ETA on a terminal; plain lines elsewhere) and every event as a line.
// The SDK's trainingJobs.wait() hands over the events but not the job of each poll, which the progress needs, so this
// loop reads both with the same calls wait() makes.
import { setTimeout as sleep } from 'node:timers/promises';
import { type CoCoOp, FINAL_TRAINING_JOB_STATUSES, type TrainingJob, type TrainingJobEvent } from '../../sdk/src/node/index.ts';
import { PlainSteps, type StatusLine, bar, formatDuration, percent } from './progress.ts';

export const POLL_INTERVAL_MS = 1_000;

export interface FollowOptions {
  signal?: AbortSignal;
  /** Only events after this one. */
  after?: string;
  onEvent?: (event: TrainingJobEvent) => void;
  onJob?: (job: TrainingJob) => void;
}

/** Polls job `id` until it succeeded, failed or was cancelled; every event is handed to onEvent once, oldest first. */
export async function followJob(client: CoCoOp, id: string, opts: FollowOptions = {}): Promise<{ job: TrainingJob; events: TrainingJobEvent[] }> {
  const events: TrainingJobEvent[] = [];
  let after = opts.after;
  for (;;) {
    const job = await client.trainingJobs.retrieve(id, { signal: opts.signal });
    // Events after the job was read: once it is final, every event it logged is in.
    for await (const event of client.trainingJobs.events(id, { after, limit: 100 }, { signal: opts.signal })) {
      after = event.id;
      events.push(event);
      opts.onEvent?.(event);
    }
    opts.onJob?.(job);
    if (FINAL_TRAINING_JOB_STATUSES.includes(job.status)) return { job, events };
    await sleep(POLL_INTERVAL_MS, undefined, { signal: opts.signal });
  }
}

/** Steps done and in all, from the job's progress (epochs are 1-based, steps count within the epoch; 0 steps: unknown). */
export function stepsOf(job: TrainingJob): { done: number; total: number } {
  const { epoch, epochs, step, steps } = job.progress;
  const total = epochs * steps;
  return { done: epoch >= 1 && steps > 0 ? Math.min(total, (epoch - 1) * steps + step) : 0, total };
}

/** The training progress on stderr. */
export class TrainingView {
  private readonly plain = new PlainSteps();
  private start: { time: number; done: number } | undefined;

  constructor(
    private readonly status: StatusLine,
    private readonly now: () => number = Date.now,
  ) {}

  event(e: TrainingJobEvent): void {
    this.status.note(`  [${e.level}] ${e.message}`);
  }

  job(job: TrainingJob): void {
    const { done, total } = stepsOf(job);
    const succeeded = job.status === 'succeeded';
    // A job may end between two polls (heartbeats then never reported its steps): it is 100% all the same.
    const fraction = succeeded ? 1 : total > 0 ? done / total : 0;
    if (job.status === 'running' && done > 0 && !this.start) this.start = { time: this.now(), done };
    const figures = this.figures(job, done, total);
    if (this.status.isTTY) {
      const state = job.status === 'running' ? '' : `  (${job.status})`;
      this.status.update(`training ${bar(fraction)} ${percent(fraction)}  ${figures.join('  ')}${state}`);
    } else if (((job.status === 'running' && total > 0) || succeeded) && this.plain.due(fraction)) {
      this.status.note(`progress: ${percent(fraction)}, ${figures.join(', ')}`);
    }
  }

  private figures(job: TrainingJob, done: number, total: number): string[] {
    const { epoch, epochs, step, steps } = job.progress;
    const m = job.metrics;
    const out = [`epoch ${epoch}/${epochs}`, ...(steps > 0 ? [`step ${step}/${steps}`] : [])];
    if (m.train_loss !== undefined) out.push(`loss ${m.train_loss.toFixed(4)}`);
    if (m.val_accuracy !== undefined) out.push(`val_accuracy ${m.val_accuracy.toFixed(3)}`);
    if (job.status === 'running' && this.start && done > this.start.done) {
      const perStep = (this.now() - this.start.time) / (done - this.start.done);
      out.push(`ETA ${formatDuration((perStep * (total - done)) / 1000)}`);
    }
    return out;
  }
}

/** What `train --wait` and `jobs events --follow` print: the job's outcome and its validation figures. */
export function jobSummary(job: TrainingJob) {
  return {
    job_id: job.id,
    status: job.status,
    model_id: job.model_id,
    dataset_id: job.dataset_id,
    method: job.method,
    train: job.result?.train ?? null,
    validation: job.result?.validation ?? null,
    error: job.error,
  };
}

/** The validation block in a few lines for stderr: accuracy vs zero-shot CLIP, then each class. */
export function validationLines(job: TrainingJob): string[] {
  const v = job.result?.validation;
  if (!v) return job.status === 'succeeded' ? ['validation: none (nothing held out)'] : [];
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const width = Math.max(...v.per_class.map((c) => c.label.length));
  return [
    `validation (${v.n} held-out images): accuracy ${pct(v.accuracy)} vs zero-shot CLIP ${pct(v.zero_shot_accuracy)}`,
    ...v.per_class.map((c) => `  ${c.label.padEnd(width)}  ${pct(c.accuracy).padStart(6)} vs ${pct(c.zero_shot_accuracy).padStart(6)}  (n=${c.n})`),
  ];
}
