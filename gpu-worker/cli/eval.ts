// `cocoop eval --model DIR [--adapter FILE] --data DIR [--labels ...]`: accuracy over an image folder
// (one sub-folder per class). Labels default to the folder's class names; with --labels, every class
// folder must be one of them (extra labels are distractors).
import { readImageFolder } from '../cocoop/dataset.ts';
import { imageFeaturesOf } from '../cocoop/image-features.ts';
import { CocoopInference } from '../cocoop/ort-inference.ts';
import { parseLabels } from './labels.ts';
import { checkLabelsFit, openModel } from './model-context.ts';
import { ADAPTER_OPTION, LABELS_HELP, MODEL_OPTION } from './common-options.ts';
import { modelDirOption } from './paths.ts';
import { optionalString, parseCommandArgs, requireString, stringList, type CommandSpec } from './usage.ts';

export const evalSpec: CommandSpec = {
  name: 'eval',
  summary: 'top-1 accuracy over an image folder (one sub-folder per class, folder name = class name)',
  options: {
    model: MODEL_OPTION,
    adapter: ADAPTER_OPTION,
    data: { type: 'string', value: 'DIR', required: true, help: 'image folder: one sub-folder per class' },
    labels: { type: 'string', value: '"a,b,c"', multiple: true, help: `${LABELS_HELP}; must include every class folder (default: the folder names)` },
  },
  notes: ['Output: {"accuracy": number, "per_class": {class: {"accuracy", "n"}}, "n": number}'],
};

export async function evalCommand(argv: string[]): Promise<unknown> {
  const values = parseCommandArgs(evalSpec, argv);
  const dir = modelDirOption(values, 'eval');
  const data = readImageFolder(requireString(values, 'data', 'eval'), { minClasses: 1 });
  const labels = stringList(values, 'labels').length > 0 ? parseLabels(stringList(values, 'labels'), 'eval') : data.classNames;
  const missing = data.classNames.find((c) => !labels.includes(c));
  if (missing !== undefined) throw new Error(`--labels: the data folder has class "${missing}", which is not among the labels`);
  const ctx = openModel(dir, optionalString(values, 'adapter'));
  try {
    checkLabelsFit(ctx, labels);
    const log = (done: number, total: number) => process.stderr.write(`eval: ${done}/${total} images\n`);
    const paths = data.items.map((it) => it.path);
    const features = await imageFeaturesOf(ctx.encoders, paths, paths.length > 64 ? log : undefined);
    const logits = await new CocoopInference(ctx.encoders).logits(features, paths.length, labels, ctx.adapter);
    const c = labels.length;
    const perClass: Record<string, { correct: number; n: number }> = {};
    let correct = 0;
    data.items.forEach((it, i) => {
      const row = logits.subarray(i * c, (i + 1) * c);
      let best = 0;
      for (let k = 1; k < c; k++) if (row[k] > row[best]) best = k;
      const truth = data.classNames[it.label];
      const hit = labels[best] === truth ? 1 : 0;
      correct += hit;
      const pc = (perClass[truth] ??= { correct: 0, n: 0 });
      pc.correct += hit;
      pc.n += 1;
    });
    return {
      accuracy: correct / data.items.length,
      per_class: Object.fromEntries(Object.entries(perClass).map(([k, v]) => [k, { accuracy: v.correct / v.n, n: v.n }])),
      n: data.items.length,
    };
  } finally {
    await ctx.encoders.release();
  }
}
