// PNG encoding of toy-world images (for fixtures, debugging and customer-style uploads).

import sharp from 'sharp';
import type { RGBImage } from '../../gpu-worker/clip/image-resize.ts';

/** Lossless PNG of an 8-bit RGB image. */
export async function encodePng(img: RGBImage): Promise<Buffer> {
  if (img.data.length !== img.width * img.height * 3) {
    throw new Error(`encodePng: data has ${img.data.length} bytes, expected ${img.width}×${img.height}×3`);
  }
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).png().toBuffer();
}
