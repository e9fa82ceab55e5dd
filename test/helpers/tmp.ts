// Temporary directories that are removed after the tests of the file (or describe block) that made them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/** Makes temporary directories on demand; all of them are removed in the enclosing suite's afterAll. */
export function useTmpDirs(prefix: string): () => string {
  const made: string[] = [];
  afterAll(() => {
    for (const d of made) rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    made.push(d);
    return d;
  };
}

/** One temporary directory, made now (at collection) and removed in the enclosing suite's afterAll. */
export function useTmpDir(prefix: string): string {
  return useTmpDirs(prefix)();
}
