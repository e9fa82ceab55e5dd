// Training and test views of a decoded image, as the official CoOp/CoCoOp (Dassl) pipeline builds them:
//   train: RandomResizedCrop(S, scale=(0.08, 1), ratio=(3/4, 4/3), bicubic) → RandomHorizontalFlip(0.5)
//          → ToTensor → Normalize
//   test:  the plain CLIP preprocessing (resize shortest side, center crop, normalise) = preprocessRGB.
// Random draws come from a SeededRandom, so a view is a pure function of (image, seed).
import { BICUBIC, resizeRegion, type Filter, type RGBImage } from '../clip/image-resize.ts';
import { ImageError, preprocessRGB, type PreprocessConfig } from '../clip/preprocess.ts';
import type { SeededRandom } from '../clip/random.ts';

/** A crop rectangle in pixel coordinates (torchvision's i, j, h, w). */
export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

export interface RandomResizedCropOptions {
  scale?: [number, number]; // fraction of the image area, default (0.08, 1)
  ratio?: [number, number]; // width / height, default (3/4, 4/3)
}

export const RRC_SCALE: [number, number] = [0.08, 1];
export const RRC_RATIO: [number, number] = [3 / 4, 4 / 3];

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Uniform integer in [lo, hi) (torch.randint(lo, hi)). */
function randint(rng: SeededRandom, lo: number, hi: number): number {
  return lo + Math.min(hi - lo - 1, Math.floor(rng.uniform() * (hi - lo)));
}

/**
 * torchvision RandomResizedCrop.get_params: up to 10 attempts of (area fraction ~ U(scale),
 * log aspect ratio ~ U(log ratio)); the first box that fits is placed uniformly at random.
 * Otherwise the center-crop fallback: the whole image, clamped to the ratio range.
 */
export function randomResizedCropBox(width: number, height: number, rng: SeededRandom, opts: RandomResizedCropOptions = {}): CropBox {
  const scale = opts.scale ?? RRC_SCALE;
  const ratio = opts.ratio ?? RRC_RATIO;
  const area = width * height;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * (scale[0] + (scale[1] - scale[0]) * rng.uniform());
    const aspect = Math.exp(logLo + (logHi - logLo) * rng.uniform());
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = randint(rng, 0, height - h + 1);
      const left = randint(rng, 0, width - w + 1);
      return { top, left, height: h, width: w };
    }
  }
  const inRatio = width / height;
  let w: number;
  let h: number;
  if (inRatio < Math.min(ratio[0], ratio[1])) {
    w = width;
    h = roundHalfEven(w / Math.min(ratio[0], ratio[1]));
  } else if (inRatio > Math.max(ratio[0], ratio[1])) {
    h = height;
    w = roundHalfEven(h * Math.max(ratio[0], ratio[1]));
  } else {
    w = width;
    h = height;
  }
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w };
}

function checkImage(img: RGBImage): void {
  const { width, height, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new ImageError(`invalid image dimensions ${width}×${height}`);
  }
  if (data.length !== width * height * 3) {
    throw new ImageError(`image data has ${data.length} bytes, expected ${width * height * 3} for ${width}×${height} RGB`);
  }
}

/** The pixels of `box` (which must lie inside the image), as a new image. */
export function cropRGB(img: RGBImage, box: CropBox): RGBImage {
  const { top, left, height: h, width: w } = box;
  if (top < 0 || left < 0 || w <= 0 || h <= 0 || top + h > img.height || left + w > img.width) {
    throw new ImageError(`crop box ${w}×${h}+${left}+${top} is outside the ${img.width}×${img.height} image`);
  }
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const s = ((top + y) * img.width + left) * 3;
    out.set(img.data.subarray(s, s + w * 3), y * w * 3);
  }
  return { width: w, height: h, data: out };
}

/** torchvision F.resized_crop on a PIL image: crop, then resize to size×size (PIL antialiased resampling). */
export function resizedCrop(img: RGBImage, box: CropBox, size: number, filter: Filter = BICUBIC): RGBImage {
  const crop = cropRGB(img, box);
  if (crop.width === size && crop.height === size) return crop;
  return resizeRegion(crop, size, size, 0, size, 0, size, filter);
}

/** Mirror left-right. */
export function flipHorizontal(img: RGBImage): RGBImage {
  const { width: w, height: h, data } = img;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < h; y++) {
    const row = y * w * 3;
    for (let x = 0; x < w; x++) {
      const s = row + x * 3;
      const d = row + (w - 1 - x) * 3;
      out[d] = data[s];
      out[d + 1] = data[s + 1];
      out[d + 2] = data[s + 2];
    }
  }
  return { width: w, height: h, data: out };
}

/** ToTensor + Normalize in float32 (x/255, then (x − mean)/std): HWC uint8 → CHW Float32Array [3, H, W]. */
export function normalizeToCHW(img: RGBImage, mean: readonly number[], std: readonly number[]): Float32Array {
  const plane = img.width * img.height;
  const out = new Float32Array(3 * plane);
  const f = Math.fround;
  for (let c = 0; c < 3; c++) {
    const m = f(mean[c]);
    const s = f(std[c]);
    const lut = new Float32Array(256);
    for (let v = 0; v < 256; v++) lut[v] = f(f(f(v / 255) - m) / s);
    const base = c * plane;
    for (let p = 0; p < plane; p++) out[base + p] = lut[img.data[p * 3 + c]];
  }
  return out;
}

/** The model's input side S (the crop size, else the resize size). */
export function viewSize(cfg: PreprocessConfig): number {
  return cfg.cropSize ?? cfg.size;
}

/**
 * One training view [3, S, S]: RandomResizedCrop (bicubic) + RandomHorizontalFlip(0.5) + normalise.
 * Draws: the crop box first (2 uniforms per attempt, then 2 for the position), then one for the flip.
 */
export function trainView(img: RGBImage, cfg: PreprocessConfig, rng: SeededRandom, opts: RandomResizedCropOptions = {}): Float32Array {
  checkImage(img);
  const size = viewSize(cfg);
  const box = randomResizedCropBox(img.width, img.height, rng, opts);
  let view = resizedCrop(img, box, size, BICUBIC);
  if (rng.uniform() < 0.5) view = flipHorizontal(view);
  return normalizeToCHW(view, cfg.mean, cfg.std);
}

/** The test-time view: the plain CLIP preprocessing (resize shortest side, center crop, normalise). */
export function testView(img: RGBImage, cfg: PreprocessConfig): Float32Array {
  return preprocessRGB(img, cfg);
}
