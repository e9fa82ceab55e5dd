// `cocoop remote evaluations create|get|list`: a model (or zero-shot CLIP) scored on a ready dataset.
import type { CoCoOp, Evaluation } from '../../../sdk/src/node/index.ts';
import { commaList, stringOption } from '../args.ts';
import { type CommandContext, Exit, type RemoteCommand } from '../context.ts';
import { INTERRUPTED_EXIT, LIST_NOTE, LIST_OPTIONS, idArgument, interruptible, listResult } from './shared.ts';

const WAIT_OPTION = { type: 'boolean', help: 'wait until the evaluation succeeded or failed (polls every second)' } as const;
const WAIT_NOTE = 'With --wait, an evaluation that failed exits 1 (its JSON still on stdout); Ctrl-C stops waiting (exit 130), not the evaluation.';

function summaryLine(e: Evaluation): string | undefined {
  if (!e.result) return undefined;
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  return `evaluation ${e.id}: accuracy ${pct(e.result.accuracy)} vs zero-shot CLIP ${pct(e.result.zero_shot_accuracy)} on ${e.result.n} images`;
}

async function waitFor(ctx: CommandContext, client: CoCoOp, id: string): Promise<Evaluation | Exit> {
  ctx.status.note(`waiting for evaluation ${id}`);
  const done = await interruptible(
    (signal) => client.evaluations.wait(id, { signal }),
    async () => new Exit({ id }, INTERRUPTED_EXIT, `interrupted: evaluation ${id} keeps running; see it with: cocoop remote evaluations get ${id} --wait`),
  );
  if (done instanceof Exit) return done;
  const line = summaryLine(done);
  if (line) ctx.status.note(line);
  if (done.status === 'failed') return new Exit(done, 1, `error: evaluation ${id} failed${done.error ? `: ${done.error.code}: ${done.error.message}` : ''}`);
  return done;
}

export const EVALUATION_COMMANDS: RemoteCommand[] = [
  {
    spec: {
      words: ['evaluations', 'create'],
      summary: 'scores a model (or zero-shot CLIP) on a ready dataset: accuracy vs zero-shot, per class, confusion',
      options: {
        model: { type: 'string', value: 'MODEL_ID', required: true, help: 'a model id (mdl_…), or zero-shot' },
        dataset: { type: 'string', value: 'ID', required: true, help: 'a ready dataset: its images and labels are the test set' },
        labels: { type: 'string', value: '"a,b,c"', multiple: true, help: "the labels to classify against (default: the dataset's classes; must include them all)" },
        wait: WAIT_OPTION,
      },
      notes: ['Output: the evaluation (queued; with --wait, final with its result).', WAIT_NOTE],
    },
    async run(ctx) {
      const labels = commaList(ctx.values, 'labels');
      const client = ctx.client();
      const evaluation = await client.evaluations.create({
        model: stringOption(ctx.values, 'model')!,
        dataset_id: stringOption(ctx.values, 'dataset')!,
        ...(labels.length > 0 ? { labels } : {}),
      });
      return ctx.values.wait === true ? waitFor(ctx, client, evaluation.id) : evaluation;
    },
  },
  {
    spec: {
      words: ['evaluations', 'get'],
      summary: 'one evaluation: status, result',
      positionals: [idArgument('EVALUATION_ID', 'an evaluation id (eval_…)')],
      options: { wait: WAIT_OPTION },
      notes: [WAIT_NOTE],
    },
    async run(ctx) {
      const client = ctx.client();
      return ctx.values.wait === true ? waitFor(ctx, client, ctx.positionals[0]!) : client.evaluations.retrieve(ctx.positionals[0]!);
    },
  },
  {
    spec: { words: ['evaluations', 'list'], summary: 'your evaluations, newest first', options: LIST_OPTIONS, notes: [LIST_NOTE] },
    run: (ctx) => listResult(ctx, (p) => ctx.client().evaluations.list(p)),
  },
];
