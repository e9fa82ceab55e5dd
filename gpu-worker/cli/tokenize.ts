// `cocoop tokenize --model DIR --text T [--text T]...`: CLIP BPE ids with SOT/EOT, no padding.
import { join } from 'node:path';
import { ClipTokenizer } from '../clip/tokenizer.ts';
import { parseCommandArgs, requireString, stringList, UsageError } from './usage.ts';

export async function tokenizeCommand(argv: string[]): Promise<unknown> {
  const values = parseCommandArgs('tokenize', argv, {
    model: { type: 'string' },
    text: { type: 'string', multiple: true },
    truncate: { type: 'boolean' },
  });
  const dir = requireString(values, 'model', 'tokenize');
  const texts = stringList(values, 'text');
  if (texts.length === 0) throw new UsageError('tokenize: give at least one --text');
  const tokenizer = ClipTokenizer.fromFiles(join(dir, 'vocab.json'), join(dir, 'merges.txt'));
  return { ids: texts.map((t) => tokenizer.encode(t, { truncate: values.truncate === true })) };
}
