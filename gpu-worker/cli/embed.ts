// `cocoop embed --model DIR [--text T]... [--image PATH]...`: projected, un-normalised CLIP features
// (Hugging Face get_text_features / get_image_features), computed with ONNX Runtime.
import { loadClipModel } from '../clip/model.ts';
import { OrtClipEncoders, rows } from '../clip/ort-encoders.ts';
import { decodeImageRGB } from '../clip/preprocess.ts';
import { imageFeaturesOf } from '../cocoop/image-features.ts';
import { MODEL_OPTION, TRUNCATE_OPTION } from './common-options.ts';
import { modelDirOption } from './paths.ts';
import { parseCommandArgs, stringList, UsageError, type CommandSpec } from './usage.ts';

export const embedSpec: CommandSpec = {
  name: 'embed',
  summary: 'projected, un-normalised CLIP features of prompts and images (HF get_text_features / get_image_features)',
  options: {
    model: MODEL_OPTION,
    text: { type: 'string', value: 'T', multiple: true, help: 'a prompt' },
    image: { type: 'string', value: 'PATH', multiple: true, help: 'an image file (JPEG, PNG, WebP)' },
    truncate: TRUNCATE_OPTION,
  },
  notes: ['At least one --text or --image. Output: {"text_embeds": number[][], "image_embeds": number[][]} (keys only for what was asked)'],
};

export async function embedCommand(argv: string[]): Promise<unknown> {
  const values = parseCommandArgs(embedSpec, argv);
  const dir = modelDirOption(values, 'embed');
  const texts = stringList(values, 'text');
  const images = stringList(values, 'image');
  if (texts.length === 0 && images.length === 0) throw new UsageError('embed: give at least one --text or --image');

  const model = loadClipModel(dir);
  // Validate every input before the (slow) first graph build.
  const ids = texts.map((t) => model.tokenizer.encode(t, { truncate: values.truncate === true }));
  // Decode every image up front too (cheap next to the towers), so a bad file fails before any model work.
  for (const p of images) await decodeImageRGB(p);

  const encoders = new OrtClipEncoders(model);
  try {
    const out: { text_embeds?: number[][]; image_embeds?: number[][] } = {};
    if (ids.length > 0) out.text_embeds = rows(await encoders.encodeTokenIds(ids), ids.length);
    if (images.length > 0) out.image_embeds = rows(await imageFeaturesOf(encoders, images), images.length);
    return out;
  } finally {
    await encoders.release();
  }
}
