// Path options checked before any work starts, each failure one line naming the option (exit 1).
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { requireString, type Values } from './usage.ts';

/** What a CLIP model directory in Hugging Face layout holds (docs/ARCHITECTURE.md, "Model files"). */
export const MODEL_FILES = ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt'] as const;
const NEEDS = `--model needs a CLIP model directory (${MODEL_FILES.join(', ')})`;

function kind(path: string): 'missing' | 'dir' | 'file' {
  try {
    return statSync(path).isDirectory() ? 'dir' : 'file';
  } catch {
    return 'missing';
  }
}

/** `--model DIR`: an existing directory holding `files` (the ones this command reads). */
export function modelDirOption(values: Values, command: string, files: readonly string[] = MODEL_FILES): string {
  const dir = requireString(values, 'model', command);
  const k = kind(dir);
  if (k === 'missing') throw new Error(`--model ${dir}: no such directory; ${NEEDS}`);
  if (k === 'file') throw new Error(`--model ${dir}: a file, not a directory; ${NEEDS}`);
  const missing = files.filter((f) => !existsSync(join(dir, f)));
  if (missing.length > 0) throw new Error(`--model ${dir}: no ${missing.join(', ')} there; ${NEEDS}`);
  return dir;
}

/** An output file (`--out FILE`): not a directory, in a folder that exists. Returns the absolute path. */
export function outFileOption(values: Values, name: string, command: string): string {
  const path = resolve(requireString(values, name, command));
  if (kind(path) === 'dir') throw new Error(`--${name} ${path}: is a directory; give a file path`);
  if (kind(dirname(path)) !== 'dir') throw new Error(`--${name} ${path}: folder ${dirname(path)} does not exist`);
  return path;
}

/** An output directory (made if absent): must not be an existing file. */
export function outDirOption(values: Values, name: string, command: string): string {
  const path = requireString(values, name, command);
  if (kind(path) === 'file') throw new Error(`--${name} ${path}: a file exists there; give a directory`);
  return path;
}
