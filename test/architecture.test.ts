// The layout's rules (docs/ARCHITECTURE.md, "Dependency rules"), checked on every source file's imports:
// a change that makes the edge import the GPU side (or the reverse), puts SQL in a route file, or grows a
// source file — or a test file, or a hand-written SDK file — past 500 lines fails here with the file named
// (the generated SDK types are exempt: they are written by the generator).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE_DIRS = ['edge', 'gpu-worker', 'shared', 'lab', 'scripts', 'bin', 'cli', 'console'];

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'dist' || name === 'node_modules') return [];
    return statSync(path).isDirectory() ? walk(path) : /\.(ts|tsx|mjs)$/.test(name) ? [path] : [];
  });
}

const files = SOURCE_DIRS.flatMap((d) => walk(join(ROOT, d))).map((abs) => relative(ROOT, abs));

/** Repo-relative targets of the file's relative imports (static and dynamic). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"](\.{1,2}\/[^'"]+)['"]/g)) {
    out.push(relative(ROOT, resolve(ROOT, dirname(file), m[1])));
  }
  return out;
}

const top = (path: string) => path.split('/')[0];

/** Which top-level folders each folder may import from (itself always). */
const ALLOWED: Record<string, string[]> = {
  shared: [],
  edge: ['shared'],
  'gpu-worker': ['shared'],
  lab: ['gpu-worker', 'shared'],
  scripts: ['edge', 'gpu-worker', 'shared', 'lab', 'scripts'],
  bin: ['gpu-worker', 'scripts', 'edge', 'cli'],
  // The customers' command line of the hosted API (cocoop remote): the SDK only.
  cli: ['sdk'],
  // The web console (docs/console.md): a browser bundle of the SDK's core and its own libraries (Preact, uPlot).
  console: ['sdk'],
};

describe('the layout', () => {
  it('finds the source tree (the checks below have files to check)', () => {
    expect(files.filter((f) => f.startsWith('edge/')).length).toBeGreaterThan(30);
    expect(files.filter((f) => f.startsWith('gpu-worker/')).length).toBeGreaterThan(30);
    expect(files.filter((f) => f.startsWith('shared/')).length).toBeGreaterThan(5);
    expect(files.filter((f) => f.startsWith('cli/')).length).toBeGreaterThan(5);
    expect(files.filter((f) => f.startsWith('console/') && f.endsWith('.tsx')).length).toBeGreaterThan(5);
  });

  it('imports follow the dependency rules: edge and gpu-worker meet only in shared/, shared/ imports neither, the lab is not imported by the product', () => {
    const broken: string[] = [];
    for (const file of files) {
      const from = top(file);
      for (const target of importsOf(file)) {
        const to = top(target);
        if (to !== from && !ALLOWED[from].includes(to)) broken.push(`${file} imports ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('route files hold no SQL (queries live in the domain modules)', () => {
    const withSql = files.filter((f) => f.startsWith('edge/routes/') && /\.prepare\(/.test(readFileSync(join(ROOT, f), 'utf8')));
    expect(withSql).toEqual([]);
  });

  it('no source, test or hand-written SDK file is over 500 lines', () => {
    const tests = walk(join(ROOT, 'test')).map((abs) => relative(ROOT, abs));
    const sdk = walk(join(ROOT, 'sdk')).map((abs) => relative(ROOT, abs)).filter((f) => !f.startsWith('sdk/src/generated/'));
    const long = [...files, ...tests, ...sdk]
      .map((f) => ({ f, lines: readFileSync(join(ROOT, f), 'utf8').split('\n').length }))
      .filter((x) => x.lines > 500)
      .map((x) => `${x.f}: ${x.lines} lines`);
    expect(long).toEqual([]);
  });
});
