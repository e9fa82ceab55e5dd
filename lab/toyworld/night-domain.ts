// The shifted downstream domain "night": a clean render degraded as if photographed at night —
// slight blur, low brightness, a bluish colour cast, then gaussian sensor noise. Colours get harder
// to tell apart but remain learnable.

import type { RGBImage } from '../../gpu-worker/clip/image-resize.ts';
import { SeededRandom } from '../../gpu-worker/clip/random.ts';
import { renderScene } from './raster-renderer.ts';
import type { Scene } from './world.ts';

/** Brightness factor, drawn uniformly per image from this range. */
export const NIGHT_BRIGHTNESS_RANGE: [number, number] = [0.45, 0.65];
/** Per-channel multipliers (R, G, B) applied with the brightness: a bluish cast. */
export const NIGHT_CAST: [number, number, number] = [0.8, 0.92, 1.2];
/** Std of the additive gaussian sensor noise (0..255 units), drawn uniformly per image; the noise
 *  is independent per pixel and channel. */
export const NIGHT_NOISE_SIGMA_RANGE: [number, number] = [8, 14];
/** Separable blur kernel applied before darkening (3×3 = outer product, normalized, edges clamped). */
export const NIGHT_BLUR_KERNEL: [number, number, number] = [0.25, 0.5, 0.25];

/** Returns a new image: blur → brightness × cast → + noise → clamp/round. `img` is untouched. */
export function applyNight(img: RGBImage, rng: SeededRandom): RGBImage {
  const { width: W, height: H, data } = img;
  const brightness = NIGHT_BRIGHTNESS_RANGE[0] + (NIGHT_BRIGHTNESS_RANGE[1] - NIGHT_BRIGHTNESS_RANGE[0]) * rng.uniform();
  const sigma = NIGHT_NOISE_SIGMA_RANGE[0] + (NIGHT_NOISE_SIGMA_RANGE[1] - NIGHT_NOISE_SIGMA_RANGE[0]) * rng.uniform();
  const [k0, k1, k2] = NIGHT_BLUR_KERNEL;
  // Horizontal pass.
  const tmp = new Float32Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const xl = x > 0 ? x - 1 : 0;
      const xr = x < W - 1 ? x + 1 : W - 1;
      const row = y * W;
      for (let c = 0; c < 3; c++) {
        tmp[(row + x) * 3 + c] = k0 * data[(row + xl) * 3 + c] + k1 * data[(row + x) * 3 + c] + k2 * data[(row + xr) * 3 + c];
      }
    }
  }
  // Vertical pass, darkening, cast and noise.
  const out = new Uint8Array(W * H * 3);
  const gain = [brightness * NIGHT_CAST[0], brightness * NIGHT_CAST[1], brightness * NIGHT_CAST[2]];
  for (let y = 0; y < H; y++) {
    const yu = y > 0 ? y - 1 : 0;
    const yd = y < H - 1 ? y + 1 : H - 1;
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < 3; c++) {
        const v = k0 * tmp[(yu * W + x) * 3 + c] + k1 * tmp[(y * W + x) * 3 + c] + k2 * tmp[(yd * W + x) * 3 + c];
        const n = v * gain[c] + sigma * rng.normal();
        out[(y * W + x) * 3 + c] = n < 0 ? 0 : n > 255 ? 255 : Math.round(n);
      }
    }
  }
  return { width: W, height: H, data: out };
}

/** `scene` rendered clean at `size`, then degraded with the night pipeline seeded by `seed`. */
export function renderNightScene(scene: Scene, size: number, seed: number): RGBImage {
  return applyNight(renderScene(scene, size), new SeededRandom(seed));
}
