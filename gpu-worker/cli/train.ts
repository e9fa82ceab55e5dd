// `cocoop train --model DIR --data DIR --method cocoop|coop [...] --out FILE.safetensors`: few-shot
// training of an adapter (the official CoCoOp recipe by default), progress on stderr.
import { readAdapter, writeAdapter } from '../cocoop/artifact.ts';
import { DEFAULT_CTX_INIT } from '../cocoop/adapter.ts';
import { readImageFolder } from '../cocoop/dataset.ts';
import { CocoopInference } from '../cocoop/ort-inference.ts';
import { MAX_VALIDATION_SPLIT, drawShots, holdOut } from '../cocoop/sampling.ts';
import { LabelledFeatures, SetScorer } from '../cocoop/set-scorer.ts';
import { trainAdapter } from '../cocoop/train.ts';
import { DEFAULT_TRAIN_ENGINE, parseTrainEngine, TRAIN_ENGINES } from '../cocoop/train-engines.ts';
import { decodeImageRGB } from '../clip/preprocess.ts';
import { initTfBackend } from '../runtime/tf-backend.ts';
import { MODEL_OPTION } from './common-options.ts';
import { openModel } from './model-context.ts';
import { modelDirOption, outDirOption, outFileOption } from './paths.ts';
import { intOption, optionalString, parseCommandArgs, requireString, UsageError, type CommandSpec } from './usage.ts';


export const trainSpec: CommandSpec = {
  name: 'train',
  summary: 'few-shot training of a CoCoOp (or CoOp) adapter on an image folder; progress on stderr',
  options: {
    model: MODEL_OPTION,
    data: { type: 'string', value: 'DIR', required: true, help: 'image folder: one sub-folder per class, folder name = class name' },
    method: { type: 'string', value: 'cocoop|coop', default: 'cocoop', help: 'cocoop: instance-conditioned prompts (meta-net); coop: fixed learned context' },
    epochs: { type: 'string', value: 'N', default: '10', help: 'passes over the data' },
    shots: { type: 'string', value: 'K', default: '16', help: 'at most K images per class are trained on, drawn at random with --seed' },
    'validation-split': {
      type: 'string',
      value: 'X',
      default: '0',
      help: `hold out floor(n·X) images of each class (at least 1 when it has 2 or more; X in [0, ${MAX_VALIDATION_SPLIT}], drawn with --seed) and report the held-out figures (the API's default is 0.2)`,
    },
    lr: { type: 'string', value: 'X', default: '0.002', help: 'learning rate of SGD with momentum: 1 warm-up epoch, then cosine decay' },
    'batch-size': { type: 'string', value: 'B', default: '1', help: 'images per step' },
    'n-ctx': { type: 'string', value: 'M', help: 'M randomly initialised context vectors instead of --ctx-init' },
    'ctx-init': { type: 'string', value: 'TEXT', help: `context vectors initialised from the words of TEXT (default "${DEFAULT_CTX_INIT}")` },
    seed: { type: 'string', value: 'S', default: '1', help: 'random seed' },
    out: { type: 'string', value: 'FILE.safetensors', required: true, help: 'the adapter file to write' },
    'checkpoint-dir': { type: 'string', value: 'DIR', help: 'write a checkpoint after every epoch there' },
    resume: { type: 'boolean', help: 'continue from the latest checkpoint in --checkpoint-dir (refused if model, data or options differ)' },
    'crop-scale': { type: 'string', value: 'MIN,MAX', help: 'RandomResizedCrop area range of the training views (default 0.08,1; 0.5,1 suits small images)' },
    engine: { type: 'string', value: TRAIN_ENGINES.join('|'), default: DEFAULT_TRAIN_ENGINE, help: 'ort: text tower and its gradient on ONNX Runtime (CUDA when it loads); tfjs: TF.js autodiff' },
    'init-adapter': { type: 'string', value: 'FILE', help: 'start from this adapter\'s tensors (same base model and method; its context length and init are used)' },
    'no-augment': { type: 'boolean', help: 'train on the evaluation view of each image (resize + centre crop), no random crops or flips' },
    'no-shuffle': { type: 'boolean', help: 'images in folder order (classes by name, files by name) every epoch' },
  },
  notes: [
    '--init-adapter with --no-augment --no-shuffle makes a run deterministic for comparing engines or implementations step for step.',
    'Output: {"out", "method", "engine", "classes", "images", "epochs", "steps", "train_accuracy", "final_loss", "seconds", "train": {loss, accuracy},',
    '  "validation": null | {n, accuracy, zero_shot_accuracy, per_class: [{label, n, accuracy, zero_shot_accuracy}], confusion: {labels, matrix}}}',
    '  (the same block as a training job of the API; confusion rows = true label, columns = predicted by the adapter)',
  ],
};

export async function trainCommand(argv: string[]): Promise<unknown> {
  const values = parseCommandArgs(trainSpec, argv);
  const method = values.method;
  if (method !== 'cocoop' && method !== 'coop') throw new UsageError(`train: --method must be cocoop or coop, got "${String(method)}"`);
  const epochs = intOption(values, 'epochs', 'train', 1);
  const shots = intOption(values, 'shots', 'train', 1);
  const batchSize = intOption(values, 'batch-size', 'train', 1);
  const seed = intOption(values, 'seed', 'train', 0);
  const lr = Number(values.lr);
  if (!(lr > 0) || !Number.isFinite(lr)) throw new UsageError(`train: --lr must be a positive number, got "${String(values.lr)}"`);
  const nCtx = values['n-ctx'] === undefined ? undefined : intOption(values, 'n-ctx', 'train', 1);
  if (nCtx !== undefined && values['ctx-init'] !== undefined) throw new UsageError('train: give --n-ctx (random init) or --ctx-init, not both');
  const ctxInit = nCtx !== undefined ? '' : (optionalString(values, 'ctx-init') ?? DEFAULT_CTX_INIT);
  if (values.resume && !values['checkpoint-dir']) throw new UsageError('train: --resume needs --checkpoint-dir');
  const cropScale = parseCropScale(optionalString(values, 'crop-scale'));
  const split = Number(values['validation-split']);
  if (!(split >= 0 && split <= MAX_VALIDATION_SPLIT)) {
    throw new UsageError(`train: --validation-split must be a number in [0, ${MAX_VALIDATION_SPLIT}], got "${String(values['validation-split'])}"`);
  }
  let engine;
  try {
    engine = parseTrainEngine(String(values.engine), 'train: --engine');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const initPath = optionalString(values, 'init-adapter');
  if (initPath !== undefined && (values['n-ctx'] !== undefined || values['ctx-init'] !== undefined)) {
    throw new UsageError('train: --init-adapter sets the context; give it without --n-ctx or --ctx-init');
  }
  const dir = modelDirOption(values, 'train');
  const out = outFileOption(values, 'out', 'train');
  const checkpointDir = values['checkpoint-dir'] === undefined ? undefined : outDirOption(values, 'checkpoint-dir', 'train');

  const all = readImageFolder(requireString(values, 'data', 'train'));
  const { train: data, validation: held } = holdOut(all, split, seed);
  const ctx = openModel(dir);
  let inference: CocoopInference | null = null;
  try {
    // Every image must decode before any work starts: a bad file is one clear error, not a failure mid-run.
    for (const item of all.items) await decodeImageRGB(item.path);
    const init = initPath === undefined ? undefined : readAdapter(initPath, { config: ctx.model.config, sha256: ctx.model.weightsSha256() });
    if (init && init.params.method !== method) {
      throw new UsageError(`train: ${initPath} is a ${init.params.method} adapter; --method is ${method}`);
    }
    if (engine === 'tfjs') await initTfBackend();
    const validation = held ? await LabelledFeatures.of(ctx.encoders, held) : null;
    inference = validation ? new CocoopInference(ctx.encoders, { log: () => {} }) : null;
    const scorer = inference ? new SetScorer(inference) : null;
    if (held) process.stderr.write(`train: ${held.items.length} images held out for validation (--validation-split ${split}, seed ${seed})\n`);
    const result = await trainAdapter(ctx.model, ctx.encoders, data, {
      method,
      epochs,
      shots,
      lr,
      batchSize,
      nCtx,
      ctxInit,
      seed,
      momentum: 0.9,
      weightDecay: 5e-4,
      warmupEpochs: 1,
      warmupLr: 1e-5,
      checkpointDir,
      resume: values.resume === true,
      cropScale,
      engine,
      initAdapter: init?.params,
      augment: values['no-augment'] !== true,
      shuffle: values['no-shuffle'] !== true,
      ...(validation && scorer ? { validate: (params) => scorer.accuracy(validation, data.classNames, params) } : {}),
    });
    const scores = validation && scorer ? await scorer.score(validation, result.classNames, result.params) : null;
    if (scores) {
      const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
      process.stderr.write(`validation: ${scores.n} images, accuracy ${pct(scores.accuracy)} (zero-shot CLIP ${pct(scores.zero_shot_accuracy)})\n`);
      for (const c of scores.per_class) process.stderr.write(`  ${c.label}: ${c.n} images, ${pct(c.accuracy)} (zero-shot ${pct(c.zero_shot_accuracy)})\n`);
    }
    writeAdapter(out, result.params, {
      baseModelSha256: ctx.model.weightsSha256(),
      classNames: result.classNames,
      metrics: {
        train_accuracy: result.trainAccuracy,
        final_loss: result.finalLoss,
        ...(scores ? { val_accuracy: scores.accuracy } : {}),
        epochs: result.epochs,
        shots,
        seconds: result.seconds,
        engine: result.engine,
      },
    });
    return {
      out,
      method,
      engine: result.engine,
      classes: result.classNames,
      images: drawShots(data, shots, seed).items.length,
      epochs: result.epochs,
      steps: result.steps,
      train_accuracy: result.trainAccuracy,
      final_loss: result.finalLoss,
      seconds: result.seconds,
      train: { loss: result.finalLoss, accuracy: result.trainAccuracy },
      validation: scores,
    };
  } finally {
    await inference?.release();
    await ctx.encoders.release();
  }
}

/** `--crop-scale MIN,MAX`: the RandomResizedCrop area range of training views (default: the official 0.08,1). */
function parseCropScale(v: string | undefined): [number, number] | undefined {
  if (v === undefined) return undefined;
  const parts = v.split(',').map((x) => Number(x.trim()));
  if (parts.length !== 2 || !(parts[0] > 0 && parts[0] <= parts[1] && parts[1] <= 1)) {
    throw new UsageError(`train: --crop-scale must be "MIN,MAX" with 0 < MIN ≤ MAX ≤ 1, got "${v}"`);
  }
  return [parts[0], parts[1]];
}
