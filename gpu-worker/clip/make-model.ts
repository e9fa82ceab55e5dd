// Writes a random-weight CLIP model directory in Hugging Face layout (`cocoop make-model`).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toHfConfigJson } from './config.ts';
import { presetConfig, type PresetName } from './presets.ts';
import { randomClipTensors } from './random-weights.ts';
import { writeSafetensors } from './safetensors.ts';
import { buildTinyVocab, writeVocabFiles } from './tiny-vocab.ts';

export interface MakeModelOptions {
  preset: PresetName;
  seed: number;
  out: string;
  /** A directory with vocab.json + merges.txt (e.g. the real CLIP vocab); default: the tiny generated vocab. */
  vocabDir?: string;
}

function vocabSizeOf(vocabJsonPath: string): number {
  let vocab: unknown;
  try {
    vocab = JSON.parse(readFileSync(vocabJsonPath, 'utf8'));
  } catch (e) {
    throw new Error(`${vocabJsonPath}: cannot read vocab (${(e as Error).message.split('\n')[0]})`);
  }
  if (typeof vocab !== 'object' || vocab === null) throw new Error(`${vocabJsonPath}: not a JSON object`);
  return Math.max(...Object.values(vocab as Record<string, number>)) + 1;
}

export function makeModel(opts: MakeModelOptions): void {
  mkdirSync(opts.out, { recursive: true });
  let vocabSize: number;
  if (opts.vocabDir) {
    for (const f of ['vocab.json', 'merges.txt']) {
      const src = join(opts.vocabDir, f);
      if (!existsSync(src)) throw new Error(`${src}: missing (--vocab needs a directory with vocab.json and merges.txt)`);
    }
    vocabSize = vocabSizeOf(join(opts.vocabDir, 'vocab.json'));
    // Copy contents, not modes: the source may be read-only (e.g. a shared data folder).
    for (const f of ['vocab.json', 'merges.txt']) writeFileSync(join(opts.out, f), readFileSync(join(opts.vocabDir, f)));
  } else {
    const tiny = buildTinyVocab();
    writeVocabFiles(opts.out, tiny);
    vocabSize = Math.max(...Object.values(tiny.vocab)) + 1;
  }
  const cfg = presetConfig(opts.preset, vocabSize);
  writeFileSync(join(opts.out, 'config.json'), JSON.stringify(toHfConfigJson(cfg), null, 2) + '\n');
  writeSafetensors(join(opts.out, 'model.safetensors'), randomClipTensors(cfg, opts.seed), {
    format: 'pt',
    generator: `cocoop make-model --preset ${opts.preset} --seed ${opts.seed}`,
  });
}
