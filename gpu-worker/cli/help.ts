// Help text of the `cocoop` command and its subcommands, made from the same CommandSpecs the parser
// uses (usage.ts).
import { allOptions, type CommandSpec, type OptionDef } from './usage.ts';

function flag(name: string, d: OptionDef): string {
  return d.type === 'boolean' ? `--${name}` : `--${name} ${d.value ?? 'VALUE'}`;
}

/** The usage words: required options bare, the others in brackets, repeatable ones with "...". */
function synopsisParts(spec: CommandSpec): string[] {
  const parts = Object.entries(spec.options).map(([name, d]) => {
    const f = flag(name, d) + (d.multiple ? '...' : '');
    return d.required ? f : `[${f}]`;
  });
  return [...parts, '[--json]'];
}

/** Joins words into lines of at most `width` characters (a word longer than that gets its own line). */
function wrap(words: string[], first: string, indent: string, width = 110): string[] {
  const lines: string[] = [];
  let line = first;
  for (const w of words) {
    const sep = line === first || line === indent ? '' : ' ';
    if (line.length + sep.length + w.length > width && line !== first && line !== indent) {
      lines.push(line);
      line = indent + w;
    } else line += sep + w;
  }
  lines.push(line);
  return lines;
}

function describe(name: string, d: OptionDef): string {
  const extras = [d.required ? 'required' : '', d.multiple ? 'repeatable' : '', d.default !== undefined ? `default ${d.default}` : '']
    .filter(Boolean)
    .join(', ');
  return extras ? `${d.help} (${extras})` : d.help;
}

export function commandHelp(spec: CommandSpec): string {
  const rows = Object.entries(allOptions(spec)).map(([name, d]) => [name === 'help' ? '-h, --help' : flag(name, d), describe(name, d)]);
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  return [
    ...wrap(synopsisParts(spec), `usage: cocoop ${spec.name} `, ' '.repeat(`usage: cocoop ${spec.name} `.length)),
    spec.summary,
    '',
    'options:',
    ...rows.map(([f, text]) => `  ${f.padEnd(width)}${text}`),
    ...(spec.notes?.length ? ['', ...spec.notes] : []),
  ].join('\n');
}

export function mainHelp(specs: CommandSpec[]): string {
  const width = Math.max(...specs.map((s) => s.name.length)) + 2;
  return [
    'usage: cocoop <command> [options]        cocoop <command> --help: that command\'s options',
    'commands:',
    ...specs.flatMap((s) => [`  ${s.name.padEnd(width)}${s.summary}`, ...wrap(synopsisParts(s), `  ${' '.repeat(width)}`, `  ${' '.repeat(width + 2)}`)]),
    '',
    'Output: one JSON document on stdout. Errors: one line on stderr, exit 1 (2 for a wrong command line);',
    'COCOOP_DEBUG=1 adds the stack trace.',
  ].join('\n');
}
