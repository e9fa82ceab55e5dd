// Software rasterizer of the toy world: draws a Scene (background + one object) on an S×S canvas.
// The object is anti-aliased analytically from a signed distance function (SDF) evaluated once per
// pixel centre: coverage = clamp(0.5 − d/pixelSize, 0, 1), blended over the background. A pure
// function of (scene, size): no global state, no supersampling, no per-pixel allocation.

import type { RGBImage } from '../../gpu-worker/clip/image-resize.ts';
import { SeededRandom } from '../../gpu-worker/clip/random.ts';
import type { Background, Scene, ShapeName } from './world.ts';

// ---- Shape geometry (local frame: units of the circumradius r, y up, before rotation) ----

/** Star: 5 outer points on the circumcircle, inner vertices at this fraction of r. */
export const STAR_INNER_RATIO = 0.45;
/** Ring: annulus with outer radius r and inner radius this fraction of r. */
export const RING_INNER_RATIO = 0.55;
/** Diamond: rhombus with half-diagonals r (vertical) and this fraction of r (horizontal). */
export const DIAMOND_WIDTH_RATIO = 0.6;
/** Cross (plus sign): half-length of each bar and half-thickness, in units of r. The arm corners
 *  (0.92, 0.38) lie just inside the circumcircle (norm ≈ 0.995), so every shape fits in radius r. */
export const CROSS_HALF_LENGTH = 0.92;
export const CROSS_HALF_THICKNESS = 0.38;

function regularPolygon(n: number, phase: number, radius = 1): number[] {
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    const a = phase + (2 * Math.PI * k) / n;
    out.push(radius * Math.cos(a), radius * Math.sin(a));
  }
  return out;
}

function starOutline(): number[] {
  const out: number[] = [];
  for (let k = 0; k < 10; k++) {
    const a = Math.PI / 2 + (Math.PI * k) / 5;
    const rad = k % 2 === 0 ? 1 : STAR_INNER_RATIO;
    out.push(rad * Math.cos(a), rad * Math.sin(a));
  }
  return out;
}

function crossOutline(): number[] {
  const L = CROSS_HALF_LENGTH;
  const t = CROSS_HALF_THICKNESS;
  // Counter-clockwise, starting at the right arm's lower corner.
  return [L, -t, L, t, t, t, t, L, -t, L, -t, t, -L, t, -L, -t, -t, -t, -t, -L, t, -L, t, -t];
}

const OUTLINES: Record<Exclude<ShapeName, 'circle' | 'ring'>, number[]> = {
  square: regularPolygon(4, Math.PI / 4), // side r·√2, corners on the circumcircle
  triangle: regularPolygon(3, Math.PI / 2), // equilateral, apex up
  star: starOutline(),
  cross: crossOutline(),
  diamond: [0, 1, -DIAMOND_WIDTH_RATIO, 0, 0, -1, DIAMOND_WIDTH_RATIO, 0],
  hexagon: regularPolygon(6, 0),
};

/**
 * The outline of a polygonal shape as flat [x0, y0, x1, y1, …] in units of the circumradius
 * (y up, unrotated), or null for the round shapes (circle, ring). Returns a copy.
 */
export function shapeOutline(shape: ShapeName): number[] | null {
  if (shape === 'circle' || shape === 'ring') return null;
  return OUTLINES[shape].slice();
}

// ---- Signed distances (pixel units) ----

/** Signed distance from (px, py) to a closed polygon (negative inside; even-odd rule). */
function polygonSdf(px: number, py: number, vx: Float64Array, vy: Float64Array, invLen2: Float64Array, n: number): number {
  let d2 = Infinity;
  let inside = false;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const ax = vx[j];
    const ay = vy[j];
    const ex = vx[i] - ax;
    const ey = vy[i] - ay;
    const wx = px - ax;
    const wy = py - ay;
    let t = (wx * ex + wy * ey) * invLen2[j];
    if (t < 0) t = 0;
    else if (t > 1) t = 1;
    const qx = wx - ex * t;
    const qy = wy - ey * t;
    const q2 = qx * qx + qy * qy;
    if (q2 < d2) d2 = q2;
    // Crossing test against the horizontal ray from (px, py) to +∞.
    if (ay > py !== vy[i] > py) {
      const xCross = ax + ((py - ay) * ex) / ey;
      if (px < xCross) inside = !inside;
    }
  }
  const d = Math.sqrt(d2);
  return inside ? -d : d;
}

// ---- Background ----

function clamp255(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

/** Noise offsets are N(0, (amp/2)²) clipped to ±amp, the same for all three channels. */
export const NOISE_STD_FRACTION = 0.5;
/** Dots: radius as a fraction of the dot spacing (`period`). */
export const DOT_RADIUS_FRACTION = 0.28;

function drawBackground(data: Uint8Array, S: number, bg: Background): void {
  const [ar, ag, ab] = bg.a;
  const [br, bgc, bb] = bg.b;
  const n = S * S;
  const cos = Math.cos(bg.angle);
  const sin = Math.sin(bg.angle);
  switch (bg.kind) {
    case 'plain': {
      for (let i = 0, o = 0; i < n; i++, o += 3) {
        data[o] = ar;
        data[o + 1] = ag;
        data[o + 2] = ab;
      }
      return;
    }
    case 'noise': {
      const rng = new SeededRandom(bg.noiseSeed >>> 0);
      const amp = bg.noiseAmp;
      const std = amp * NOISE_STD_FRACTION;
      for (let i = 0, o = 0; i < n; i++, o += 3) {
        let e = std * rng.normal();
        if (e > amp) e = amp;
        else if (e < -amp) e = -amp;
        data[o] = clamp255(ar + e);
        data[o + 1] = clamp255(ag + e);
        data[o + 2] = clamp255(ab + e);
      }
      return;
    }
    default:
      break;
  }
  // Patterned backgrounds: coordinates relative to the canvas centre, in canvas-side units, y up.
  const inv = 1 / S;
  const period = bg.period > 1e-6 ? bg.period : 1e-6;
  const gradNorm = Math.abs(cos) + Math.abs(sin); // max |projection| over the canvas is gradNorm/2
  const dotR = DOT_RADIUS_FRACTION * period;
  for (let y = 0; y < S; y++) {
    const v = 0.5 - (y + 0.5) * inv;
    for (let x = 0; x < S; x++) {
      const u = (x + 0.5) * inv - 0.5;
      // Rotated frame: p along the angle direction, q perpendicular.
      const p = u * cos + v * sin;
      const q = -u * sin + v * cos;
      let t: number; // 0 → colour a, 1 → colour b
      if (bg.kind === 'gradient') {
        t = 0.5 + p / gradNorm;
        if (t < 0) t = 0;
        else if (t > 1) t = 1;
      } else if (bg.kind === 'stripes') {
        t = Math.floor((2 * p) / period) & 1;
      } else if (bg.kind === 'checker') {
        t = (Math.floor(p / period) + Math.floor(q / period)) & 1;
      } else {
        // dots: b discs at the centres of a rotated grid of cells of side `period`, anti-aliased.
        const fp = p / period - Math.floor(p / period) - 0.5;
        const fq = q / period - Math.floor(q / period) - 0.5;
        const dist = Math.sqrt(fp * fp + fq * fq) * period - dotR; // canvas units
        t = 0.5 - dist * S;
        if (t < 0) t = 0;
        else if (t > 1) t = 1;
      }
      const o = (y * S + x) * 3;
      data[o] = clamp255(ar + (br - ar) * t);
      data[o + 1] = clamp255(ag + (bgc - ag) * t);
      data[o + 2] = clamp255(ab + (bb - ab) * t);
    }
  }
}

// ---- Object ----

function drawObject(data: Uint8Array, S: number, scene: Scene): void {
  const cx = scene.cx * S;
  const cy = scene.cy * S;
  const r = scene.radius * S;
  if (!(r > 0)) return;
  const [fr, fg, fb] = scene.fill;
  const x0 = Math.max(0, Math.floor(cx - r - 1));
  const x1 = Math.min(S - 1, Math.ceil(cx + r + 1));
  const y0 = Math.max(0, Math.floor(cy - r - 1));
  const y1 = Math.min(S - 1, Math.ceil(cy + r + 1));

  const shape = scene.shape;
  let vx: Float64Array | null = null;
  let vy: Float64Array | null = null;
  let invLen2: Float64Array | null = null;
  let nv = 0;
  if (shape !== 'circle' && shape !== 'ring') {
    const outline = OUTLINES[shape];
    nv = outline.length / 2;
    vx = new Float64Array(nv);
    vy = new Float64Array(nv);
    invLen2 = new Float64Array(nv);
    const c = Math.cos(scene.rotation);
    const s = Math.sin(scene.rotation);
    for (let k = 0; k < nv; k++) {
      const lx = outline[2 * k];
      const ly = outline[2 * k + 1];
      // Rotate counter-clockwise in the y-up frame, then flip y to screen coordinates.
      vx[k] = cx + r * (c * lx - s * ly);
      vy[k] = cy - r * (s * lx + c * ly);
    }
    for (let k = 0; k < nv; k++) {
      const ex = vx[(k + 1) % nv] - vx[k];
      const ey = vy[(k + 1) % nv] - vy[k];
      invLen2[k] = 1 / (ex * ex + ey * ey);
    }
  }
  const ringMid = (r * (1 + RING_INNER_RATIO)) / 2;
  const ringHalf = (r * (1 - RING_INNER_RATIO)) / 2;

  for (let y = y0; y <= y1; y++) {
    const py = y + 0.5;
    for (let x = x0; x <= x1; x++) {
      const px = x + 0.5;
      let d: number;
      if (vx !== null) {
        d = polygonSdf(px, py, vx, vy!, invLen2!, nv);
      } else {
        const dx = px - cx;
        const dy = py - cy;
        const len = Math.sqrt(dx * dx + dy * dy);
        d = shape === 'circle' ? len - r : Math.abs(len - ringMid) - ringHalf;
      }
      let cov = 0.5 - d; // pixel size = 1
      if (cov <= 0) continue;
      if (cov > 1) cov = 1;
      const o = (y * S + x) * 3;
      data[o] = clamp255(data[o] + (fr - data[o]) * cov);
      data[o + 1] = clamp255(data[o + 1] + (fg - data[o + 1]) * cov);
      data[o + 2] = clamp255(data[o + 2] + (fb - data[o + 2]) * cov);
    }
  }
}

/** Renders `scene` on a size×size canvas (HWC RGB, 8 bits). Pure function of (scene, size). */
export function renderScene(scene: Scene, size: number): RGBImage {
  if (!Number.isInteger(size) || size < 1) throw new Error(`renderScene: size must be a positive integer, got ${size}`);
  const data = new Uint8Array(size * size * 3);
  drawBackground(data, size, scene.background);
  drawObject(data, size, scene);
  return { width: size, height: size, data };
}
