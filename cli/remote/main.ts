// `cocoop remote <command>`: the hosted API from the command line, through the TypeScript SDK (sdk/). Contract
// (docs/CLI.md, "remote"): one JSON document on stdout, progress and notes on stderr, errors as one line on stderr with
// exit 1 (2 for a wrong command line); COCOOP_DEBUG=1 adds the stack trace.
import { HelpRequested, UsageError, parseCommand } from './args.ts';
import { COMMANDS } from './commands/index.ts';
import { type CommandContext, Exit, makeContext, type RemoteCommand } from './context.ts';
import { errorLine, oneLine } from './errors.ts';
import { commandHelp, groupHelp, mainHelp } from './help.ts';

export { COMMANDS };

const HELP_WORDS = ['--help', '-h', 'help'];

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, process.stdout.isTTY ? 2 : undefined)}\n`);
}

/** The command named by the first words of `argv` (two-word commands first), and the arguments after them. */
function findCommand(argv: string[]): { command: RemoteCommand; rest: string[] } | undefined {
  for (const n of [2, 1]) {
    const command = COMMANDS.find((c) => c.spec.words.length === n && c.spec.words.every((w, i) => argv[i] === w));
    if (command) return { command, rest: argv.slice(n) };
  }
  return undefined;
}

export async function runRemote(argv: string[]): Promise<number> {
  const specs = COMMANDS.map((c) => c.spec);
  if (argv.length === 0 || HELP_WORDS.includes(argv[0]!)) {
    (argv.length ? process.stdout : process.stderr).write(`${mainHelp(specs)}\n`);
    return argv.length ? 0 : 2;
  }
  let baseURL: string | undefined;
  let ctx: CommandContext | undefined;
  try {
    const found = findCommand(argv);
    if (!found) {
      const group = specs.filter((s) => s.words.length === 2 && s.words[0] === argv[0]);
      if (group.length > 0 && (argv[1] === undefined || HELP_WORDS.includes(argv[1]))) {
        (argv[1] ? process.stdout : process.stderr).write(`${groupHelp(argv[0]!, group)}\n`);
        return argv[1] ? 0 : 2;
      }
      const words = group.length > 0 ? `${argv[0]} ${argv[1]}` : argv[0];
      throw new UsageError(`cocoop remote: unknown command "${words}" (try: cocoop remote ${group.length > 0 ? `${argv[0]} ` : ''}--help)`);
    }
    const { command, rest } = found;
    const { values, positionals } = parseCommand(command.spec, rest);
    ctx = makeContext(command.spec, values, positionals, (c) => (baseURL = c.baseURL));
    const result = await command.run(ctx);
    ctx.status.done();
    if (result instanceof Exit) {
      if (result.output !== undefined) print(result.output);
      if (result.message) process.stderr.write(`${oneLine(result.message)}\n`);
      return result.code;
    }
    print(result);
    return 0;
  } catch (e) {
    ctx?.status.done();
    if (e instanceof HelpRequested) {
      process.stdout.write(`${commandHelp(e.spec)}\n`);
      return 0;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`${oneLine(e.message)}\n`);
      return 2;
    }
    process.stderr.write(`${errorLine(e, baseURL)}\n`);
    if (process.env.COCOOP_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
    return 1;
  }
}
