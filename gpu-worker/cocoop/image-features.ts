// Test-time image features for a list of image files: decode + CLIP preprocessing (resize, center
// crop), then the ORT image tower in batches. Every file is validated before any model work.
import type { OrtClipEncoders } from '../clip/ort-encoders.ts';
import { preprocessImage } from '../clip/preprocess.ts';

export const IMAGE_BATCH = 16;

/** [n, P] projected, un-normalised image features of `paths`, in order. */
export async function imageFeaturesOf(
  encoders: OrtClipEncoders,
  paths: string[],
  onProgress?: (done: number, total: number) => void,
): Promise<Float32Array> {
  const { config, preprocess } = encoders.model;
  const p = config.projectionDim;
  const out = new Float32Array(paths.length * p);
  for (let start = 0; start < paths.length; start += IMAGE_BATCH) {
    const chunk = paths.slice(start, start + IMAGE_BATCH);
    const pixels = await Promise.all(chunk.map((path) => preprocessImage(path, preprocess)));
    const size = pixels[0].length;
    const batch = new Float32Array(chunk.length * size);
    pixels.forEach((px, i) => batch.set(px, i * size));
    out.set(await encoders.encodePixels(batch, chunk.length), start * p);
    onProgress?.(Math.min(start + IMAGE_BATCH, paths.length), paths.length);
  }
  return out;
}
