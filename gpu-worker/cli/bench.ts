// `cocoop bench --model DIR | --preset P --classes C --images N [--no-naive]`: CoCoOp inference
// images/s and training s/step, optimized vs naive (official-style), in one run.
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeModel } from '../clip/make-model.ts';
import { loadClipModel } from '../clip/model.ts';
import { OrtClipEncoders } from '../clip/ort-encoders.ts';
import { PRESET_NAMES, type PresetName } from '../clip/presets.ts';
import { ortMatmulCeiling } from '../clip/onnx/matmul-ceiling.ts';
import { runCocoopBench } from '../cocoop/bench.ts';
import { parseTrainEngine, TRAIN_ENGINES, type TrainEngineName } from '../cocoop/train-engines.ts';
import { initTfBackend } from '../runtime/tf-backend.ts';
import { modelDirOption } from './paths.ts';
import { intOption, optionalString, parseCommandArgs, UsageError, type CommandSpec } from './usage.ts';

export const benchSpec: CommandSpec = {
  name: 'bench',
  summary: 'CoCoOp inference images/s and training s/step (batch 1), optimized and naive (official-style) paths in one run',
  options: {
    model: { type: 'string', value: 'DIR', help: 'CLIP model directory to benchmark' },
    preset: { type: 'string', value: PRESET_NAMES.join('|'), help: 'benchmark a random-weight model of these shapes instead' },
    classes: { type: 'string', value: 'C', default: '10', help: 'number of class names' },
    images: { type: 'string', value: 'N', default: '8', help: 'images for the inference measurement (random pixels)' },
    'no-naive': { type: 'boolean', help: 'skip the naive path' },
    'no-naive-train': { type: 'boolean', help: 'skip only the naive training step (minutes at 100 classes)' },
    'train-steps': { type: 'string', value: 'K', default: '3', help: 'training steps measured' },
    engines: { type: 'string', value: 'LIST', default: TRAIN_ENGINES.join(','), help: `training engines timed, comma-separated (${TRAIN_ENGINES.join(', ')})` },
    'no-ceiling': { type: 'boolean', help: 'skip measuring the ONNX Runtime matmul ceiling' },
  },
  notes: [
    'Exactly one of --model or --preset. Output: {"settings": {...}, "ceiling": {...}, "optimized": {...}, "train_s_per_step_by_engine": {...},',
    '"step_work": {...}, "train_fraction_of_ceiling": {...}, "naive": {...}, "logits_max_rel_diff": number}',
  ],
};

export async function benchCommand(argv: string[]): Promise<unknown> {
  const values = parseCommandArgs(benchSpec, argv);
  if (!values.model === !values.preset) throw new UsageError('bench: give exactly one of --model DIR or --preset tiny|small|vit-b16');
  if (values.preset && !PRESET_NAMES.includes(values.preset as PresetName)) {
    throw new UsageError(`bench: --preset must be one of ${PRESET_NAMES.join(', ')}`);
  }
  if (values.model !== undefined) modelDirOption(values, 'bench');
  const classes = intOption(values, 'classes', 'bench', 1);
  if (classes < 2) throw new UsageError('bench: --classes must be at least 2');
  const images = intOption(values, 'images', 'bench', 1);
  const trainSteps = intOption(values, 'train-steps', 'bench', 1);
  const engines = String(values.engines)
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)
    .map((e) => parseTrainEngine(e, 'bench: --engines')) as TrainEngineName[];

  let tmp: string | undefined;
  let dir = optionalString(values, 'model');
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
    const t = model.config.text;
    const v = model.config.vision;
    const patches = (v.imageSize / v.patchSize) ** 2 + 1;
    // The ceiling: the model's own matmul shapes (image tower MLP, text MLP at 100 prompt tokens), measured now.
    const ceiling = values['no-ceiling']
      ? null
      : await ortMatmulCeiling(
          [
            [patches, v.hiddenSize, v.intermediateSize],
            [4 * patches, v.hiddenSize, v.intermediateSize],
            [1000, t.hiddenSize, t.intermediateSize],
          ],
          1.5,
        );
    const result = await runCocoopBench(model, encoders, { classes, images, naive: values['no-naive'] !== true, naiveTrain: values['no-naive-train'] !== true, trainSteps, engines });
    const work = result.step_work.image_gflop + result.step_work.text_gflop;
    const fraction = ceiling
      ? Object.fromEntries(Object.entries(result.train_s_per_step_by_engine).map(([e, sec]) => [e, work / (sec as number) / ceiling.gflops]))
      : null;
    return {
      settings: {
        backend: `onnxruntime-node (inference, image features; training engine ort) + tfjs ${tfInfo.backend} (training engine tfjs)`,
        engines,
        threads: availableParallelism(),
        machine: `${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${availableParallelism()} cores`,
        model: values.preset ? `preset ${values.preset} (random weights)` : dir,
        classes,
        images,
        train_steps: trainSteps,
      },
      ceiling: ceiling && { ort_matmul_gflops: ceiling.gflops, shape: ceiling.shape },
      ...result,
      train_fraction_of_ceiling: fraction,
    };
  } finally {
    await encoders.release();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}
