/**
 * CLIP image preprocessing, following the Hugging Face CLIPImageProcessor:
 * decode → RGB (alpha dropped, as PIL `convert('RGB')` does) → resize the
 * shortest side to `size` (bicubic, PIL-style antialiased convolution with
 * uint8 intermediates) → center crop → /255 → (x − mean) / std → CHW float32.
 *
 * Decoding uses sharp; everything after decoding is plain TypeScript so it is
 * deterministic and identical wherever it runs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { BICUBIC, BILINEAR, resizeRegion, type RGBImage } from './image-resize.ts';

export class ImageError extends Error {
  override name = 'ImageError';
}

export class PreprocessConfigError extends Error {
  override name = 'PreprocessConfigError';
}

export type ResampleFilter = 'bicubic' | 'bilinear';

export interface PreprocessConfig {
  /** Target length of the shortest side (or of both sides when resizeMode is 'exact'). */
  size: number;
  mean: [number, number, number];
  std: [number, number, number];
  /** Side of the center crop; defaults to `size`. */
  cropSize?: number;
  /** 'shortest_edge' (default) keeps the aspect ratio; 'exact' resizes to size×size. */
  resizeMode?: 'shortest_edge' | 'exact';
  /** Resampling filter; defaults to bicubic. */
  resample?: ResampleFilter;
}

export type { RGBImage } from './image-resize.ts';

export const OPENAI_CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
export const OPENAI_CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

// ---------------------------------------------------------------------------
// preprocessor_config.json
// ---------------------------------------------------------------------------

/**
 * Reads `modelDir/preprocessor_config.json` when present (HF layout), falling
 * back to OpenAI CLIP values and `imageSize`. The resulting crop must equal the
 * model's `imageSize`.
 */
export function loadPreprocessConfig(modelDir: string, imageSize: number): PreprocessConfig {
  const file = join(modelDir, 'preprocessor_config.json');
  const defaults: PreprocessConfig = {
    size: imageSize,
    mean: [...OPENAI_CLIP_MEAN],
    std: [...OPENAI_CLIP_STD],
  };
  if (!existsSync(file)) return defaults;

  const fail = (msg: string): never => {
    throw new PreprocessConfigError(`${file}: ${msg}`);
  };
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return fail(err instanceof SyntaxError ? `invalid JSON (${err.message.split('\n')[0]})` : `cannot read (${err.code ?? err.message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail('must contain a JSON object');
  const j = raw as Record<string, unknown>;

  const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
  const triple = (key: string, fallback: [number, number, number], positive: boolean): [number, number, number] => {
    const v = j[key];
    if (v === undefined || v === null) return [...fallback];
    const arr = typeof v === 'number' ? [v, v, v] : v;
    if (!Array.isArray(arr) || arr.length !== 3 || !arr.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      return fail(`"${key}" must be a number or an array of 3 finite numbers, got ${JSON.stringify(v)}`);
    }
    if (positive && !arr.every((x) => (x as number) > 0)) fail(`"${key}" values must be > 0, got ${JSON.stringify(v)}`);
    return arr as [number, number, number];
  };

  let mean = triple('image_mean', OPENAI_CLIP_MEAN, false);
  let std = triple('image_std', OPENAI_CLIP_STD, true);
  if (j.do_normalize === false) {
    mean = [0, 0, 0];
    std = [1, 1, 1];
  }

  if (j.do_resize === false) fail('"do_resize": false is not supported (inputs must be resized to the model resolution)');
  if (j.do_rescale === false) fail('"do_rescale": false is not supported');
  if (j.rescale_factor !== undefined && j.rescale_factor !== null) {
    if (typeof j.rescale_factor !== 'number' || Math.abs(j.rescale_factor - 1 / 255) > 1e-9) {
      fail(`"rescale_factor" must be 1/255, got ${JSON.stringify(j.rescale_factor)}`);
    }
  }

  let resample: ResampleFilter = 'bicubic';
  if (j.resample !== undefined && j.resample !== null) {
    if (j.resample === 3) resample = 'bicubic';
    else if (j.resample === 2) resample = 'bilinear';
    else fail(`"resample" ${JSON.stringify(j.resample)} is not supported (2 = bilinear, 3 = bicubic)`);
  }

  let size = imageSize;
  let resizeMode: 'shortest_edge' | 'exact' = 'shortest_edge';
  const s = j.size;
  if (s !== undefined && s !== null) {
    if (isPosInt(s)) {
      size = s;
    } else if (typeof s === 'object' && !Array.isArray(s)) {
      const o = s as Record<string, unknown>;
      if (o.shortest_edge !== undefined) {
        if (!isPosInt(o.shortest_edge)) fail(`"size.shortest_edge" must be a positive integer, got ${JSON.stringify(o.shortest_edge)}`);
        size = o.shortest_edge as number;
      } else if (o.height !== undefined || o.width !== undefined) {
        if (!isPosInt(o.height) || !isPosInt(o.width)) fail(`"size" height/width must be positive integers, got ${JSON.stringify(s)}`);
        if (o.height !== o.width) fail(`non-square "size" ${JSON.stringify(s)} is not supported`);
        size = o.height as number;
        resizeMode = 'exact';
      } else {
        fail(`"size" must be a number, {"shortest_edge"} or {"height","width"}, got ${JSON.stringify(s)}`);
      }
    } else {
      fail(`"size" must be a number, {"shortest_edge"} or {"height","width"}, got ${JSON.stringify(s)}`);
    }
  }

  let cropSize: number | undefined;
  if (j.do_center_crop === false) {
    if (resizeMode === 'shortest_edge') {
      fail('"do_center_crop": false with shortest-edge resizing yields non-square inputs; not supported');
    }
  } else {
    const c = j.crop_size;
    if (c === undefined || c === null) {
      // HF CLIPImageProcessor crops even without an explicit crop_size; crop to the model resolution.
      cropSize = imageSize;
    } else if (isPosInt(c)) {
      cropSize = c;
    } else if (typeof c === 'object' && !Array.isArray(c)) {
      const o = c as Record<string, unknown>;
      if (!isPosInt(o.height) || !isPosInt(o.width)) fail(`"crop_size" height/width must be positive integers, got ${JSON.stringify(c)}`);
      if (o.height !== o.width) fail(`non-square "crop_size" ${JSON.stringify(c)} is not supported`);
      cropSize = o.height as number;
    } else {
      fail(`"crop_size" must be a number or {"height","width"}, got ${JSON.stringify(c)}`);
    }
  }

  const outSize = cropSize ?? size;
  if (outSize !== imageSize) {
    fail(`produces ${outSize}×${outSize} images but the model's vision tower expects ${imageSize}×${imageSize}`);
  }
  const cfg: PreprocessConfig = { size, mean, std, resizeMode, resample };
  if (cropSize !== undefined && cropSize !== size) cfg.cropSize = cropSize;
  return cfg;
}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

/**
 * Decode an image file/bytes to 8-bit HWC RGB. Alpha is dropped without
 * compositing, grayscale is replicated to 3 channels, 16-bit input is reduced
 * to 8 bits, EXIF orientation is not applied (all as PIL `convert('RGB')`).
 */
export async function decodeImageRGB(input: Uint8Array | string, sourceName?: string): Promise<RGBImage> {
  const name = sourceName ?? (typeof input === 'string' ? input : '<image bytes>');
  let bytes: Uint8Array;
  if (typeof input === 'string') {
    try {
      bytes = await readFile(input);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new ImageError(`${name}: cannot read image file (${err.code ?? err.message})`);
    }
  } else {
    bytes = input;
  }
  if (bytes.byteLength === 0) throw new ImageError(`${name}: empty file, not an image`);
  try {
    const { data, info } = await sharp(bytes, { failOn: 'error', autoOrient: false })
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
      throw new Error(`decoder produced ${info.channels} channels (${data.length} bytes for ${info.width}×${info.height})`);
    }
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    throw new ImageError(`${name}: cannot decode image (${msg})`);
  }
}

/** Output size of a shortest-edge resize: short side → size, long side → floor(size·long/short). */
export function shortestEdgeSize(width: number, height: number, size: number): { width: number; height: number } {
  if (width <= height) return { width: size, height: Math.floor((size * height) / width) };
  return { width: Math.floor((size * width) / height), height: size };
}

// ---------------------------------------------------------------------------
// Full pipeline
// ---------------------------------------------------------------------------

/** Resize, center-crop and normalise a decoded RGB image into a [3, S, S] CHW Float32Array. */
export function preprocessRGB(img: RGBImage, cfg: PreprocessConfig): Float32Array {
  const { width, height, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new ImageError(`invalid image dimensions ${width}×${height}`);
  }
  if (data.length !== width * height * 3) {
    throw new ImageError(`image data has ${data.length} bytes, expected ${width * height * 3} for ${width}×${height} RGB`);
  }
  if (!Number.isInteger(cfg.size) || cfg.size <= 0) throw new ImageError(`invalid preprocess size ${cfg.size}`);
  const crop = cfg.cropSize ?? cfg.size;
  if (!Number.isInteger(crop) || crop <= 0) throw new ImageError(`invalid crop size ${crop}`);
  const filter = cfg.resample === 'bilinear' ? BILINEAR : BICUBIC;

  const target = cfg.resizeMode === 'exact' ? { width: cfg.size, height: cfg.size } : shortestEdgeSize(width, height, cfg.size);
  // Crop offsets in resized coordinates (negative → zero padding, as HF center_crop).
  const top = Math.floor((target.height - crop) / 2);
  const left = Math.floor((target.width - crop) / 2);
  const y0 = Math.max(0, top);
  const y1 = Math.min(target.height, top + crop);
  const x0 = Math.max(0, left);
  const x1 = Math.min(target.width, left + crop);

  // Only the part of the resized image that survives the crop is computed;
  // an image already at the target size is not resampled at all.
  let region: RGBImage;
  if (target.width === width && target.height === height) {
    const regW = x1 - x0;
    const sub = new Uint8Array((y1 - y0) * regW * 3);
    for (let y = y0; y < y1; y++) sub.set(data.subarray((y * width + x0) * 3, (y * width + x1) * 3), (y - y0) * regW * 3);
    region = { width: regW, height: y1 - y0, data: sub };
  } else {
    region = resizeRegion(img, target.width, target.height, x0, x1, y0, y1, filter);
  }

  // Rescale and normalise in float32 arithmetic, like HF (x·(1/255) → f32, then (x − mean) / std in f32).
  const plane = crop * crop;
  const out = new Float32Array(3 * plane);
  const f = Math.fround;
  const scale = 1 / 255;
  for (let c = 0; c < 3; c++) {
    const mean = f(cfg.mean[c]);
    const std = f(cfg.std[c]);
    // Lookup per byte value; padding pixels are value 0.
    const lut = new Float32Array(256);
    for (let v = 0; v < 256; v++) lut[v] = f(f(f(v * scale) - mean) / std);
    out.fill(lut[0], c * plane, (c + 1) * plane);
    for (let y = y0; y < y1; y++) {
      const oy = y - top;
      const srcRow = (y - y0) * region.width * 3;
      const dstRow = c * plane + oy * crop;
      for (let x = x0; x < x1; x++) out[dstRow + (x - left)] = lut[region.data[srcRow + (x - x0) * 3 + c]];
    }
  }
  return out;
}

/** Decode and preprocess an image into a [3, S, S] CHW Float32Array. */
export async function preprocessImage(input: Uint8Array | string, cfg: PreprocessConfig, sourceName?: string): Promise<Float32Array> {
  const img = await decodeImageRGB(input, sourceName);
  try {
    return preprocessRGB(img, cfg);
  } catch (e) {
    if (e instanceof ImageError) {
      const name = sourceName ?? (typeof input === 'string' ? input : '<image bytes>');
      throw new ImageError(`${name}: ${e.message}`);
    }
    throw e;
  }
}
