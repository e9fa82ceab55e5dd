// The header-only image probe against files made by sharp (libvips): format and size of JPEG, PNG and
// the three WebP layouts, and refusal of non-images and cut-off files.
import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { ImageProbeError, probeImage, sniffImageType } from '../../../edge/datasets/image-probe.ts';

const base = (w: number, h: number, channels: 3 | 4 = 3) =>
  sharp({ create: { width: w, height: h, channels, background: { r: 200, g: 30, b: 60, alpha: 0.5 } } });

function probeFails(bytes: Uint8Array): ImageProbeError {
  try {
    probeImage(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(ImageProbeError);
    return err as ImageProbeError;
  }
  throw new Error('probeImage accepted the bytes');
}

describe('probeImage', () => {
  it.each([
    ['png', () => base(37, 21).png().toBuffer(), 'image/png'],
    ['jpeg', () => base(37, 21).jpeg().toBuffer(), 'image/jpeg'],
    ['progressive jpeg', () => base(640, 3).jpeg({ progressive: true }).toBuffer(), 'image/jpeg'],
    ['lossy webp (VP8)', () => base(37, 21).webp().toBuffer(), 'image/webp'],
    ['lossless webp (VP8L)', () => base(37, 21).webp({ lossless: true }).toBuffer(), 'image/webp'],
    ['webp with alpha (VP8X)', () => base(37, 21, 4).webp({ alphaQuality: 50 }).toBuffer(), 'image/webp'],
  ] as const)('reads format and size of %s', async (_name, make, type) => {
    const buf = new Uint8Array(await make());
    const meta = await sharp(buf).metadata();
    const info = probeImage(buf);
    expect(info).toEqual({ contentType: type, width: meta.width, height: meta.height });
  });

  it('tells which WebP chunk it read', async () => {
    const lossy = new Uint8Array(await base(5, 4).webp().toBuffer());
    const lossless = new Uint8Array(await base(5, 4).webp({ lossless: true }).toBuffer());
    const alpha = new Uint8Array(await base(5, 4, 4).webp().toBuffer());
    const fourcc = (b: Uint8Array) => Buffer.from(b.subarray(12, 16)).toString('latin1');
    expect([fourcc(lossy), fourcc(lossless), fourcc(alpha)]).toEqual(['VP8 ', 'VP8L', 'VP8X']);
    for (const b of [lossy, lossless, alpha]) expect(probeImage(b)).toMatchObject({ width: 5, height: 4 });
  });

  it('refuses non-images', () => {
    expect(sniffImageType(new TextEncoder().encode('hello world, not an image'))).toBeNull();
    expect(probeFails(new TextEncoder().encode('GIF89a....')).reason).toBe('not_an_image');
    expect(probeFails(new Uint8Array(0)).reason).toBe('not_an_image');
  });

  it('refuses cut-off files of each format', async () => {
    for (const make of [() => base(64, 64).png().toBuffer(), () => base(64, 64).jpeg().toBuffer(), () => base(64, 64).webp().toBuffer()]) {
      const full = new Uint8Array(await make());
      for (const n of [16, 20, 40, full.length - 3]) {
        expect(probeFails(full.subarray(0, n)).reason).toBe('truncated');
      }
    }
  });
});
