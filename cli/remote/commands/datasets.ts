// `cocoop remote datasets list|get|delete`.
import type { RemoteCommand } from '../context.ts';
import { LIST_NOTE, LIST_OPTIONS, idArgument, listResult } from './shared.ts';

const DATASET_ID = idArgument('DATASET_ID', 'a dataset id (ds_…)');

export const DATASET_COMMANDS: RemoteCommand[] = [
  {
    spec: { words: ['datasets', 'list'], summary: 'your datasets, newest first', options: LIST_OPTIONS, notes: [LIST_NOTE] },
    run: (ctx) => listResult(ctx, (p) => ctx.client().datasets.list(p)),
  },
  {
    spec: { words: ['datasets', 'get'], summary: 'one dataset: status, image count, classes', positionals: [DATASET_ID], options: {} },
    run: (ctx) => ctx.client().datasets.retrieve(ctx.positionals[0]!),
  },
  {
    spec: {
      words: ['datasets', 'delete'],
      summary: 'deletes a dataset and its stored images (refused while an unfinished job or evaluation uses it)',
      positionals: [DATASET_ID],
      options: {},
      notes: ['Output: {"id": DATASET_ID, "deleted": true}'],
    },
    async run(ctx) {
      const id = ctx.positionals[0]!;
      await ctx.client().datasets.delete(id);
      return { id, deleted: true };
    },
  },
];
