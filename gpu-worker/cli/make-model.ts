// `cocoop make-model --preset tiny|small|vit-b16 --seed N --out DIR [--vocab DIR]`.
import { makeModel } from '../clip/make-model.ts';
import { PRESET_NAMES, type PresetName } from '../clip/presets.ts';
import { parseCommandArgs, requireString, UsageError } from './usage.ts';

export async function makeModelCommand(argv: string[]): Promise<unknown> {
  const values = parseCommandArgs('make-model', argv, {
    preset: { type: 'string' },
    seed: { type: 'string', default: '0' },
    out: { type: 'string' },
    vocab: { type: 'string' },
  });
  const preset = requireString(values, 'preset', 'make-model');
  if (!PRESET_NAMES.includes(preset as PresetName)) {
    throw new UsageError(`make-model: --preset must be one of ${PRESET_NAMES.join(', ')}, got "${preset}"`);
  }
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`make-model: --seed must be a non-negative integer`);
  const out = requireString(values, 'out', 'make-model');
  makeModel({ preset: preset as PresetName, seed, out, vocabDir: values.vocab as string | undefined });
  return { out };
}
