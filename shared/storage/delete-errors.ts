// S3 DeleteObjects answers 200 even when single keys fail; both blob stores (Node SDK, Workers
// aws4fetch) report those per-key failures the same way. Missing keys are not failures.

export interface DeleteKeyError {
  key?: string | null;
  code?: string | null;
  message?: string | null;
}

/** Throws one error naming the first failed key (NoSuchKey entries are ignored). */
export function throwDeleteErrors(bucket: string, errors: DeleteKeyError[]): void {
  const failed = errors.filter((e) => e.code !== 'NoSuchKey');
  if (failed.length === 0) return;
  const first = failed[0];
  throw new Error(
    `S3 DeleteObjects ${bucket}/${first.key} failed: ${first.code}: ${first.message}` +
      (failed.length > 1 ? ` (and ${failed.length - 1} more keys)` : ''),
  );
}
