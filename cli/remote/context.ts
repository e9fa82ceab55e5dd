// What a `cocoop remote` command gets to run with, and what it may return besides its JSON output.
import { CoCoOp } from '../../sdk/src/node/index.ts';
import type { CommandSpec, Values } from './args.ts';
import { type Credentials, resolveCredentials } from './config.ts';
import { StatusLine } from './progress.ts';

export interface CommandContext {
  spec: CommandSpec;
  values: Values;
  positionals: string[];
  /** The SDK client for the credentials of the options / environment / config file (resolved on first use). */
  client(): CoCoOp;
  /** Progress and notes on stderr. */
  status: StatusLine;
}

export interface RemoteCommand {
  spec: CommandSpec;
  /** The JSON-able result printed on stdout, or an Exit for another exit code. */
  run(ctx: CommandContext): Promise<unknown>;
}

/** A result with an exit code other than 0: `output` still goes to stdout, `message` (one line) to stderr. */
export class Exit {
  constructor(
    readonly output: unknown,
    readonly code: number,
    readonly message?: string,
  ) {}
}

/** Makes the context's client once; `onCredentials` learns the base URL (for error messages). */
export function makeContext(spec: CommandSpec, values: Values, positionals: string[], onCredentials: (c: Credentials) => void): CommandContext {
  let client: CoCoOp | undefined;
  return {
    spec,
    values,
    positionals,
    status: new StatusLine(),
    client() {
      if (!client) {
        const credentials = resolveCredentials(values);
        onCredentials(credentials);
        client = new CoCoOp({ baseURL: credentials.baseURL, apiKey: credentials.apiKey });
      }
      return client;
    },
  };
}
