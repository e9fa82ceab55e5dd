// The `cocoop` command (contract: CLI.md). Each subcommand returns a JSON-able result, printed as
// exactly one JSON document on stdout; logs go to stderr. Errors: one line on stderr, exit 1
// (2 for usage errors).
import { benchCommand } from './cli/bench.ts';
import { classifyCommand } from './cli/classify.ts';
import { embedCommand } from './cli/embed.ts';
import { evalCommand } from './cli/eval.ts';
import { makeModelCommand } from './cli/make-model.ts';
import { tokenizeCommand } from './cli/tokenize.ts';
import { trainCommand } from './cli/train.ts';
import { UsageError } from './cli/usage.ts';

type Command = (argv: string[]) => Promise<unknown>;

const COMMANDS: Record<string, Command> = {
  tokenize: tokenizeCommand,
  embed: embedCommand,
  'make-model': makeModelCommand,
  train: trainCommand,
  classify: classifyCommand,
  eval: evalCommand,
  bench: benchCommand,
};

const USAGE = `usage: cocoop <command> [options]
commands:
  tokenize   --model DIR --text T [--text T]...            CLIP BPE ids
  embed      --model DIR [--text T]... [--image PATH]... [--json]   CLIP features
  make-model --preset tiny|small|vit-b16 --seed N --out DIR [--vocab DIR]   random-weight CLIP
  train      --model DIR --data DIR --method cocoop|coop [--epochs N] [--shots K] [--lr X] [--batch-size B]
             [--n-ctx M | --ctx-init TEXT] [--seed S] [--checkpoint-dir DIR [--resume]] --out FILE.safetensors
  classify   --model DIR [--adapter FILE] --labels "a,b,c" --image PATH...
  eval       --model DIR [--adapter FILE] --data DIR [--labels "a,b,c"]
  bench      --model DIR | --preset tiny|small|vit-b16 --classes C --images N [--no-naive] [--no-naive-train] [--train-steps K]`;

function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    (name ? process.stdout : process.stderr).write(USAGE + '\n');
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`cocoop: unknown command "${name}" (try: cocoop --help)\n`);
    return 2;
  }
  try {
    const result = await command(rest);
    process.stdout.write(JSON.stringify(result) + '\n');
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`cocoop: ${oneLine(e.message)}\n`);
      return 2;
    }
    const err = e as Error;
    process.stderr.write(`cocoop: ${oneLine(err?.message ?? String(e))}\n`);
    if (process.env.COCOOP_DEBUG) process.stderr.write(`${err?.stack}\n`);
    return 1;
  }
}
