// Random scenes of the toy world. Every sampled scene is unambiguous: the object lies inside the
// canvas and every colour the background can show is far from the object's fill, both in RGB
// distance and in luminance (backgrounds are greys or muted tints).

import type { SeededRandom } from '../../gpu-worker/clip/random.ts';
import { BACKGROUND_KINDS, CLASS_NAMES, COLOR_RGB, classInfo, SCENE_RANGES } from './world.ts';
import type { Background, BackgroundKind, RGB, Scene, ShapeName } from './world.ts';

/** Default circumradius range, as a fraction of the canvas side. */
export const DEFAULT_RADIUS: [number, number] = SCENE_RANGES.radius;
/** Free space kept between the object's circumcircle and the canvas border (canvas fraction). */
export const CANVAS_MARGIN = 0.02;
/** Per-channel uniform jitter of the fill around COLOR_RGB. */
export const FILL_JITTER = 12;
/** Every background colour is at least this far (Euclidean RGB) from the fill… */
export const MIN_BG_DISTANCE = 110;
/** …and differs from it in luma by at least this much. */
export const MIN_BG_LUMA_DIFF = 45;
/** Backgrounds are greys with per-channel tints of at most ± this. */
export const BG_TINT = 20;
/** Luma difference between the two colours of a patterned background. */
export const PATTERN_CONTRAST: [number, number] = [30, 90];
/** After tinting and clamping, the two pattern colours must still differ by this much in luma. */
export const MIN_PATTERN_LUMA_DIFF = 25;
export const NOISE_AMP_RANGE: [number, number] = [15, 40];
export const PERIOD_RANGE: [number, number] = [0.1, 0.3];
/** Attempts at a contrasting background before falling back to plain black / white. */
export const MAX_BACKGROUND_TRIES = 200;

/** Shapes whose look does not change with rotation (their rotation is always 0). */
const ROTATION_FREE: ReadonlySet<ShapeName> = new Set<ShapeName>(['circle', 'ring']);

/** Rec. 709 luma of an 8-bit sRGB colour (0..255). */
export function luma(c: RGB): number {
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
}

function clampByte(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

function rgbDistance(p: RGB, q: RGB): number {
  const dr = p[0] - q[0];
  const dg = p[1] - q[1];
  const db = p[2] - q[2];
  return Math.sqrt(dr * dr + dg * dg + db * db);
}

/**
 * Samples of every colour a background can show: the segment a→b for two-colour kinds (gradient
 * shades and anti-aliased dot edges lie on it), a ± noiseAmp (clamped) for noise, a for plain.
 */
export function backgroundColorSamples(bg: Background, steps = 10): RGB[] {
  const out: RGB[] = [];
  if (bg.kind === 'plain') return [bg.a];
  for (let i = 0; i <= steps; i++) {
    const t = i / steps;
    if (bg.kind === 'noise') {
      const e = bg.noiseAmp * (2 * t - 1);
      out.push([clampByte(bg.a[0] + e), clampByte(bg.a[1] + e), clampByte(bg.a[2] + e)]);
    } else {
      out.push([
        clampByte(bg.a[0] + (bg.b[0] - bg.a[0]) * t),
        clampByte(bg.a[1] + (bg.b[1] - bg.a[1]) * t),
        clampByte(bg.a[2] + (bg.b[2] - bg.a[2]) * t),
      ]);
    }
  }
  return out;
}

/** True when every background colour contrasts with the fill (distance and luma thresholds). */
export function backgroundContrasts(fill: RGB, bg: Background): boolean {
  const yf = luma(fill);
  for (const c of backgroundColorSamples(bg)) {
    if (rgbDistance(c, fill) < MIN_BG_DISTANCE) return false;
    if (Math.abs(luma(c) - yf) < MIN_BG_LUMA_DIFF) return false;
  }
  return true;
}

/** True when the object's circumcircle (plus `margin`) lies inside the unit canvas. */
export function sceneInsideCanvas(scene: Scene, margin = 0): boolean {
  const m = scene.radius + margin;
  return scene.cx - m >= -1e-9 && scene.cx + m <= 1 + 1e-9 && scene.cy - m >= -1e-9 && scene.cy + m <= 1 + 1e-9;
}

function uniformIn(rng: SeededRandom, lo: number, hi: number): number {
  return lo + (hi - lo) * rng.uniform();
}

/** A muted tint: per-channel offsets of at most ±BG_TINT added to a grey level. */
function sampleTint(rng: SeededRandom): RGB {
  return [uniformIn(rng, -BG_TINT, BG_TINT), uniformIn(rng, -BG_TINT, BG_TINT), uniformIn(rng, -BG_TINT, BG_TINT)];
}

function tinted(grey: number, tint: RGB): RGB {
  return [clampByte(grey + tint[0]), clampByte(grey + tint[1]), clampByte(grey + tint[2])];
}

function sampleBackground(rng: SeededRandom, fill: RGB): Background {
  const kind: BackgroundKind = BACKGROUND_KINDS[Math.floor(rng.uniform() * BACKGROUND_KINDS.length)];
  const angle = rng.uniform() * 2 * Math.PI;
  const period = uniformIn(rng, PERIOD_RANGE[0], PERIOD_RANGE[1]);
  const noiseSeed = Math.floor(rng.uniform() * 4294967296) >>> 0;
  const noiseAmp = kind === 'noise' ? uniformIn(rng, NOISE_AMP_RANGE[0], NOISE_AMP_RANGE[1]) : 0;
  const twoColours = kind !== 'plain' && kind !== 'noise';
  const yf = luma(fill);
  // Luma intervals of grey levels on either side of the fill.
  const dark: [number, number] = [0, yf - MIN_BG_LUMA_DIFF];
  const light: [number, number] = [yf + MIN_BG_LUMA_DIFF, 255];

  for (let attempt = 0; attempt < MAX_BACKGROUND_TRIES; attempt++) {
    // Luma span the background needs: the two pattern colours, or a ± noiseAmp.
    let span = 0;
    if (twoColours) span = uniformIn(rng, PATTERN_CONTRAST[0], PATTERN_CONTRAST[1]);
    else if (kind === 'noise') span = 2 * noiseAmp;
    const sides = [dark, light].filter(([lo, hi]) => hi - lo >= span);
    if (sides.length === 0) continue; // span too large for this fill: draw another
    const [lo, hi] = sides[Math.floor(rng.uniform() * sides.length)];
    const g0 = uniformIn(rng, lo, hi - span); // lower grey level of the background
    // Both colours of a pattern share one tint, so they differ by `span` in luma.
    const tint = sampleTint(rng);
    let a: RGB;
    let b: RGB;
    if (twoColours) {
      const low = tinted(g0, tint);
      const high = tinted(g0 + span, tint);
      [a, b] = rng.uniform() < 0.5 ? [low, high] : [high, low];
    } else {
      a = tinted(g0 + span / 2, tint);
      b = a;
    }
    if (twoColours && Math.abs(luma(a) - luma(b)) < MIN_PATTERN_LUMA_DIFF) continue; // clamped away
    const bg: Background = { kind, a, b, angle, period, noiseAmp, noiseSeed };
    if (backgroundContrasts(fill, bg)) return bg;
  }
  // Never reached in practice. Plain black or white always contrasts: a fill of luma Y ≥ 128 is
  // ≥ Y away from black (its largest channel is ≥ Y), and one of luma < 128 is > 127 from white.
  const c: RGB = yf >= 128 ? [0, 0, 0] : [255, 255, 255];
  return { kind: 'plain', a: c, b: c, angle, period, noiseAmp: 0, noiseSeed };
}

export interface SampleSceneOptions {
  /** Circumradius range as a fraction of the canvas side (default DEFAULT_RADIUS). */
  radius?: [number, number];
  /** Largest offset of the center from the canvas center, per axis, as a fraction of the side (default SCENE_RANGES; 0.5: anywhere it fits). */
  positionJitter?: number;
  /** Rotation is uniform in [−maxRotation, maxRotation] radians (default SCENE_RANGES; π: any angle). */
  maxRotation?: number;
}

/** A random scene of class `className` ("<color> <shape>"). */
export function sampleScene(rng: SeededRandom, className: string, opts: SampleSceneOptions = {}): Scene {
  const { color, shape } = classInfo(className);
  const [rMin, rMax] = opts.radius ?? DEFAULT_RADIUS;
  const jitter = opts.positionJitter ?? SCENE_RANGES.positionJitter;
  const maxRot = opts.maxRotation ?? SCENE_RANGES.maxRotation;
  if (!(rMin > 0) || !(rMax >= rMin) || rMax + CANVAS_MARGIN > 0.5) {
    throw new Error(`sampleScene: invalid radius range [${rMin}, ${rMax}]`);
  }
  const radius = uniformIn(rng, rMin, rMax);
  const lo = radius + CANVAS_MARGIN;
  const cx = uniformIn(rng, Math.max(lo, 0.5 - jitter), Math.min(1 - lo, 0.5 + jitter));
  const cy = uniformIn(rng, Math.max(lo, 0.5 - jitter), Math.min(1 - lo, 0.5 + jitter));
  const rotation = ROTATION_FREE.has(shape) ? 0 : maxRot >= Math.PI ? rng.uniform() * 2 * Math.PI : (2 * rng.uniform() - 1) * maxRot;
  const base = COLOR_RGB[color];
  const fill: RGB = [
    clampByte(base[0] + uniformIn(rng, -FILL_JITTER, FILL_JITTER)),
    clampByte(base[1] + uniformIn(rng, -FILL_JITTER, FILL_JITTER)),
    clampByte(base[2] + uniformIn(rng, -FILL_JITTER, FILL_JITTER)),
  ];
  const background = sampleBackground(rng, fill);
  return { color, shape, fill, cx, cy, radius, rotation, background };
}

/** A class name drawn uniformly from the 64 classes. */
export function sampleClassName(rng: SeededRandom): string {
  return CLASS_NAMES[Math.floor(rng.uniform() * CLASS_NAMES.length)];
}
