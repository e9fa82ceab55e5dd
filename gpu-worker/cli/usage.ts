// Argument parsing shared by the `cocoop` subcommands (node:util parseArgs, strict).
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A wrong command line: reported as one line, exit code 2. */
export class UsageError extends Error {}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export function parseCommandArgs<T extends OptionSpec>(command: string, argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options: { ...options, json: { type: 'boolean' } }, strict: true, allowPositionals: false })
      .values as Record<string, string | string[] | boolean | undefined>;
  } catch (e) {
    throw new UsageError(`${command}: ${(e as Error).message.split('\n')[0]}`);
  }
}

export function requireString(values: Record<string, unknown>, name: string, command: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`${command}: --${name} is required`);
  return v;
}

export function stringList(values: Record<string, unknown>, name: string): string[] {
  const v = values[name];
  if (v === undefined) return [];
  return Array.isArray(v) ? (v as string[]) : [v as string];
}

/** An integer option ≥ `min`, or `dflt` when absent; a usage error naming the option otherwise. */
export function intOption(values: Record<string, unknown>, name: string, command: string, dflt: number, min: number): number {
  const raw = values[name];
  if (raw === undefined) return dflt;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) throw new UsageError(`${command}: --${name} must be an integer ≥ ${min}, got "${String(raw)}"`);
  return v;
}
