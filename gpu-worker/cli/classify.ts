// `cocoop classify --model DIR [--adapter FILE] --labels "a,b,c" --image PATH...`: logits of each
// image over any labels (CoCoOp: instance-conditioned prompts; no adapter: zero-shot CLIP).
import { imageFeaturesOf } from '../cocoop/image-features.ts';
import { CocoopInference } from '../cocoop/ort-inference.ts';
import { parseLabels } from './labels.ts';
import { checkLabelsFit, openModel } from './model-context.ts';
import { ADAPTER_OPTION, LABELS_HELP, MODEL_OPTION } from './common-options.ts';
import { modelDirOption } from './paths.ts';
import { optionalString, parseCommandArgs, stringList, type CommandSpec } from './usage.ts';

export const classifySpec: CommandSpec = {
  name: 'classify',
  summary: 'logits of each image over any labels (CoCoOp adapter: instance-conditioned prompts; none: zero-shot)',
  options: {
    model: MODEL_OPTION,
    adapter: ADAPTER_OPTION,
    labels: { type: 'string', value: '"a,b,c"', multiple: true, required: true, help: LABELS_HELP },
    image: { type: 'string', value: 'PATH', multiple: true, required: true, help: 'an image file (JPEG, PNG, WebP)' },
  },
  notes: ['Output: {"labels": string[], "logits": number[][], "top1": string[]} (logits = exp(logit_scale)·cos)'],
};

export async function classifyCommand(argv: string[]): Promise<unknown> {
  const values = parseCommandArgs(classifySpec, argv);
  const dir = modelDirOption(values, 'classify');
  const labels = parseLabels(stringList(values, 'labels'), 'classify');
  const images = stringList(values, 'image');
  const ctx = openModel(dir, optionalString(values, 'adapter'));
  try {
    checkLabelsFit(ctx, labels);
    const features = await imageFeaturesOf(ctx.encoders, images);
    const logits = await new CocoopInference(ctx.encoders).logits(features, images.length, labels, ctx.adapter);
    const c = labels.length;
    const rows = images.map((_, i) => Array.from(logits.subarray(i * c, (i + 1) * c)));
    const top1 = rows.map((r) => labels[r.indexOf(Math.max(...r))]);
    return { labels, logits: rows, top1 };
  } finally {
    await ctx.encoders.release();
  }
}
