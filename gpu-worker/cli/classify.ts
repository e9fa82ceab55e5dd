// `cocoop classify --model DIR [--adapter FILE] --labels "a,b,c" --image PATH...`: logits of each
// image over any labels (CoCoOp: instance-conditioned prompts; no adapter: zero-shot CLIP).
import { imageFeaturesOf } from '../cocoop/image-features.ts';
import { CocoopInference } from '../cocoop/ort-inference.ts';
import { parseLabels } from './labels.ts';
import { checkLabelsFit, openModel } from './model-context.ts';
import { parseCommandArgs, requireString, stringList, UsageError } from './usage.ts';

export async function classifyCommand(argv: string[]): Promise<unknown> {
  const values = parseCommandArgs('classify', argv, {
    model: { type: 'string' },
    adapter: { type: 'string' },
    labels: { type: 'string', multiple: true },
    image: { type: 'string', multiple: true },
  });
  const dir = requireString(values, 'model', 'classify');
  const labels = parseLabels(stringList(values, 'labels'), 'classify');
  const images = stringList(values, 'image');
  if (images.length === 0) throw new UsageError('classify: give at least one --image');
  const ctx = openModel(dir, values.adapter as string | undefined);
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
