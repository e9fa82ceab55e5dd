// The web console's files on Node: the folder scripts/build-console.ts writes (console/dist/site/console), read on
// request (a rebuild is served at once) and kept in memory per file until its size or mtime changes.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConsoleAssets, ConsoleFile } from '../ports.ts';

/** Where the build puts the console (relative to this file: <repo>/console/dist/site/console). */
export const BUILT_CONSOLE_DIR = fileURLToPath(new URL('../../console/dist/site/console/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export function fileConsoleAssets(dir: string = BUILT_CONSOLE_DIR): ConsoleAssets {
  const cache = new Map<string, { size: number; mtimeMs: number; bytes: Uint8Array; etag: string }>();
  return {
    async get(name: string): Promise<ConsoleFile | null> {
      const contentType = TYPES[extname(name)];
      if (!contentType || name.includes('/') || name.includes('\\') || name.startsWith('.')) return null;
      const path = join(dir, name);
      const st = await stat(path).catch(() => null);
      if (!st?.isFile()) return null;
      let entry = cache.get(name);
      if (!entry || entry.size !== st.size || entry.mtimeMs !== st.mtimeMs) {
        const bytes = new Uint8Array(await readFile(path));
        entry = { size: st.size, mtimeMs: st.mtimeMs, bytes, etag: `"${createHash('sha256').update(bytes).digest('hex').slice(0, 32)}"` };
        cache.set(name, entry);
      }
      return { body: entry.bytes, contentType, etag: entry.etag };
    },
  };
}
