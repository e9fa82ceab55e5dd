// The command line of `cocoop remote`: every subcommand describes its arguments and options once, in a CommandSpec;
// the parser (node:util parseArgs, strict), the required-argument checks and the help text (help.ts) are all made from
// it, so a flag cannot be accepted without being documented.
import { parseArgs } from 'node:util';

/** A wrong command line: reported as one line, exit code 2. */
export class UsageError extends Error {}

/** A failure that is not the API's (a missing key, a bad folder, a file that cannot be written): one line, exit 1. */
export class CliError extends Error {}

/** `--help` / `-h` was given: the command's help goes to stdout, exit 0. */
export class HelpRequested extends Error {
  constructor(readonly spec: CommandSpec) {
    super(`${spec.words.join(' ')} --help`);
  }
}

export interface OptionDef {
  type: 'string' | 'boolean';
  /** May be repeated; the values are collected in order. */
  multiple?: boolean;
  /** Placeholder for the value in help and usage lines, e.g. N, URL, "a,b,c". */
  value?: string;
  /** Missing (or empty) is a usage error. */
  required?: boolean;
  /** What the API (or the command) uses when the option is absent, for the help only. */
  default?: string;
  help: string;
}

export interface PositionalDef {
  /** Placeholder in help and usage lines, e.g. JOB_ID. */
  name: string;
  help: string;
  optional?: boolean;
  /** Takes every remaining positional (the last one only). */
  multiple?: boolean;
}

export interface CommandSpec {
  /** The words after `cocoop remote`, e.g. ['jobs', 'list']. */
  words: string[];
  /** One line: what the command does. */
  summary: string;
  positionals?: PositionalDef[];
  options: Record<string, OptionDef>;
  /** Does not call the API: no --base-url / --api-key (login and logout declare their own). */
  offline?: boolean;
  /** Extra help lines (constraints between options, output shape). */
  notes?: string[];
}

/** Where the API is and who calls it: every command that calls the API accepts these. */
export const CONNECTION_OPTIONS: Record<string, OptionDef> = {
  'base-url': { type: 'string', value: 'URL', help: 'the API, e.g. https://api.example.com (default: $COCOOP_BASE_URL, else the config file of `cocoop remote login`)' },
  'api-key': { type: 'string', value: 'KEY', help: 'a tenant API key (default: $COCOOP_API_KEY, else the config file); never printed' },
};

/** Options every command accepts. */
export const COMMON_OPTIONS: Record<string, OptionDef> = {
  json: { type: 'boolean', help: 'exactly one JSON document on stdout (the output is JSON with or without it; progress goes to stderr)' },
  help: { type: 'boolean', help: 'print this help and exit' },
};

export function allOptions(spec: CommandSpec): Record<string, OptionDef> {
  return { ...spec.options, ...(spec.offline ? {} : CONNECTION_OPTIONS), ...COMMON_OPTIONS };
}

export function commandName(spec: CommandSpec): string {
  return `cocoop remote ${spec.words.join(' ')}`;
}

export type Values = Record<string, string | string[] | boolean | undefined>;

export interface ParsedArgs {
  values: Values;
  positionals: string[];
}

export function parseCommand(spec: CommandSpec, argv: string[]): ParsedArgs {
  const name = commandName(spec);
  const options = Object.fromEntries(
    Object.entries(allOptions(spec)).map(([key, d]) => [key, { type: d.type, ...(d.multiple ? { multiple: true } : {}), ...(key === 'help' ? { short: 'h' } : {}) }]),
  );
  let parsed: ParsedArgs;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: true }) as ParsedArgs;
  } catch (e) {
    // parseArgs adds advice on positionals starting with "-" after its first sentence: keep the first.
    const first = (e as Error).message.split('\n')[0]!.split(/(?<=\.) /)[0]!.replace(/\.$/, '');
    throw new UsageError(`${name}: ${first} (try: ${name} --help)`);
  }
  if (parsed.values.help === true) throw new HelpRequested(spec);
  for (const [key, d] of Object.entries(spec.options)) {
    const v = parsed.values[key];
    if (d.required && (v === undefined || v === '' || (Array.isArray(v) && v.length === 0))) {
      throw new UsageError(`${name}: --${key} is required (try: ${name} --help)`);
    }
  }
  const defs = spec.positionals ?? [];
  const min = defs.filter((p) => !p.optional).length;
  const max = defs.at(-1)?.multiple ? Infinity : defs.length;
  const got = parsed.positionals.length;
  if (got < min) throw new UsageError(`${name}: ${defs[got]!.name} is missing (try: ${name} --help)`);
  if (got > max) throw new UsageError(`${name}: unexpected argument "${parsed.positionals[max]}" (try: ${name} --help)`);
  return parsed;
}

// ---- typed option values ------------------------------------------------------------------------------------------

export function stringOption(values: Values, key: string): string | undefined {
  const v = values[key];
  return typeof v === 'string' ? v : undefined;
}

export function listOption(values: Values, key: string): string[] {
  const v = values[key];
  if (v === undefined || typeof v === 'boolean') return [];
  return Array.isArray(v) ? v : [v];
}

/** Values of a repeatable option, each also split at commas, trimmed, empties dropped. */
export function commaList(values: Values, key: string): string[] {
  return listOption(values, key)
    .flatMap((v) => v.split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** An integer option in [min, max] (undefined when absent); a usage error naming the option otherwise. */
export function intOption(values: Values, key: string, spec: CommandSpec, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = stringOption(values, key);
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(v) || v < min || v > max) {
    throw new UsageError(`${commandName(spec)}: --${key} must be an integer${max === Number.MAX_SAFE_INTEGER ? ` ≥ ${min}` : ` in ${min}..${max}`}, got "${raw}"`);
  }
  return v;
}

/** A number option (undefined when absent); the API checks its range. */
export function numberOption(values: Values, key: string, spec: CommandSpec): number | undefined {
  const raw = stringOption(values, key);
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v)) throw new UsageError(`${commandName(spec)}: --${key} must be a number, got "${raw}"`);
  return v;
}

/** `--key` given as a one-of value. */
export function choiceOption<T extends string>(values: Values, key: string, spec: CommandSpec, choices: readonly T[]): T | undefined {
  const raw = stringOption(values, key);
  if (raw === undefined) return undefined;
  if (!(choices as readonly string[]).includes(raw)) throw new UsageError(`${commandName(spec)}: --${key} must be one of ${choices.join(', ')}, got "${raw}"`);
  return raw as T;
}
