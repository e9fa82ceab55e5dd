// The "mixed-shift" downstream domain: every image independently gets ONE of four shifts, drawn from
// its own seeded random stream — night (night-domain.ts), fog, a warm colour cast, or low contrast.
// Unlike the night domain (one near-constant global shift that a static prompt context can absorb),
// the shift here changes from image to image: the setting in which an image-conditional prompt
// (CoCoOp's meta-net) has something to condition on.
import type { RGBImage } from '../../gpu-worker/clip/image-resize.ts';
import { SeededRandom } from '../../gpu-worker/clip/random.ts';
import { applyNight } from './night-domain.ts';
import { renderScene } from './raster-renderer.ts';
import type { RGB, Scene } from './world.ts';

export type ShiftKind = 'night' | 'fog' | 'cast' | 'low-contrast';
export const SHIFT_KINDS: ShiftKind[] = ['night', 'fog', 'cast', 'low-contrast'];

/** Fog: every pixel is blended toward this light grey with a density drawn uniformly per image. */
export const FOG_COLOR: RGB = [200, 204, 210];
export const FOG_DENSITY_RANGE: [number, number] = [0.45, 0.65];

/** Warm colour cast: channel c becomes v · (1 + s · (CAST_GAIN[c] − 1)), strength s uniform per image. */
export const CAST_GAIN: [number, number, number] = [1.25, 1.0, 0.55];
export const CAST_STRENGTH_RANGE: [number, number] = [0.7, 1.0];

/** Low contrast: every channel value is pulled toward the image's mean of that channel by a factor k. */
export const CONTRAST_FACTOR_RANGE: [number, number] = [0.3, 0.45];

function draw(rng: SeededRandom, [lo, hi]: [number, number]): number {
  return lo + (hi - lo) * rng.uniform();
}

function mapPixels(img: RGBImage, f: (v: number, c: number) => number): RGBImage {
  const out = new Uint8Array(img.data.length);
  for (let i = 0; i < img.data.length; i++) {
    const v = f(img.data[i], i % 3);
    out[i] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
  }
  return { width: img.width, height: img.height, data: out };
}

/** New image: (1 − d) · v + d · FOG_COLOR, d drawn from FOG_DENSITY_RANGE. */
export function applyFog(img: RGBImage, rng: SeededRandom): RGBImage {
  const d = draw(rng, FOG_DENSITY_RANGE);
  return mapPixels(img, (v, c) => (1 - d) * v + d * FOG_COLOR[c]);
}

/** New image: a warm cast (red up, blue down), strength drawn from CAST_STRENGTH_RANGE. */
export function applyCast(img: RGBImage, rng: SeededRandom): RGBImage {
  const s = draw(rng, CAST_STRENGTH_RANGE);
  const gain = CAST_GAIN.map((g) => 1 + s * (g - 1));
  return mapPixels(img, (v, c) => v * gain[c]);
}

/** New image: mean_c + k · (v − mean_c) per channel, k drawn from CONTRAST_FACTOR_RANGE. */
export function applyLowContrast(img: RGBImage, rng: SeededRandom): RGBImage {
  const k = draw(rng, CONTRAST_FACTOR_RANGE);
  const sum = [0, 0, 0];
  for (let i = 0; i < img.data.length; i++) sum[i % 3] += img.data[i];
  const mean = sum.map((s) => s / (img.data.length / 3));
  return mapPixels(img, (v, c) => mean[c] + k * (v - mean[c]));
}

export const SHIFTS: Record<ShiftKind, (img: RGBImage, rng: SeededRandom) => RGBImage> = {
  night: applyNight,
  fog: applyFog,
  cast: applyCast,
  'low-contrast': applyLowContrast,
};

/** One shift drawn uniformly from SHIFT_KINDS with `rng`, then applied with the same stream. */
export function applyMixedShift(img: RGBImage, rng: SeededRandom): { kind: ShiftKind; image: RGBImage } {
  const kind = SHIFT_KINDS[Math.min(SHIFT_KINDS.length - 1, Math.floor(rng.uniform() * SHIFT_KINDS.length))];
  return { kind, image: SHIFTS[kind](img, rng) };
}

/** `scene` rendered clean at `size`, then shifted by the shift its own stream (seeded `seed`) draws. */
export function renderMixedShiftScene(scene: Scene, size: number, seed: number): RGBImage {
  return applyMixedShift(renderScene(scene, size), new SeededRandom(seed)).image;
}
