// `cocoop embed --model DIR [--text T]... [--image PATH]...`: projected, un-normalised CLIP features
// (Hugging Face get_text_features / get_image_features), computed with ONNX Runtime.
import { loadClipModel } from '../clip/model.ts';
import { OrtClipEncoders, rows } from '../clip/ort-encoders.ts';
import { decodeImageRGB } from '../clip/preprocess.ts';
import { imageFeaturesOf } from '../cocoop/image-features.ts';
import { parseCommandArgs, requireString, stringList, UsageError } from './usage.ts';

export async function embedCommand(argv: string[]): Promise<unknown> {
  const values = parseCommandArgs('embed', argv, {
    model: { type: 'string' },
    text: { type: 'string', multiple: true },
    image: { type: 'string', multiple: true },
    truncate: { type: 'boolean' },
  });
  const dir = requireString(values, 'model', 'embed');
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
