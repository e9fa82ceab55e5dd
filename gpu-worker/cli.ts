// The `cocoop` command (contract: CLI.md). Each subcommand returns a JSON-able result, printed as
// exactly one JSON document on stdout; logs go to stderr. Errors: one line on stderr, exit 1
// (2 for usage errors); COCOOP_DEBUG=1 adds the stack trace. `cocoop --help` and
// `cocoop <command> --help` are made from the commands' option specs (cli/help.ts).
import { checkOrtProviderSetting } from './runtime/ort.ts';
import { benchCommand, benchSpec } from './cli/bench.ts';
import { classifyCommand, classifySpec } from './cli/classify.ts';
import { embedCommand, embedSpec } from './cli/embed.ts';
import { evalCommand, evalSpec } from './cli/eval.ts';
import { commandHelp, mainHelp } from './cli/help.ts';
import { makeModelCommand, makeModelSpec } from './cli/make-model.ts';
import { tokenizeCommand, tokenizeSpec } from './cli/tokenize.ts';
import { trainCommand, trainSpec } from './cli/train.ts';
import { HelpRequested, UsageError, type CommandSpec } from './cli/usage.ts';

export interface Command {
  spec: CommandSpec;
  run: (argv: string[]) => Promise<unknown>;
}

export const COMMANDS: Command[] = [
  { spec: tokenizeSpec, run: tokenizeCommand },
  { spec: embedSpec, run: embedCommand },
  { spec: makeModelSpec, run: makeModelCommand },
  { spec: trainSpec, run: trainCommand },
  { spec: classifySpec, run: classifyCommand },
  { spec: evalSpec, run: evalCommand },
  { spec: benchSpec, run: benchCommand },
];

export const USAGE = mainHelp(COMMANDS.map((c) => c.spec));

function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    (name ? process.stdout : process.stderr).write(USAGE + '\n');
    return name ? 0 : 2;
  }
  const command = COMMANDS.find((c) => c.spec.name === name);
  if (!command) {
    process.stderr.write(`cocoop: unknown command "${name}" (try: cocoop --help)\n`);
    return 2;
  }
  try {
    checkOrtProviderSetting();
    const result = await command.run(rest);
    process.stdout.write(JSON.stringify(result) + '\n');
    return 0;
  } catch (e) {
    if (e instanceof HelpRequested) {
      process.stdout.write(commandHelp(e.spec) + '\n');
      return 0;
    }
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
