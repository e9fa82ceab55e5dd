// `--model` and output paths are checked before any work: one line on stderr naming what is wrong,
// exit 1, no stack trace unless COCOOP_DEBUG=1. Wrong command lines: one line, exit 2.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cocoop, type Run } from '../helpers/cli.ts';
import { useTmpDir } from '../helpers/tmp.ts';

const root = useTmpDir('cocoop-paths-');
const aFile = join(root, 'config.json');
writeFileSync(aFile, '{}');
// Has the four files by name (never loaded: every check below fails before the model is read).
const modelLike = join(root, 'model-like');
mkdirSync(modelLike);
for (const f of ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt']) writeFileSync(join(modelLike, f), '');
const data = join(root, 'data');
mkdirSync(join(data, 'a'), { recursive: true });

const NEEDS = /--model needs a CLIP model directory \(config\.json, model\.safetensors, vocab\.json, merges\.txt\)$/;

/** Each command line with `--model M`, the other required options given. */
const WITH_MODEL: Record<string, (m: string) => string[]> = {
  tokenize: (m) => ['tokenize', '--model', m, '--text', 'a cat'],
  embed: (m) => ['embed', '--model', m, '--text', 'a cat', '--json'],
  train: (m) => ['train', '--model', m, '--data', data, '--out', join(root, 'a.safetensors'), '--json'],
  classify: (m) => ['classify', '--model', m, '--labels', 'a,b', '--image', join(root, 'x.png'), '--json'],
  eval: (m) => ['eval', '--model', m, '--data', data, '--json'],
  bench: (m) => ['bench', '--model', m, '--json'],
};

function expectOneLine(r: Run, code: number, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^cocoop: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stdout).toBe('');
}

describe('cocoop path checks', () => {
  it('--model given a file: one line saying it needs a CLIP model directory, exit 1, for every command', async () => {
    const names = Object.keys(WITH_MODEL);
    const runs = await Promise.all(names.map((n) => cocoop(WITH_MODEL[n](aFile))));
    runs.forEach((r, i) => {
      try {
        expectOneLine(r, 1, NEEDS);
        expect(r.stderr).toContain(`--model ${aFile}: a file, not a directory`);
      } catch (e) {
        throw new Error(`${names[i]}: ${(e as Error).message}`);
      }
    });
  }, 60_000);

  it('--model missing, or a directory without the model files: named in one line, exit 1', async () => {
    const empty = join(root, 'empty');
    mkdirSync(empty);
    const [missing, noFiles, tokenizeNoVocab] = await Promise.all([
      cocoop(WITH_MODEL.classify(join(root, 'nope'))),
      cocoop(WITH_MODEL.embed(empty)),
      cocoop(WITH_MODEL.tokenize(empty)),
    ]);
    expectOneLine(missing, 1, /no such directory; --model needs a CLIP model directory/);
    expectOneLine(noFiles, 1, /no config\.json, model\.safetensors, vocab\.json, merges\.txt there/);
    // tokenize reads only the vocab files, so only those are asked for.
    expectOneLine(tokenizeNoVocab, 1, /no vocab\.json, merges\.txt there/);
  }, 60_000);

  it('COCOOP_DEBUG=1 adds the stack trace', async () => {
    const r = await cocoop(WITH_MODEL.embed(aFile), undefined, { COCOOP_DEBUG: '1' });
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')[0]).toMatch(NEEDS);
    expect(r.stderr).toMatch(/\n\s+at /);
  }, 60_000);

  it('output paths are refused before training or writing', async () => {
    const [outIsDir, outFolderMissing, checkpointIsFile, makeModelOutIsFile] = await Promise.all([
      cocoop(['train', '--model', modelLike, '--data', data, '--out', root]),
      cocoop(['train', '--model', modelLike, '--data', data, '--out', join(root, 'no', 'such', 'a.safetensors')]),
      cocoop(['train', '--model', modelLike, '--data', data, '--out', join(root, 'a.safetensors'), '--checkpoint-dir', aFile]),
      cocoop(['make-model', '--preset', 'tiny', '--out', aFile]),
    ]);
    expectOneLine(outIsDir, 1, /--out .*: is a directory/);
    expectOneLine(outFolderMissing, 1, /--out .*: folder .*no\/such does not exist/);
    expectOneLine(checkpointIsFile, 1, /--checkpoint-dir .*: a file exists there/);
    expectOneLine(makeModelOutIsFile, 1, /--out .*: a file exists there/);
  }, 60_000);

  it('wrong command lines: one line, exit 2, pointing at the help', async () => {
    const [unknownFlag, missingRequired, badInt, badCrop] = await Promise.all([
      cocoop(['train', '--model', modelLike, '--data', data, '--out', 'a.safetensors', '--epoch', '3']),
      cocoop(['classify', '--model', modelLike, '--image', aFile]),
      cocoop(['train', '--model', modelLike, '--data', data, '--out', 'a.safetensors', '--epochs', 'many']),
      cocoop(['train', '--model', modelLike, '--data', data, '--out', 'a.safetensors', '--crop-scale', '1,0.5']),
    ]);
    expectOneLine(unknownFlag, 2, /train: Unknown option '--epoch'.*cocoop train --help/);
    expectOneLine(missingRequired, 2, /classify: --labels is required/);
    expectOneLine(badInt, 2, /--epochs must be an integer/);
    expectOneLine(badCrop, 2, /--crop-scale/);
  }, 60_000);
});
