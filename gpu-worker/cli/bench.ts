// `cocoop bench --model DIR | --preset P --classes C --images N [--no-naive]`: CoCoOp inference
// images/s and training s/step, optimized vs naive (official-style), in one run.
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeModel } from '../clip/make-model.ts';
import { loadClipModel } from '../clip/model.ts';
import { OrtClipEncoders } from '../clip/ort-encoders.ts';
import { PRESET_NAMES, type PresetName } from '../clip/presets.ts';
import { runCocoopBench } from '../cocoop/bench.ts';
import { initTfBackend } from '../runtime/tf-backend.ts';
import { intOption, parseCommandArgs, UsageError } from './usage.ts';

export async function benchCommand(argv: string[]): Promise<unknown> {
  const values = parseCommandArgs('bench', argv, {
    model: { type: 'string' },
    preset: { type: 'string' },
    classes: { type: 'string' },
    images: { type: 'string' },
    'no-naive': { type: 'boolean' },
    'no-naive-train': { type: 'boolean' },
    'train-steps': { type: 'string' },
  });
  if (!values.model === !values.preset) throw new UsageError('bench: give exactly one of --model DIR or --preset tiny|small|vit-b16');
  if (values.preset && !PRESET_NAMES.includes(values.preset as PresetName)) {
    throw new UsageError(`bench: --preset must be one of ${PRESET_NAMES.join(', ')}`);
  }
  const classes = intOption(values, 'classes', 'bench', 10, 1);
  if (classes < 2) throw new UsageError('bench: --classes must be at least 2');
  const images = intOption(values, 'images', 'bench', 8, 1);
  const trainSteps = intOption(values, 'train-steps', 'bench', 3, 1);

  let tmp: string | undefined;
  let dir = values.model as string | undefined;
  if (!dir) {
    tmp = mkdtempSync(join(tmpdir(), 'cocoop-bench-'));
    dir = tmp;
    process.stderr.write(`bench: writing a random-weight ${values.preset} model to ${dir}\n`);
    makeModel({ preset: values.preset as PresetName, seed: 1, out: dir });
  }
  const tfInfo = await initTfBackend();
  const model = loadClipModel(dir);
  const encoders = new OrtClipEncoders(model);
  try {
    const result = await runCocoopBench(model, encoders, { classes, images, naive: values['no-naive'] !== true, naiveTrain: values['no-naive-train'] !== true, trainSteps });
    return {
      settings: {
        backend: `onnxruntime-node (inference, image features) + tfjs ${tfInfo.backend} (training)`,
        threads: availableParallelism(),
        machine: `${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${availableParallelism()} cores`,
        model: values.preset ? `preset ${values.preset} (random weights)` : dir,
        classes,
        images,
        train_steps: trainSteps,
      },
      ...result,
    };
  } finally {
    await encoders.release();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}
