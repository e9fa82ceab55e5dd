// Every failure as the one line `cocoop remote` prints: `error: <code>: <message> (param)` for an API error answer,
// `error: <message>` otherwise.
import { APIConnectionError, APIError, APITimeoutError, APIUserAbortError } from '../../sdk/src/node/index.ts';

export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** The innermost Error of a cause chain (fetch's "fetch failed" wraps the socket's reason). */
function deepestCause(e: Error): Error {
  let inner = e;
  while (inner.cause instanceof Error) inner = inner.cause;
  return inner;
}

export function errorLine(e: unknown, baseURL?: string): string {
  const api = baseURL ? `the API at ${baseURL}` : 'the API';
  if (e instanceof APITimeoutError) return `error: ${api} did not answer: ${oneLine(e.message)}`;
  if (e instanceof APIConnectionError) return `error: cannot reach ${api}: ${oneLine(deepestCause(e).message)}`;
  if (e instanceof APIError) {
    if (e.error) return `error: ${e.error.code}: ${oneLine(e.error.message)}${e.error.param ? ` (${e.error.param})` : ''}`;
    return `error: HTTP ${e.status}: ${oneLine(e.message.replace(/^\d+ error: /, ''))}`;
  }
  if (e instanceof APIUserAbortError) return 'error: interrupted';
  return `error: ${oneLine(e instanceof Error ? e.message : String(e))}`;
}
