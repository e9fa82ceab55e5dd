// `cocoop tokenize --model DIR --text T [--text T]...`: CLIP BPE ids with SOT/EOT, no padding.
import { join } from 'node:path';
import { ClipTokenizer } from '../clip/tokenizer.ts';
import { MODEL_DIR_HELP, TRUNCATE_OPTION } from './common-options.ts';
import { modelDirOption } from './paths.ts';
import { parseCommandArgs, stringList, type CommandSpec } from './usage.ts';

export const tokenizeSpec: CommandSpec = {
  name: 'tokenize',
  summary: 'CLIP BPE token ids of each prompt, with start/end-of-text, no padding',
  options: {
    model: { type: 'string', value: 'DIR', required: true, help: `${MODEL_DIR_HELP}; only its vocab.json and merges.txt are read` },
    text: { type: 'string', value: 'T', multiple: true, required: true, help: 'a prompt' },
    truncate: TRUNCATE_OPTION,
  },
  notes: ['Output: {"ids": number[][]}'],
};

export async function tokenizeCommand(argv: string[]): Promise<unknown> {
  const values = parseCommandArgs(tokenizeSpec, argv);
  const dir = modelDirOption(values, 'tokenize', ['vocab.json', 'merges.txt']);
  const texts = stringList(values, 'text');
  const tokenizer = ClipTokenizer.fromFiles(join(dir, 'vocab.json'), join(dir, 'merges.txt'));
  return { ids: texts.map((t) => tokenizer.encode(t, { truncate: values.truncate === true })) };
}
