// Argument parsing shared by the `cocoop` subcommands (node:util parseArgs, strict). Each subcommand
// describes its options once, in a CommandSpec: the parser, the required-option check and the help
// text (help.ts) are all made from it, so a flag cannot be accepted without being documented.
import { parseArgs } from 'node:util';

/** A wrong command line: reported as one line, exit code 2. */
export class UsageError extends Error {}

/** `--help` / `-h` was given: main prints the command's help on stdout and exits 0. */
export class HelpRequested extends Error {
  constructor(readonly spec: CommandSpec) {
    super(`${spec.name} --help`);
  }
}

export interface OptionDef {
  type: 'string' | 'boolean';
  /** May be repeated; the values are collected in order. */
  multiple?: boolean;
  /** Parsed value when the option is absent (shown in the help). */
  default?: string;
  /** Placeholder for the value in help and usage lines, e.g. DIR, N, "a,b,c". */
  value?: string;
  /** Missing (or empty) is a usage error. */
  required?: boolean;
  help: string;
}

export interface CommandSpec {
  name: string;
  /** One line: what the command does. */
  summary: string;
  options: Record<string, OptionDef>;
  /** Extra help lines (constraints between options, output shape). */
  notes?: string[];
}

/** Options every command accepts. */
export const COMMON_OPTIONS: Record<string, OptionDef> = {
  json: { type: 'boolean', help: 'exactly one JSON document on stdout (the output is JSON with or without it; logs go to stderr)' },
  help: { type: 'boolean', help: 'print this help and exit' },
};

export function allOptions(spec: CommandSpec): Record<string, OptionDef> {
  return { ...spec.options, ...COMMON_OPTIONS };
}

export type Values = Record<string, string | string[] | boolean | undefined>;

export function parseCommandArgs(spec: CommandSpec, argv: string[]): Values {
  const options = Object.fromEntries(
    Object.entries(allOptions(spec)).map(([name, d]) => [
      name,
      { type: d.type, ...(d.multiple ? { multiple: true } : {}), ...(d.default !== undefined ? { default: d.default } : {}), ...(name === 'help' ? { short: 'h' } : {}) },
    ]),
  );
  let values: Values;
  try {
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Values;
  } catch (e) {
    throw new UsageError(`${spec.name}: ${(e as Error).message.split('\n')[0]} (try: cocoop ${spec.name} --help)`);
  }
  if (values.help === true) throw new HelpRequested(spec);
  for (const [name, d] of Object.entries(spec.options)) {
    const v = values[name];
    if (d.required && (v === undefined || v === '' || (Array.isArray(v) && v.length === 0))) {
      throw new UsageError(`${spec.name}: --${name} is required (try: cocoop ${spec.name} --help)`);
    }
  }
  return values;
}

export function requireString(values: Values, name: string, command: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`${command}: --${name} is required`);
  return v;
}

export function optionalString(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

export function stringList(values: Values, name: string): string[] {
  const v = values[name];
  if (v === undefined) return [];
  return Array.isArray(v) ? (v as string[]) : [v as string];
}

/** An integer option ≥ `min` (its default, when absent, comes from the spec); a usage error naming the option otherwise. */
export function intOption(values: Values, name: string, command: string, min: number): number {
  const raw = values[name];
  if (raw === undefined) throw new UsageError(`${command}: --${name} is required`);
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) throw new UsageError(`${command}: --${name} must be an integer ≥ ${min}, got "${String(raw)}"`);
  return v;
}
