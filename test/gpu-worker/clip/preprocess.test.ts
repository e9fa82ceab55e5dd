import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  decodeImageRGB,
  ImageError,
  loadPreprocessConfig,
  OPENAI_CLIP_MEAN,
  OPENAI_CLIP_STD,
  preprocessImage,
  preprocessRGB,
  PreprocessConfigError,
  shortestEdgeSize,
  type PreprocessConfig,
} from '../../../gpu-worker/clip/preprocess.ts';
import { useTmpDir } from '../../helpers/tmp.ts';

const dir = useTmpDir('preprocess-test-');

const openai: PreprocessConfig = { size: 8, mean: OPENAI_CLIP_MEAN, std: OPENAI_CLIP_STD };

/** Deterministic pseudo-random RGB pixels. */
function noisePixels(w: number, h: number, channels = 3, seed = 1): Buffer {
  const buf = Buffer.alloc(w * h * channels);
  let s = seed >>> 0;
  for (let i = 0; i < buf.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    buf[i] = s >>> 24;
  }
  return buf;
}

/** Straight-loop reference: HWC uint8 → CHW, (p/255 − mean)/std, float32 like numpy. */
function manualNormalize(hwc: Uint8Array, w: number, h: number, mean: number[], std: number[]): Float32Array {
  const out = new Float32Array(3 * w * h);
  const f = Math.fround;
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const p = hwc[(y * w + x) * 3 + c];
        out[c * w * h + y * w + x] = f(f(f(p / 255) - f(mean[c])) / f(std[c]));
      }
    }
  }
  return out;
}

function channelMean(t: Float32Array, c: number, s: number, x0 = 0, x1 = s, y0 = 0, y1 = s): number {
  let sum = 0;
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) sum += t[c * s * s + y * s + x];
  return sum / ((y1 - y0) * (x1 - x0));
}

/** Normalised value of an 8-bit level in channel c under the OpenAI statistics. */
function norm(level: number, c: number): number {
  return (level / 255 - OPENAI_CLIP_MEAN[c]) / OPENAI_CLIP_STD[c];
}

describe('preprocessRGB', () => {
  it('an image already S×S passes through with no resampling (exact values)', async () => {
    const S = 8;
    const raw = noisePixels(S, S);
    const png = await sharp(raw, { raw: { width: S, height: S, channels: 3 } }).png().toBuffer();
    const out = await preprocessImage(png, openai);
    const want = manualNormalize(raw, S, S, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD);
    expect(out.length).toBe(3 * S * S);
    expect(Array.from(out)).toEqual(Array.from(want));
    // And against plain double-precision arithmetic, within float32 rounding.
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < S * S; i++) expect(out[c * S * S + i]).toBeCloseTo(norm(raw[i * 3 + c], c), 5);
    }
  });

  it('a 2:1 image is resized to S on the short side and center-cropped to the middle', async () => {
    // 64×32: left quarter red, middle half green, right quarter blue. After resizing to 16×8 and
    // cropping 8×8 from the middle, only the green band should remain.
    const w = 64;
    const h = 32;
    const raw = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const o = (y * w + x) * 3;
        if (x < 16) raw[o] = 255;
        else if (x < 48) raw[o + 1] = 255;
        else raw[o + 2] = 255;
      }
    }
    const S = 8;
    expect(shortestEdgeSize(w, h, S)).toEqual({ width: 16, height: 8 });
    const out = preprocessRGB({ width: w, height: h, data: raw }, { ...openai, size: S });
    expect(out.length).toBe(3 * S * S);
    // The crop covers resized columns 4..11 = source columns 16..47: pure green away from the
    // band edges (the 4× downscale kernel reaches 8 source pixels, i.e. 2 output columns).
    expect(channelMean(out, 0, S, 2, 6)).toBeCloseTo(norm(0, 0), 5);
    expect(channelMean(out, 1, S, 2, 6)).toBeCloseTo(norm(255, 1), 5);
    expect(channelMean(out, 2, S, 2, 6)).toBeCloseTo(norm(0, 2), 5);
    // Edge columns are still mostly green; red/blue bleed in only slightly.
    expect(channelMean(out, 1, S)).toBeGreaterThan(norm(200, 1));
    expect(channelMean(out, 0, S)).toBeLessThan(norm(60, 0));

    // Same idea in portrait: top/bottom bands are cropped away.
    const tall = Buffer.alloc(h * w * 3);
    for (let y = 0; y < w; y++) for (let x = 0; x < h; x++) tall[(y * h + x) * 3 + (y < 16 ? 0 : y < 48 ? 1 : 2)] = 255;
    const out2 = preprocessRGB({ width: h, height: w, data: tall }, { ...openai, size: S });
    expect(out2.length).toBe(3 * S * S);
    expect(channelMean(out2, 1, S, 0, S, 2, 6)).toBeCloseTo(norm(255, 1), 5);
    expect(channelMean(out2, 0, S, 0, S, 2, 6)).toBeCloseTo(norm(0, 0), 5);
    expect(channelMean(out2, 2, S, 0, S, 2, 6)).toBeCloseTo(norm(0, 2), 5);
  });

  it('a left/right split image keeps the middle: crop window is centered', () => {
    // 30×10 image, columns 0..14 black, 15..29 white; S=10 → no resize, crop columns 10..19.
    const w = 30;
    const h = 10;
    const raw = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 15; x < w; x++) raw.fill(255, (y * w + x) * 3, (y * w + x) * 3 + 3);
    const out = preprocessRGB({ width: w, height: h, data: raw }, { size: 10, mean: [0, 0, 0], std: [1, 1, 1] });
    const row = Array.from(out.subarray(0, 10));
    expect(row).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
  });

  it('cropSize smaller than size crops the centre after resizing', () => {
    const raw = noisePixels(12, 12);
    const out = preprocessRGB({ width: 12, height: 12, data: raw }, { size: 12, cropSize: 6, mean: [0, 0, 0], std: [1, 1, 1] });
    expect(out.length).toBe(3 * 36);
    // 12×12 with size 12: no resize; crop rows/cols 3..8.
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 6; y++) {
        for (let x = 0; x < 6; x++) expect(out[c * 36 + y * 6 + x]).toBe(Math.fround(raw[((y + 3) * 12 + x + 3) * 3 + c] / 255));
      }
    }
  });

  it('uniform images stay uniform through the bicubic resize (weights sum to one)', () => {
    const raw = new Uint8Array(37 * 23 * 3).fill(77);
    const out = preprocessRGB({ width: 37, height: 23, data: raw }, { size: 16, mean: [0, 0, 0], std: [1, 1, 1] });
    expect(new Set(out).size).toBe(1);
    expect(out[0]).toBe(Math.fround(77 / 255));
  });

  it('bicubic resize + crop matches Pillow (Image.resize BICUBIC, reducing_gap=None) byte for byte', () => {
    // Expected HWC bytes were produced once with Pillow 9.4 from the same synthetic images,
    // following HF CLIPImageProcessor (shortest edge → S, center crop S).
    const golden: [number, number, number, number[]][] = [
      [9, 6, 4, [106, 154, 144, 134, 125, 177, 126, 169, 125, 133, 89, 132, 126, 119, 121, 118, 112, 148, 118, 154, 123, 139, 108, 144, 148, 141, 152, 158, 155, 124, 146, 134, 125, 141, 134, 120, 113, 111, 119, 145, 131, 93, 133, 119, 123, 154, 152, 138]],
      [3, 2, 5, [0, 47, 100, 9, 62, 113, 27, 80, 133, 46, 99, 163, 61, 114, 190, 9, 62, 115, 24, 77, 131, 43, 96, 149, 63, 116, 161, 78, 131, 169, 49, 102, 156, 66, 119, 180, 86, 139, 192, 107, 160, 157, 123, 176, 113, 89, 142, 197, 107, 160, 229, 129, 182, 235, 150, 203, 152, 168, 221, 57, 104, 157, 212, 122, 175, 247, 145, 198, 251, 167, 220, 150, 185, 238, 36]],
      [5, 11, 4, [69, 110, 115, 125, 124, 170, 134, 188, 137, 203, 120, 131, 135, 198, 131, 140, 124, 85, 132, 114, 112, 147, 119, 145, 88, 144, 123, 105, 160, 156, 100, 167, 78, 132, 97, 134, 146, 106, 173, 132, 77, 121, 106, 143, 186, 162, 60, 129]],
    ];
    for (const [W, H, S, want] of golden) {
      const data = new Uint8Array(W * H * 3);
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++) data[(y * W + x) * 3 + c] = (x * 37 + y * 91 + c * 53 + x * y * 7) % 256;
      const out = preprocessRGB({ width: W, height: H, data }, { size: S, mean: [0, 0, 0], std: [1, 1, 1] });
      const got: number[] = [];
      for (let i = 0; i < S * S; i++) for (let c = 0; c < 3; c++) got.push(Math.round(out[c * S * S + i] * 255));
      expect(got).toEqual(want);
    }
  });

  it('rejects inconsistent buffers', () => {
    expect(() => preprocessRGB({ width: 4, height: 4, data: new Uint8Array(10) }, openai)).toThrow(ImageError);
  });
});

describe('decodeImageRGB', () => {
  const W = 24;
  const H = 16;
  const raw = noisePixels(W, H, 3, 9);
  const base = () => sharp(raw, { raw: { width: W, height: H, channels: 3 } });

  it('decodes PNG, JPEG and WebP', async () => {
    const png = await base().png().toBuffer();
    const jpeg = await base().jpeg({ quality: 95 }).toBuffer();
    const webp = await base().webp({ lossless: true }).toBuffer();
    for (const [name, bytes, exact] of [
      ['png', png, true],
      ['jpeg', jpeg, false],
      ['webp', webp, true],
    ] as const) {
      const p = join(dir, `img.${name}`);
      writeFileSync(p, bytes);
      const img = await decodeImageRGB(p);
      expect(img.width).toBe(W);
      expect(img.height).toBe(H);
      expect(img.data.length).toBe(W * H * 3);
      if (exact) expect(Buffer.from(img.data)).toEqual(raw);
      const t = await preprocessImage(p, { size: 16, mean: OPENAI_CLIP_MEAN, std: OPENAI_CLIP_STD });
      expect(t.length).toBe(3 * 16 * 16);
      expect(t.every(Number.isFinite)).toBe(true);
    }
  });

  it('drops alpha without compositing (RGBA → RGB)', async () => {
    const rgba = Buffer.from([10, 20, 30, 0, 40, 50, 60, 128, 70, 80, 90, 255, 200, 210, 220, 7]);
    const png = await sharp(rgba, { raw: { width: 2, height: 2, channels: 4 } }).png().toBuffer();
    const img = await decodeImageRGB(png);
    expect(Array.from(img.data)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 200, 210, 220]);
    const t = await preprocessImage(png, { size: 2, mean: [0, 0, 0], std: [1, 1, 1] });
    expect(t.length).toBe(12);
    expect(t[0]).toBe(Math.fround(10 / 255));
  });

  it('grayscale (with and without alpha) becomes 3 equal channels', async () => {
    const gray = await sharp(Buffer.from([0, 50, 100, 255]), { raw: { width: 2, height: 2, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    expect((await sharp(gray).metadata()).channels).toBe(1);
    const img = await decodeImageRGB(gray);
    expect(Array.from(img.data)).toEqual([0, 0, 0, 50, 50, 50, 100, 100, 100, 255, 255, 255]);

    const grayAlpha = await sharp(Buffer.from([5, 0, 6, 255]), { raw: { width: 2, height: 1, channels: 2 } })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    expect((await sharp(grayAlpha).metadata()).channels).toBe(2);
    expect(Array.from((await decodeImageRGB(grayAlpha)).data)).toEqual([5, 5, 5, 6, 6, 6]);
    const t = await preprocessImage(gray, { size: 2, mean: OPENAI_CLIP_MEAN, std: OPENAI_CLIP_STD });
    expect(t.length).toBe(12);
  });

  it('16-bit PNGs are reduced to 8 bits', async () => {
    const grey16 = await sharp(new Uint16Array([0, 257 * 7, 65535, 257 * 128]), { raw: { width: 2, height: 2, channels: 1 } })
      .toColourspace('grey16')
      .png()
      .toBuffer();
    expect((await sharp(grey16).metadata()).depth).toBe('ushort');
    const img = await decodeImageRGB(grey16);
    expect(Array.from(img.data)).toEqual([0, 0, 0, 7, 7, 7, 255, 255, 255, 128, 128, 128]);
  });

  it('does not apply EXIF orientation (like PIL)', async () => {
    const jpeg = await base().jpeg().withMetadata({ orientation: 6 }).toBuffer();
    expect((await sharp(jpeg).metadata()).orientation).toBe(6);
    const img = await decodeImageRGB(jpeg);
    expect([img.width, img.height]).toEqual([W, H]);
  });

  it('a text file → ImageError naming the path', async () => {
    const p = join(dir, 'notes.txt');
    writeFileSync(p, 'this is not an image\n');
    await expect(decodeImageRGB(p)).rejects.toBeInstanceOf(ImageError);
    await expect(preprocessImage(p, openai)).rejects.toThrow(new RegExp(`^${escape(p)}: cannot decode image`));
  });

  it('missing, empty and truncated files → ImageError naming the path', async () => {
    const missing = join(dir, 'missing.png');
    await expect(decodeImageRGB(missing)).rejects.toThrow(new RegExp(`^${escape(missing)}: cannot read image file \\(ENOENT\\)`));
    const empty = join(dir, 'empty.jpg');
    writeFileSync(empty, '');
    await expect(decodeImageRGB(empty)).rejects.toThrow(new RegExp(`^${escape(empty)}: empty file`));
    const png = await base().png().toBuffer();
    const cut = join(dir, 'cut.png');
    writeFileSync(cut, png.subarray(0, Math.floor(png.length / 2)));
    await expect(decodeImageRGB(cut)).rejects.toThrow(new RegExp(`^${escape(cut)}: cannot decode image`));
    await expect(decodeImageRGB(Buffer.from('nope'), 'upload-17')).rejects.toThrow(/^upload-17: cannot decode image/);
  });
});

describe('loadPreprocessConfig', () => {
  function modelDir(name: string, json?: unknown, rawText?: string): string {
    const d = join(dir, name);
    mkdirSync(d, { recursive: true });
    if (json !== undefined || rawText !== undefined) writeFileSync(join(d, 'preprocessor_config.json'), rawText ?? JSON.stringify(json));
    return d;
  }

  it('defaults to OpenAI statistics and the model image size', () => {
    const cfg = loadPreprocessConfig(modelDir('none'), 224);
    expect(cfg.size).toBe(224);
    expect(cfg.cropSize ?? cfg.size).toBe(224);
    expect(cfg.mean).toEqual(OPENAI_CLIP_MEAN);
    expect(cfg.std).toEqual(OPENAI_CLIP_STD);
  });

  it('reads the HF CLIP layout', () => {
    const cfg = loadPreprocessConfig(
      modelDir('hf', {
        crop_size: { height: 224, width: 224 },
        do_center_crop: true,
        do_normalize: true,
        do_resize: true,
        image_mean: [0.5, 0.4, 0.3],
        image_std: [0.2, 0.25, 0.3],
        resample: 3,
        rescale_factor: 0.00392156862745098,
        size: { shortest_edge: 256 },
      }),
      224,
    );
    expect(cfg).toMatchObject({ size: 256, cropSize: 224, mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3] });
  });

  it('accepts legacy integer size/crop_size', () => {
    const cfg = loadPreprocessConfig(modelDir('legacy', { size: 336, crop_size: 336 }), 336);
    expect(cfg.size).toBe(336);
    expect(cfg.cropSize ?? cfg.size).toBe(336);
  });

  it('custom mean/std/size are honoured end to end', async () => {
    const d = modelDir('custom', { image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5], size: 4, crop_size: 4 });
    const cfg = loadPreprocessConfig(d, 4);
    const raw = noisePixels(4, 4, 3, 3);
    const png = await sharp(raw, { raw: { width: 4, height: 4, channels: 3 } }).png().toBuffer();
    const out = await preprocessImage(png, cfg);
    expect(Array.from(out)).toEqual(Array.from(manualNormalize(raw, 4, 4, [0.5, 0.5, 0.5], [0.5, 0.5, 0.5])));
  });

  it('{height, width} size resizes without keeping aspect ratio', () => {
    const cfg = loadPreprocessConfig(modelDir('exact', { size: { height: 6, width: 6 }, do_center_crop: false }), 6);
    expect(cfg.resizeMode).toBe('exact');
    const raw = new Uint8Array(12 * 6 * 3);
    for (let y = 0; y < 6; y++) for (let x = 0; x < 12; x++) raw[(y * 12 + x) * 3] = x < 6 ? 0 : 255;
    const out = preprocessRGB({ width: 12, height: 6, data: raw }, { ...cfg, mean: [0, 0, 0], std: [1, 1, 1] });
    // Squashed: both halves survive (left columns dark, right columns bright).
    expect(out[0]).toBe(0);
    expect(out[5]).toBe(1);
  });

  const bad: [string, unknown, RegExp, number?][] = [
    ['bad-json', '{"size": ', /invalid JSON/],
    ['not-object', [1, 2], /must contain a JSON object/],
    ['bad-mean', { image_mean: [0.5, 0.5] }, /"image_mean" must be a number or an array of 3 finite numbers/],
    ['bad-std', { image_std: [0.5, 0, 0.5] }, /"image_std" values must be > 0/],
    ['bad-size', { size: 'big' }, /"size" must be a number/],
    ['bad-size-obj', { size: { shortest_edge: -3 } }, /"size.shortest_edge" must be a positive integer/],
    ['bad-crop', { crop_size: { height: 224, width: 200 } }, /non-square "crop_size"/],
    ['crop-mismatch', { size: 336, crop_size: 336 }, /produces 336×336 images but the model's vision tower expects 224×224/],
    ['bad-resample', { resample: 0 }, /"resample" 0 is not supported/],
  ];
  for (const [name, content, pattern] of bad) {
    it(`invalid file (${name}) → error naming it`, () => {
      const d = modelDir(`bad-${name}`, typeof content === 'string' ? undefined : content, typeof content === 'string' ? content : undefined);
      const file = join(d, 'preprocessor_config.json');
      let err: unknown;
      try {
        loadPreprocessConfig(d, 224);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PreprocessConfigError);
      expect((err as Error).message.startsWith(`${file}: `)).toBe(true);
      expect((err as Error).message).toMatch(pattern);
    });
  }
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
