// Pieces several `cocoop remote` commands share: list paging options, id arguments, Ctrl-C handling.
import type { CursorList, PageParams } from '../../../sdk/src/node/index.ts';
import { intOption, stringOption, type OptionDef, type PositionalDef } from '../args.ts';
import type { CommandContext } from '../context.ts';

export const LIST_OPTIONS: Record<string, OptionDef> = {
  limit: { type: 'string', value: 'N', default: '20', help: 'items per page, 1..100' },
  after: { type: 'string', value: 'ID', help: 'start after this id (the last id of the previous page)' },
  all: { type: 'boolean', help: 'every item, fetching page after page (then has_more is false)' },
};

export const LIST_NOTE = 'Output: {"data": [...], "has_more": boolean}, newest first; the next page: --after <last id>.';

export function idArgument(name: string, what: string): PositionalDef {
  return { name, help: what };
}

/** One page (or, with --all, every page) of a list, as the API answers it. */
export async function listResult<T extends { id: string }>(ctx: CommandContext, list: (params: PageParams) => CursorList<T>): Promise<{ data: T[]; has_more: boolean }> {
  const limit = intOption(ctx.values, 'limit', ctx.spec, 1, 100);
  const after = stringOption(ctx.values, 'after');
  if (ctx.values.all === true) return { data: await list({ limit: limit ?? 100, after }).toArray(), has_more: false };
  const page = await list({ limit, after }).page();
  return { data: page.data, has_more: page.hasMore };
}

/**
 * Runs `work` with a signal that Ctrl-C (SIGINT) aborts; `interrupted` then says what to do instead. A second Ctrl-C
 * ends the process at once (the handler is gone by then).
 */
export async function interruptible<T, R>(work: (signal: AbortSignal) => Promise<T>, interrupted: () => Promise<R>): Promise<T | R> {
  const controller = new AbortController();
  const onSigint = () => {
    process.removeListener('SIGINT', onSigint);
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    return await work(controller.signal);
  } catch (e) {
    if (controller.signal.aborted) return interrupted();
    throw e;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

/** The exit code of a command stopped by Ctrl-C (128 + SIGINT), as shells report it. */
export const INTERRUPTED_EXIT = 130;
