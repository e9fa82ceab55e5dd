// Builds the web console (console/: Preact + uPlot, the SDK's browser core) into static files with esbuild:
//   console/dist/site/console/index.html, app.js, app.css, favicon.svg
// which the edge serves at /console on Node (edge/node/console-assets.ts reads that folder) and on Workers (the
// `[assets]` directory of infra/cloudflare/wrangler.toml is console/dist/site; its `[build]` command runs this script).
//
// Skipped when the files are up to date: the sha256 of every input (console/ sources, sdk/src, package-lock.json,
// this script) is kept in console/dist/stamp.json and compared. Several builders at once (parallel test files each
// starting `wrangler dev`) are safe: each builds into its own temporary folder, then renames every finished file into
// place (one rename per file, each atomic) and writes the stamp last.
//
// `npm run console:build` (add --force to build even when up to date). Called by `npm start` (scripts/start-local.ts)
// and by the console tests; no network: everything comes from node_modules.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CONSOLE = join(ROOT, 'console');
const DIST = join(CONSOLE, 'dist');
/** The folder the edge serves /console/* from (Workers: the assets directory is its parent, `site`). */
export const CONSOLE_SITE_DIR = join(DIST, 'site', 'console');
const STAMP = join(DIST, 'stamp.json');
/** The files a build writes, all served. */
export const CONSOLE_FILES = ['index.html', 'app.js', 'app.css', 'favicon.svg'] as const;

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (path === DIST || name === 'node_modules' || name === 'dist') return [];
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

/** The sha256 over every input of the build (paths and contents), in a stable order. */
export function consoleInputsHash(): string {
  const files = [...walk(CONSOLE), ...walk(join(ROOT, 'sdk/src')), join(ROOT, 'package-lock.json'), fileURLToPath(import.meta.url)].sort();
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(relative(ROOT, file)).update('\0');
    hash.update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex');
}

/** True when every output exists and the stamp names the current inputs. */
export function consoleUpToDate(inputs = consoleInputsHash()): boolean {
  if (!CONSOLE_FILES.every((f) => existsSync(join(CONSOLE_SITE_DIR, f)))) return false;
  try {
    return (JSON.parse(readFileSync(STAMP, 'utf8')) as { inputs?: string }).inputs === inputs;
  } catch {
    return false;
  }
}

export interface ConsoleBuild {
  /** The served folder (CONSOLE_SITE_DIR). */
  dir: string;
  /** false when it was up to date. */
  built: boolean;
  /** Bytes of each file. */
  sizes: Record<string, number>;
}

/** Builds the console unless it is up to date (or `force`). */
export async function buildConsole(opts: { force?: boolean } = {}): Promise<ConsoleBuild> {
  const inputs = consoleInputsHash();
  const sizes = () => Object.fromEntries(CONSOLE_FILES.map((f) => [f, statSync(join(CONSOLE_SITE_DIR, f)).size]));
  if (!opts.force && consoleUpToDate(inputs)) return { dir: CONSOLE_SITE_DIR, built: false, sizes: sizes() };

  // Loaded only when a build is needed: starting the stack with an up-to-date console loads no esbuild.
  const { build } = await import('esbuild');
  mkdirSync(DIST, { recursive: true });
  const tmp = join(DIST, `.tmp-${process.pid}-${Date.now()}`);
  try {
    await build({
      entryPoints: { app: join(CONSOLE, 'src/main.tsx') },
      outdir: tmp,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: ['chrome111', 'firefox115', 'safari16.4'],
      jsx: 'automatic',
      jsxImportSource: 'preact',
      minify: true,
      // No source maps and no external URLs: the page loads exactly the three files.
      sourcemap: false,
      legalComments: 'eof',
      charset: 'utf8',
      logLevel: 'warning',
      absWorkingDir: ROOT,
    });
    for (const page of ['index.html', 'favicon.svg']) copyFileSync(join(CONSOLE, page), join(tmp, page));
    mkdirSync(CONSOLE_SITE_DIR, { recursive: true });
    for (const f of CONSOLE_FILES) renameSync(join(tmp, f), join(CONSOLE_SITE_DIR, f));
    writeFileSync(STAMP, JSON.stringify({ inputs, built_at: new Date().toISOString() }, null, 2) + '\n');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return { dir: CONSOLE_SITE_DIR, built: true, sizes: sizes() };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildConsole({ force: process.argv.includes('--force') }).then(
    (r) => {
      const files = Object.entries(r.sizes).map(([f, n]) => `${f} ${(n / 1024).toFixed(1)} KiB`).join(', ');
      process.stdout.write(`console ${r.built ? 'built' : 'up to date'}: ${relative(process.cwd(), r.dir) || '.'} (${files})\n`);
    },
    (err: unknown) => {
      process.stderr.write(`console build failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
