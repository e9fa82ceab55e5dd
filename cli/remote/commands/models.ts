// `cocoop remote models list|get|download|delete`.
import { createHash } from 'node:crypto';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { CliError, stringOption } from '../args.ts';
import type { RemoteCommand } from '../context.ts';
import { formatBytes } from '../progress.ts';
import { LIST_NOTE, LIST_OPTIONS, idArgument, listResult } from './shared.ts';

const MODEL_ID = idArgument('MODEL_ID', 'a model id (mdl_…)');

/** Checks `--out` before the download: not a folder, in a folder that exists. */
function outputPath(out: string): string {
  const path = resolve(out);
  if (existsSync(path) && statSync(path).isDirectory()) throw new CliError(`--out ${out} is a folder: give a file name (e.g. ${out}/adapter.safetensors)`);
  if (!existsSync(dirname(path))) throw new CliError(`--out ${out}: the folder ${dirname(path)} does not exist`);
  return path;
}

export const MODEL_COMMANDS: RemoteCommand[] = [
  {
    spec: { words: ['models', 'list'], summary: 'your models (published adapters), newest first', options: LIST_OPTIONS, notes: [LIST_NOTE] },
    run: (ctx) => listResult(ctx, (p) => ctx.client().models.list(p)),
  },
  {
    spec: { words: ['models', 'get'], summary: 'one model: method, base model, classes, metrics, artifact size and sha256', positionals: [MODEL_ID], options: {} },
    run: (ctx) => ctx.client().models.retrieve(ctx.positionals[0]!),
  },
  {
    spec: {
      words: ['models', 'download'],
      summary: "downloads a model's adapter (safetensors), checked against the sha256 the API states",
      positionals: [MODEL_ID],
      options: { out: { type: 'string', value: 'FILE', required: true, help: 'where to write the adapter (e.g. adapter.safetensors; replaced if it exists)' } },
      notes: ['Output: {"id", "out", "bytes", "sha256"}. The adapter works with `cocoop classify --adapter FILE` on the same base model.'],
    },
    async run(ctx) {
      const id = ctx.positionals[0]!;
      const out = outputPath(stringOption(ctx.values, 'out')!);
      const client = ctx.client();
      const model = await client.models.retrieve(id);
      const bytes = await client.models.download(id);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      if (bytes.byteLength !== model.artifact.bytes || sha256 !== model.artifact.sha256) {
        throw new CliError(`the download of ${id} does not match the model (${bytes.byteLength} bytes, sha256 ${sha256}; expected ${model.artifact.bytes}, ${model.artifact.sha256}): nothing written`);
      }
      writeFileSync(out, bytes);
      ctx.status.note(`wrote ${out} (${formatBytes(bytes.byteLength)})`);
      return { id, out, bytes: bytes.byteLength, sha256 };
    },
  },
  {
    spec: { words: ['models', 'delete'], summary: 'deletes a model and its adapter', positionals: [MODEL_ID], options: {}, notes: ['Output: {"id": MODEL_ID, "deleted": true}'] },
    async run(ctx) {
      const id = ctx.positionals[0]!;
      await ctx.client().models.delete(id);
      return { id, deleted: true };
    },
  },
];
