// Picks the TF.js backend at run time: tfjs-node-gpu → tfjs-node → wasm. The native backends are
// optionalDependencies whose install script (a libtensorflow download) does not run by default, so
// they are imported dynamically and their absence is normal. The pure-JS 'cpu' backend is ~30× slower than
// wasm and is only used when explicitly asked for (prefer: 'cpu' or COCOOP_TF_BACKEND=cpu).
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tfBackendFromEnv } from './tf-backend-env.ts';

export type TfBackendPreference = 'auto' | 'wasm' | 'cpu';

export interface TfBackendInfo {
  backend: string; // tf.getBackend(): 'tensorflow' | 'wasm' | 'cpu'
  threads: number;
}

export interface InitTfBackendOptions {
  prefer?: TfBackendPreference;
  /** One line per call describing the choice and every failed candidate. Default: stderr. */
  log?: (line: string) => void;
}

type Candidate = 'node-gpu' | 'node' | 'wasm' | 'cpu';

/** One init per resolved request (e.g. 'auto', 'wasm'); a repeated call returns the same promise. */
const pending = new Map<string, Promise<TfBackendInfo>>();

class Unavailable extends Error {}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0].trim();
}

function isNotInstalled(e: unknown, pkg: string): boolean {
  const err = e as { code?: string; message?: string };
  return (
    (err?.code === 'ERR_MODULE_NOT_FOUND' || err?.code === 'MODULE_NOT_FOUND') &&
    typeof err.message === 'string' &&
    err.message.includes(pkg)
  );
}

/**
 * The native backends' addon (lib/napi-v<N>/tfjs_binding.node) is made by their install script, which
 * package.json "allowScripts" denies (it downloads libtensorflow from outside the npm registry; README
 * "Install"). Importing the package without it fails only after registering every kernel, and a second
 * such import prints one "already registered" line per kernel, so look for the addon first.
 * `root`: the package's folder, or null when it is not installed. Returns why it is unusable, or null.
 */
export function nativeAddonProblem(root: string | null): string | null {
  if (root === null) return 'not installed';
  const lib = join(root, 'lib');
  const hasAddon =
    existsSync(lib) && readdirSync(lib).some((d) => d.startsWith('napi-v') && existsSync(join(lib, d, 'tfjs_binding.node')));
  return hasAddon ? null : 'installed without its native addon (install script not run: README "Install")';
}

function packageRoot(pkg: string): string | null {
  try {
    return dirname(createRequire(import.meta.url).resolve(`${pkg}/package.json`));
  } catch {
    return null;
  }
}

async function tryNative(pkg: string): Promise<TfBackendInfo> {
  const problem = nativeAddonProblem(packageRoot(pkg));
  if (problem) throw new Unavailable(problem);
  try {
    // A variable specifier keeps tsc from requiring the (optional, usually absent) package.
    const spec: string = pkg;
    await import(spec);
  } catch (e) {
    throw new Unavailable(isNotInstalled(e, pkg) ? 'not installed' : `failed to load: ${firstLine(e)}`);
  }
  let ok: boolean;
  try {
    ok = await tf.setBackend('tensorflow');
  } catch (e) {
    throw new Unavailable(`setBackend failed: ${firstLine(e)}`);
  }
  if (!ok) throw new Unavailable('backend "tensorflow" failed to initialise');
  // libtensorflow's intra-op pool uses every core.
  return { backend: tf.getBackend(), threads: availableParallelism() };
}

async function tryWasm(): Promise<TfBackendInfo> {
  let wasm: typeof import('@tensorflow/tfjs-backend-wasm');
  try {
    wasm = await import('@tensorflow/tfjs-backend-wasm');
  } catch (e) {
    throw new Unavailable(
      isNotInstalled(e, '@tensorflow/tfjs-backend-wasm') ? 'not installed' : `failed to load: ${firstLine(e)}`,
    );
  }
  // Point the loader at the package's own dist/ directory, where the .wasm binaries live.
  try {
    const main = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(`${dirname(main)}/`);
  } catch {
    // Leave the default (the emscripten loader's own directory), which also works in Node.
  }
  let ok: boolean;
  try {
    ok = await tf.setBackend('wasm');
  } catch (e) {
    throw new Unavailable(`setBackend failed: ${firstLine(e)}`);
  }
  if (!ok) throw new Unavailable('backend "wasm" failed to initialise');
  let threads = 1;
  try {
    threads = wasm.getThreadsCount();
  } catch {
    // getThreadsCount throws before init on some builds; 1 is right for Node (no wasm threads).
  }
  return { backend: tf.getBackend(), threads };
}

async function tryCpu(): Promise<TfBackendInfo> {
  const ok = await tf.setBackend('cpu');
  if (!ok) throw new Unavailable('backend "cpu" failed to initialise');
  return { backend: tf.getBackend(), threads: 1 };
}

const NAMES: Record<Candidate, string> = {
  'node-gpu': 'tfjs-node-gpu',
  node: 'tfjs-node',
  wasm: 'wasm',
  cpu: 'cpu',
};

function attempt(c: Candidate): Promise<TfBackendInfo> {
  switch (c) {
    case 'node-gpu':
      return tryNative('@tensorflow/tfjs-node-gpu');
    case 'node':
      return tryNative('@tensorflow/tfjs-node');
    case 'wasm':
      return tryWasm();
    case 'cpu':
      return tryCpu();
  }
}

async function init(candidates: Candidate[], source: string, log: (line: string) => void): Promise<TfBackendInfo> {
  const failures: string[] = [];
  for (const c of candidates) {
    try {
      const info = await attempt(c);
      const notes = [...failures, ...(source ? [source] : [])];
      log(`tfjs backend: ${info.backend}${c === 'node-gpu' ? ' (gpu)' : ''}, ${info.threads} thread(s)${notes.length ? ` (${notes.join('; ')})` : ''}`);
      return info;
    } catch (e) {
      if (!(e instanceof Unavailable)) throw e;
      failures.push(`${NAMES[c]} ${e.message}`);
    }
  }
  const line = `tfjs backend: none available (${[...failures, ...(source ? [source] : [])].join('; ')})`;
  log(line);
  throw new Error(line);
}

/**
 * Selects and initialises the TF.js backend. Idempotent: repeated calls with the same effective
 * request return the same result. `COCOOP_TF_BACKEND=node-gpu|node|wasm|cpu` (tf-backend-env.ts; `auto` or unset:
 * no override) overrides `prefer`;
 * an explicitly requested backend that is unavailable is an error (no silent fallback).
 */
export function initTfBackend(opts: InitTfBackendOptions = {}): Promise<TfBackendInfo> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  let forced: ReturnType<typeof tfBackendFromEnv>;
  try {
    forced = tfBackendFromEnv(process.env, log);
  } catch (e) {
    return Promise.reject(e);
  }
  let candidates: Candidate[];
  let source = '';
  let key: string;
  if (forced && forced.choice !== 'auto') {
    candidates = [forced.choice];
    source = `${forced.variable}=${forced.choice}`;
    key = forced.choice;
  } else {
    const prefer = opts.prefer ?? 'auto';
    if (prefer === 'auto') candidates = ['node-gpu', 'node', 'wasm'];
    else if (prefer === 'wasm' || prefer === 'cpu') candidates = [prefer];
    else return Promise.reject(new Error(`initTfBackend: unknown prefer ${JSON.stringify(prefer)}`));
    key = prefer;
  }
  let p = pending.get(key);
  if (!p) {
    p = init(candidates, source, log);
    pending.set(key, p);
    // A failed init may be retried (e.g. after fixing the environment).
    p.catch(() => pending.delete(key));
  }
  return p;
}
