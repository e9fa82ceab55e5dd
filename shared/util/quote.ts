// Echoing caller-supplied ids in error messages.

/** An id for an error message: JSON-quoted, and cut at 64 characters when absurdly long. */
export function quoteId(id: string): string {
  return JSON.stringify(id.length > 64 ? `${id.slice(0, 64)}…` : id);
}
