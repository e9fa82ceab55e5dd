// `cocoop make-model --preset tiny|small|vit-b16 --seed N --out DIR [--vocab DIR]`.
import { makeModel } from '../clip/make-model.ts';
import { PRESET_NAMES, type PresetName } from '../clip/presets.ts';
import { intOption, parseCommandArgs, requireString, UsageError } from './usage.ts';

export async function makeModelCommand(argv: string[]): Promise<unknown> {
  const values = parseCommandArgs('make-model', argv, {
    preset: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    vocab: { type: 'string' },
  });
  const preset = requireString(values, 'preset', 'make-model');
  if (!PRESET_NAMES.includes(preset as PresetName)) {
    throw new UsageError(`make-model: --preset must be one of ${PRESET_NAMES.join(', ')}, got "${preset}"`);
  }
  const seed = intOption(values, 'seed', 'make-model', 0, 0);
  const out = requireString(values, 'out', 'make-model');
  makeModel({ preset: preset as PresetName, seed, out, vocabDir: values.vocab as string | undefined });
  return { out };
}
