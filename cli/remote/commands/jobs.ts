// `cocoop remote jobs list|get|cancel|events`, and how a followed job ends (shared with `train --wait`).
import type { CoCoOp, TrainingJob } from '../../../sdk/src/node/index.ts';
import { stringOption } from '../args.ts';
import { type CommandContext, Exit, type RemoteCommand } from '../context.ts';
import { TrainingView, followJob, jobSummary, validationLines } from '../follow.ts';
import { INTERRUPTED_EXIT, LIST_NOTE, LIST_OPTIONS, idArgument, interruptible, listResult } from './shared.ts';

const JOB_ID = idArgument('JOB_ID', 'a training job id (job_…)');

export const FOLLOW_NOTE =
  'Progress on stderr (a bar with epoch, step, loss, val_accuracy and ETA on a terminal; plain lines otherwise) and every event of the job.';

/** The end of a followed job: its validation on stderr; exit 1 with one line unless it succeeded. */
export function followedOutcome(ctx: CommandContext, job: TrainingJob, extra: Record<string, unknown> = {}): unknown {
  ctx.status.done();
  for (const line of validationLines(job)) ctx.status.note(line);
  const output = { ...jobSummary(job), ...extra };
  if (job.status === 'succeeded') return output;
  const why = job.error ? `: ${job.error.code}: ${job.error.message}` : '';
  return new Exit(output, 1, `error: job ${job.id} ${job.status}${why}`);
}

/**
 * Follows job `id` with its progress on stderr. Ctrl-C stops following and leaves the job running (with
 * `cancelOnInterrupt`, cancels it first); the output is then the job as last seen, exit 130. `announce` is printed
 * once Ctrl-C is handled.
 */
export async function followWithProgress(ctx: CommandContext, client: CoCoOp, id: string, o: { after?: string; cancelOnInterrupt?: boolean; announce?: string } = {}) {
  const view = new TrainingView(ctx.status);
  let last: TrainingJob | undefined;
  return interruptible(
    (signal) => {
      // Said once Ctrl-C is handled: whoever reads it may interrupt.
      if (o.announce) ctx.status.note(o.announce);
      return followJob(client, id, {
        signal,
        after: o.after,
        onEvent: (e) => view.event(e),
        onJob: (job) => {
          last = job;
          view.job(job);
        },
      });
    },
    async () => {
      ctx.status.done();
      if (o.cancelOnInterrupt) {
        const job = await client.trainingJobs.cancel(id);
        return new Exit(jobSummary(job), INTERRUPTED_EXIT, `interrupted: asked to cancel job ${id} (now ${job.status})`);
      }
      return new Exit(last ? jobSummary(last) : { job_id: id }, INTERRUPTED_EXIT, `interrupted: job ${id} keeps running; follow it with: cocoop remote jobs events ${id} --follow`);
    },
  );
}

export const JOB_COMMANDS: RemoteCommand[] = [
  {
    spec: { words: ['jobs', 'list'], summary: 'your training jobs, newest first', options: LIST_OPTIONS, notes: [LIST_NOTE] },
    run: (ctx) => listResult(ctx, (p) => ctx.client().trainingJobs.list(p)),
  },
  {
    spec: { words: ['jobs', 'get'], summary: 'one training job: status, progress, metrics, result, model id', positionals: [JOB_ID], options: {} },
    run: (ctx) => ctx.client().trainingJobs.retrieve(ctx.positionals[0]!),
  },
  {
    spec: {
      words: ['jobs', 'cancel'],
      summary: 'cancels a job: a queued one at once, a running one goes "cancelling" until its worker stops',
      positionals: [JOB_ID],
      options: {},
      notes: ['Output: the job after the request. A job already succeeded, failed or cancelled: error conflict.'],
    },
    run: (ctx) => ctx.client().trainingJobs.cancel(ctx.positionals[0]!),
  },
  {
    spec: {
      words: ['jobs', 'events'],
      summary: "a job's event log, oldest first; --follow: until the job ends, with its progress",
      positionals: [JOB_ID],
      options: {
        after: { type: 'string', value: 'EVENT_ID', help: 'only the events after this one' },
        follow: { type: 'boolean', help: 'keep reading until the job succeeded, failed or was cancelled, showing its progress on stderr' },
        'cancel-on-interrupt': { type: 'boolean', help: 'with --follow: Ctrl-C cancels the job (default: it keeps running)' },
      },
      notes: [
        'Output: {"data": [events]}; with --follow: the outcome as `train --wait` prints it, with "events": [every event shown].',
        FOLLOW_NOTE,
        'With --follow, a job that failed or was cancelled exits 1 (its outcome still on stdout); Ctrl-C exits 130.',
      ],
    },
    async run(ctx) {
      const id = ctx.positionals[0]!;
      const after = stringOption(ctx.values, 'after');
      const client = ctx.client();
      if (ctx.values.follow !== true) return { data: await client.trainingJobs.events(id, { after, limit: 100 }).toArray() };
      const followed = await followWithProgress(ctx, client, id, { after, cancelOnInterrupt: ctx.values['cancel-on-interrupt'] === true });
      if (followed instanceof Exit) return followed;
      return followedOutcome(ctx, followed.job, { events: followed.events });
    },
  },
];
