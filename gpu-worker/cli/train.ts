// `cocoop train --model DIR --data DIR --method cocoop|coop [...] --out FILE.safetensors`: few-shot
// training of an adapter (the official CoCoOp recipe by default), progress on stderr.
import { resolve } from 'node:path';
import { writeAdapter } from '../cocoop/artifact.ts';
import { DEFAULT_CTX_INIT } from '../cocoop/adapter.ts';
import { limitShots, readImageFolder } from '../cocoop/dataset.ts';
import { trainAdapter } from '../cocoop/train.ts';
import { decodeImageRGB } from '../clip/preprocess.ts';
import { initTfBackend } from '../runtime/tf-backend.ts';
import { openModel } from './model-context.ts';
import { intOption, parseCommandArgs, requireString, UsageError } from './usage.ts';

export async function trainCommand(argv: string[]): Promise<unknown> {
  const values = parseCommandArgs('train', argv, {
    model: { type: 'string' },
    data: { type: 'string' },
    method: { type: 'string', default: 'cocoop' },
    epochs: { type: 'string' },
    shots: { type: 'string' },
    lr: { type: 'string' },
    'batch-size': { type: 'string' },
    'n-ctx': { type: 'string' },
    'ctx-init': { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    'checkpoint-dir': { type: 'string' },
    resume: { type: 'boolean' },
    'crop-scale': { type: 'string' },
  });
  const method = values.method;
  if (method !== 'cocoop' && method !== 'coop') throw new UsageError(`train: --method must be cocoop or coop, got "${String(method)}"`);
  const dir = requireString(values, 'model', 'train');
  const out = resolve(requireString(values, 'out', 'train'));
  const epochs = intOption(values, 'epochs', 'train', 10, 1);
  const shots = intOption(values, 'shots', 'train', 16, 1);
  const batchSize = intOption(values, 'batch-size', 'train', 1, 1);
  const seed = intOption(values, 'seed', 'train', 1, 0);
  const lr = values.lr === undefined ? 0.002 : Number(values.lr);
  if (!(lr > 0) || !Number.isFinite(lr)) throw new UsageError(`train: --lr must be a positive number, got "${String(values.lr)}"`);
  const nCtx = values['n-ctx'] === undefined ? undefined : intOption(values, 'n-ctx', 'train', 4, 1);
  if (nCtx !== undefined && values['ctx-init'] !== undefined) throw new UsageError('train: give --n-ctx (random init) or --ctx-init, not both');
  const ctxInit = nCtx !== undefined ? '' : ((values['ctx-init'] as string | undefined) ?? DEFAULT_CTX_INIT);
  if (values.resume && !values['checkpoint-dir']) throw new UsageError('train: --resume needs --checkpoint-dir');
  const cropScale = parseCropScale(values['crop-scale'] as string | undefined);

  const data = limitShots(readImageFolder(requireString(values, 'data', 'train')), shots);
  const ctx = openModel(dir);
  try {
    // Every image must decode before any work starts: a bad file is one clear error, not a failure mid-run.
    for (const item of data.items) await decodeImageRGB(item.path);
    await initTfBackend();
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
      checkpointDir: values['checkpoint-dir'] as string | undefined,
      resume: values.resume === true,
      cropScale,
    });
    writeAdapter(out, result.params, {
      baseModelSha256: ctx.model.weightsSha256(),
      classNames: result.classNames,
      metrics: { train_accuracy: result.trainAccuracy, final_loss: result.finalLoss, epochs: result.epochs, shots, seconds: result.seconds },
    });
    return {
      out,
      method,
      classes: result.classNames,
      images: data.items.length,
      epochs: result.epochs,
      steps: result.steps,
      train_accuracy: result.trainAccuracy,
      final_loss: result.finalLoss,
      seconds: result.seconds,
    };
  } finally {
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
