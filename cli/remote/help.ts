// Help texts of `cocoop remote`, its command groups and each command, made from the CommandSpecs the parser uses
// (args.ts).
import { allOptions, commandName, type CommandSpec, type OptionDef, type PositionalDef } from './args.ts';

const WIDTH = 110;

function flag(key: string, d: OptionDef): string {
  return d.type === 'boolean' ? `--${key}` : `--${key} ${d.value ?? 'VALUE'}`;
}

function positionalWord(p: PositionalDef): string {
  const word = p.name + (p.multiple ? '...' : '');
  return p.optional ? `[${word}]` : word;
}

/** The usage words: positionals, required options bare, the others in brackets, repeatable ones with "...". */
function synopsisParts(spec: CommandSpec): string[] {
  const options = Object.entries(allOptions(spec))
    .filter(([key]) => key !== 'help')
    .map(([key, d]) => {
      const f = flag(key, d) + (d.multiple ? '...' : '');
      return d.required ? f : `[${f}]`;
    });
  return [...(spec.positionals ?? []).map(positionalWord), ...options];
}

/** Joins words into lines of at most WIDTH characters (a longer word gets its own line). */
function wrap(words: string[], first: string, indent: string): string[] {
  const lines: string[] = [];
  let line = first;
  for (const w of words) {
    const empty = line === first || line === indent;
    if (!empty && line.length + 1 + w.length > WIDTH) {
      lines.push(line);
      line = indent + w;
    } else line += (empty ? '' : ' ') + w;
  }
  lines.push(line);
  return lines;
}

function describe(d: OptionDef): string {
  const extras = [d.required ? 'required' : '', d.multiple ? 'repeatable' : '', d.default !== undefined ? `default ${d.default}` : ''].filter(Boolean).join(', ');
  return extras ? `${d.help} (${extras})` : d.help;
}

function table(rows: [string, string][]): string[] {
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, text]) => `  ${left.padEnd(width)}${text}`);
}

export function commandHelp(spec: CommandSpec): string {
  const head = `usage: ${commandName(spec)} `;
  const positionals = spec.positionals ?? [];
  return [
    ...wrap(synopsisParts(spec), head, ' '.repeat(head.length)),
    spec.summary,
    ...(positionals.length ? ['', 'arguments:', ...table(positionals.map((p) => [p.name, p.help]))] : []),
    '',
    'options:',
    ...table(Object.entries(allOptions(spec)).map(([key, d]) => [key === 'help' ? '-h, --help' : flag(key, d), describe(d)])),
    ...(spec.notes?.length ? ['', ...spec.notes] : []),
  ].join('\n');
}

/** One entry per command: its words and summary, then its synopsis indented. */
function listing(specs: CommandSpec[]): string[] {
  return specs.flatMap((s) => [`  ${s.words.join(' ')}  ${s.summary}`, ...wrap(synopsisParts(s), '      ', '        ')]);
}

const FOOTER = [
  '',
  'Credentials: --base-url / --api-key, else $COCOOP_BASE_URL / $COCOOP_API_KEY, else the config file written by',
  '`cocoop remote login` ($XDG_CONFIG_HOME/cocoop/config.json, default ~/.config/cocoop/config.json, mode 0600).',
  'Output: one JSON document on stdout; progress and notes on stderr. Errors: one line on stderr, exit 1',
  '(2 for a wrong command line); COCOOP_DEBUG=1 adds the stack trace.',
];

export function mainHelp(specs: CommandSpec[]): string {
  return [
    'usage: cocoop remote <command> [arguments] [options]     cocoop remote <command> --help: that command in full',
    'The hosted CoCoOp API from the command line (through the TypeScript SDK, sdk/).',
    'commands:',
    ...listing(specs),
    ...FOOTER,
  ].join('\n');
}

/** `cocoop remote jobs --help`: the commands of one group. */
export function groupHelp(group: string, specs: CommandSpec[]): string {
  return [`usage: cocoop remote ${group} <command> [arguments] [options]`, 'commands:', ...listing(specs), ...FOOTER].join('\n');
}
