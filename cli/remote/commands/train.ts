// `cocoop remote train FOLDER`: a dataset from an image folder (one sub-folder per class), a training job on it, and
// with --wait the job followed to its end and its validation figures printed.
import type { HyperparametersInput, TrainingJobCreateParams } from '../../../sdk/src/node/index.ts';
import { type CommandSpec, UsageError, type Values, choiceOption, commandName, intOption, listOption, numberOption, stringOption } from '../args.ts';
import { type CommandContext, Exit, type RemoteCommand } from '../context.ts';
import { FOLLOW_NOTE, followWithProgress, followedOutcome } from './jobs.ts';
import { checkedFolder, uploadDataset } from './upload.ts';

const spec: CommandSpec = {
  words: ['train'],
  summary: 'uploads an image folder as a dataset and starts a training job on it (--wait: follows it to the end)',
  positionals: [{ name: 'FOLDER', optional: true, help: 'an image folder: one sub-folder per class, named after it, of JPEG/PNG/WebP files' }],
  options: {
    dataset: { type: 'string', value: 'ID', help: 'train on this ready dataset instead of uploading a FOLDER' },
    name: { type: 'string', value: 'NAME', default: "the folder's name", help: 'name of the new dataset' },
    method: { type: 'string', value: 'cocoop|coop', default: 'cocoop', help: 'CoCoOp (image-conditioned prompts) or CoOp (static prompts)' },
    epochs: { type: 'string', value: 'N', default: '10', help: 'training epochs, 1..100' },
    shots: { type: 'string', value: 'K', default: '16', help: 'training images per class' },
    'learning-rate': { type: 'string', value: 'X', default: '0.002', help: 'SGD learning rate, in (0, 1]' },
    'batch-size': { type: 'string', value: 'B', default: '1', help: 'images per step, 1..64' },
    'n-ctx': { type: 'string', value: 'M', help: 'context vectors with a random initialisation, 1..16 (instead of --ctx-init)' },
    'ctx-init': { type: 'string', value: 'TEXT', default: '"a photo of a"', help: 'the phrase the context vectors start from' },
    seed: { type: 'string', value: 'S', default: '1', help: 'random seed (shots, hold-out, augmentation), an integer ≥ 0' },
    'crop-scale': { type: 'string', value: 'MIN,MAX', default: '0.08,1', help: 'area range of the random-resized-crop training views' },
    'validation-split': { type: 'string', value: 'X', default: '0.2', help: "share of each class's images held out for validation, 0..0.5" },
    'validation-dataset': { type: 'string', value: 'ID', help: 'validate on this ready dataset instead of a hold-out' },
    metadata: { type: 'string', value: 'KEY=VALUE', multiple: true, help: 'your own key → value strings on the job' },
    wait: { type: 'boolean', help: 'follow the job to its end, then print its outcome and validation figures' },
    'cancel-on-interrupt': { type: 'boolean', help: 'with --wait: Ctrl-C cancels the job (default: it keeps running)' },
  },
  notes: [
    'Give a FOLDER or --dataset. The folder is checked first: one with no images, a file that is not an image, or',
    'files outside class folders is refused in one line and nothing is created. A failed upload or a dataset the API',
    'refuses to finalize (its reasons are shown) is deleted again.',
    'Output without --wait: the job as created. With --wait: {"job_id", "status", "model_id", "dataset_id", "method",',
    '"train": {loss, accuracy}, "validation": {n, accuracy, zero_shot_accuracy, per_class, confusion} | null, "error"}.',
    FOLLOW_NOTE,
    'A job that failed or was cancelled exits 1 (its outcome still on stdout). Ctrl-C during --wait leaves the job',
    'running (exit 130) and says how to follow it: cocoop remote jobs events JOB_ID --follow.',
  ],
};

function hyperparameters(values: Values): HyperparametersInput {
  const cropRaw = stringOption(values, 'crop-scale');
  let crop: [number, number] | undefined;
  if (cropRaw !== undefined) {
    const parts = cropRaw.split(',').map((s) => Number(s.trim()));
    if (parts.length !== 2 || parts.some((n) => !Number.isFinite(n))) throw new UsageError(`${commandName(spec)}: --crop-scale must be MIN,MAX (e.g. 0.5,1), got "${cropRaw}"`);
    crop = [parts[0]!, parts[1]!];
  }
  const hp: HyperparametersInput = {
    epochs: intOption(values, 'epochs', spec, 1),
    shots: intOption(values, 'shots', spec, 1),
    learning_rate: numberOption(values, 'learning-rate', spec),
    batch_size: intOption(values, 'batch-size', spec, 1),
    n_ctx: intOption(values, 'n-ctx', spec, 1),
    ctx_init: stringOption(values, 'ctx-init'),
    seed: intOption(values, 'seed', spec, 0),
    crop_scale: crop,
    validation_split: numberOption(values, 'validation-split', spec),
    validation_dataset_id: stringOption(values, 'validation-dataset'),
  };
  return Object.fromEntries(Object.entries(hp).filter(([, v]) => v !== undefined)) as HyperparametersInput;
}

function metadata(values: Values): Record<string, string> | undefined {
  const pairs = listOption(values, 'metadata');
  if (pairs.length === 0) return undefined;
  return Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new UsageError(`${commandName(spec)}: --metadata must be KEY=VALUE, got "${pair}"`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

async function train(ctx: CommandContext): Promise<unknown> {
  const { values } = ctx;
  const folder = ctx.positionals[0];
  const datasetOption = stringOption(values, 'dataset');
  if ((folder === undefined) === (datasetOption === undefined)) throw new UsageError(`${commandName(spec)}: give a FOLDER or --dataset ID (one of the two)`);
  if (values['cancel-on-interrupt'] === true && values.wait !== true) throw new UsageError(`${commandName(spec)}: --cancel-on-interrupt goes with --wait`);
  const params: TrainingJobCreateParams = {
    dataset_id: datasetOption ?? '',
    method: choiceOption(values, 'method', spec, ['cocoop', 'coop'] as const) ?? 'cocoop',
    hyperparameters: hyperparameters(values),
    ...(metadata(values) ? { metadata: metadata(values) } : {}),
  };
  const files = folder === undefined ? undefined : await checkedFolder(folder);
  const client = ctx.client();
  if (folder !== undefined) {
    const dataset = await uploadDataset(client, ctx.status, folder, files!, stringOption(values, 'name'));
    if (dataset instanceof Exit) return dataset;
    params.dataset_id = dataset.id;
  }
  let job;
  try {
    job = await client.trainingJobs.create(params);
  } catch (e) {
    if (folder !== undefined) ctx.status.note(`the dataset ${params.dataset_id} is ready: try again with cocoop remote train --dataset ${params.dataset_id} ...`);
    throw e;
  }
  const created = `training job ${job.id} ${job.status} (${job.method}, ${job.hyperparameters.epochs} epochs)`;
  if (values.wait !== true) {
    ctx.status.note(created);
    return job;
  }
  const followed = await followWithProgress(ctx, client, job.id, { cancelOnInterrupt: values['cancel-on-interrupt'] === true, announce: created });
  if (followed instanceof Exit) return followed;
  return followedOutcome(ctx, followed.job);
}

export const TRAIN_COMMAND: RemoteCommand = { spec, run: train };
