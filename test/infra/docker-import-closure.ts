// The source files an entry point loads (relative imports, static and dynamic with a literal path, followed
// transitively) and the packages they import: what an image must contain for its CMD to start.
import { builtinModules } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { ROOT } from '../helpers/processes.ts';

const IMPORT = /(?:from\s+|import\s*\(\s*|import\s+|require\(\s*)['"]([^'"]+)['"]/g;

/** The package a bare specifier names (`@scope/name/sub` → `@scope/name`), or null for a relative or built-in one. */
function packageOf(spec: string): string | null {
  if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0]!)) return null;
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
}

/** `entries`: posix paths from the repository root (e.g. gpu-worker/worker-process.ts). */
export function importClosure(entries: string[]): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [...entries];
  while (queue.length) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    if (!existsSync(join(ROOT, file))) throw new Error(`${file} does not exist (imported on the way from ${entries.join(', ')})`);
    files.add(file);
    for (const m of stripComments(readFileSync(join(ROOT, file), 'utf8')).matchAll(IMPORT)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) queue.push(posix.normalize(posix.join(dirname(file), spec)));
      else {
        const pkg = packageOf(spec);
        if (pkg) packages.add(pkg);
      }
    }
  }
  return { files: [...files].sort(), packages: [...packages].sort() };
}
