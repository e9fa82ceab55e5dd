// A second, independently written renderer for the toy world, held out from pretraining: "stickers".
// Each scene becomes an SVG document (the shape filled with its colour, a darker outline of the same
// hue, on one of five low-saturation backgrounds, with a soft drop shadow on light textured ones),
// rasterized by sharp's bundled librsvg. A model that recognises "red" or "star" here learned the
// concept, not the pixels of the pretraining renderer.
//
// Contrast guarantee: every colour a background can show (its palette, shadow-darkened variants and
// any blend of them) is at least MIN_RGB_DISTANCE from the fill in RGB and MIN_LUMA_DIFF away in
// luma (Rec. 601 Y' on the 8-bit sRGB values), all on the same side of the fill's luma: black
// objects get light backgrounds, white objects dark ones. The sampler enforces both with a margin,
// so rounding and anti-aliasing of the background itself cannot push rendered pixels below them.

import sharp from 'sharp';
import type { RGBImage } from '../../gpu-worker/clip/image-resize.ts';
import { SeededRandom } from '../../gpu-worker/clip/random.ts';
import { classInfo, COLOR_RGB, SCENE_RANGES, type ColorName, type RGB, type ShapeName } from './world.ts';

export const MIN_RGB_DISTANCE = 110;
export const MIN_LUMA_DIFF = 45;
/** Margins the sampler adds on top of the two minima. */
const DISTANCE_MARGIN = 6;
const LUMA_MARGIN = 4;

/** Outline width as a fraction of the canvas side (centred on the shape's edge). */
export const STROKE_FRACTION = 0.04;
/** Star inner radius / outer radius. */
export const STAR_INNER = 0.42;
/** Ring hole radius / outer radius. */
export const RING_HOLE = 0.55;
/** Cross arm thickness / circumdiameter. */
export const CROSS_ARM = 0.36;
/** Diamond short half-diagonal / long half-diagonal. */
export const DIAMOND_RATIO = 0.6;

export type SvgBackgroundKind = 'paper' | 'radial' | 'hatch' | 'grid' | 'blobs';
export const SVG_BACKGROUND_KINDS: SvgBackgroundKind[] = ['paper', 'radial', 'hatch', 'grid', 'blobs'];

export interface SoftBlob {
  /** Centre and radii as fractions of the canvas side; angle in radians. */
  cx: number;
  cy: number;
  rx: number;
  ry: number;
  angle: number;
  /** Index into SvgBackground.accents. */
  accent: number;
  opacity: number;
}

export interface DropShadow {
  color: RGB;
  opacity: number;
  /** Offset and blur standard deviation as fractions of the canvas side. */
  dx: number;
  dy: number;
  blur: number;
}

export interface SvgBackground {
  kind: SvgBackgroundKind;
  tone: 'light' | 'dark';
  /** The ground colour (paper tint; centre colour of 'radial'). */
  base: RGB;
  /** Second colours: radial edge, hatch / grid lines, blob colours ('paper' has none). */
  accents: RGB[];
  /** Hatch direction (radians). */
  angle: number;
  /** Hatch / grid period as a fraction of the canvas side. */
  period: number;
  /** Hatch / grid line width as a fraction of the canvas side. */
  lineWidth: number;
  /** Grid offset / radial gradient centre, fractions of the canvas side. */
  ox: number;
  oy: number;
  /** Radial gradient radius, fraction of the canvas side. */
  gradientRadius: number;
  blobs: SoftBlob[];
  /** Drop shadow under the object (light, non-paper backgrounds only). */
  shadow: DropShadow | null;
}

export interface StickerScene {
  color: ColorName;
  shape: ShapeName;
  /** Fill colour actually drawn (COLOR_RGB jittered ±10 per channel). */
  fill: RGB;
  /** Centre, fractions of the canvas side (x right, y down). */
  cx: number;
  cy: number;
  /** Circumradius, fraction of the canvas side. */
  radius: number;
  /** Radians, counter-clockwise on screen. */
  rotation: number;
  background: SvgBackground;
}

// ---------------------------------------------------------------------------------------------
// Colour helpers

export function luma(c: RGB): number {
  return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
}

function rgbDistance(a: RGB, b: RGB): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

function clampByte(v: number): number {
  return Math.max(0, Math.min(255, Math.round(v)));
}

function mix(a: RGB, b: RGB, t: number): RGB {
  return [clampByte(a[0] + (b[0] - a[0]) * t), clampByte(a[1] + (b[1] - a[1]) * t), clampByte(a[2] + (b[2] - a[2]) * t)];
}

function rgbCss(c: RGB): string {
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/** The outline colour: the fill darkened (×0.6); black objects get a lighter grey instead. */
export function outlineColor(fill: RGB): RGB {
  if (luma(fill) < 50) return [clampByte(fill[0] + 60), clampByte(fill[1] + 60), clampByte(fill[2] + 60)];
  return [clampByte(fill[0] * 0.6), clampByte(fill[1] * 0.6), clampByte(fill[2] * 0.6)];
}

/**
 * Every colour a background can show is a convex combination of these: base, accents, and (with a
 * shadow) each of them darkened by the shadow at full shadow opacity.
 */
export function backgroundPalette(bg: SvgBackground): RGB[] {
  const own = [bg.base, ...bg.accents];
  if (!bg.shadow) return own;
  const s = bg.shadow;
  return [...own, ...own.map((c) => mix(c, s.color, s.opacity))];
}

/**
 * True when the whole convex hull of `palette` keeps the required contrast to `fill`: the hull lies
 * in the ball around the palette's mean that holds every vertex, so the distance bound is exact-safe;
 * luma is linear, so checking the vertices (all on one side) suffices.
 */
function paletteContrastOk(palette: RGB[], fill: RGB): boolean {
  const mean: RGB = [0, 0, 0];
  for (const c of palette) for (let k = 0; k < 3; k++) mean[k] += c[k] / palette.length;
  let spread = 0;
  for (const c of palette) spread = Math.max(spread, rgbDistance(c, mean));
  if (rgbDistance(fill, mean) - spread < MIN_RGB_DISTANCE + DISTANCE_MARGIN) return false;
  const lf = luma(fill);
  const diffs = palette.map((c) => luma(c) - lf);
  const need = MIN_LUMA_DIFF + LUMA_MARGIN;
  return diffs.every((d) => d >= need) || diffs.every((d) => d <= -need);
}

// ---------------------------------------------------------------------------------------------
// Sampling

function uniformIn(rng: SeededRandom, lo: number, hi: number): number {
  return lo + (hi - lo) * rng.uniform();
}

/** A low-saturation colour of the given grey level: a small tint along a random hue. */
function tinted(rng: SeededRandom, level: number, maxTint: number): RGB {
  const h = rng.uniform() * 2 * Math.PI;
  const a = rng.uniform() * maxTint;
  return [
    clampByte(level + a * Math.cos(h)),
    clampByte(level + a * Math.cos(h - (2 * Math.PI) / 3)),
    clampByte(level + a * Math.cos(h + (2 * Math.PI) / 3)),
  ];
}

/**
 * Grey levels a background of this tone may use for this fill: far enough in luma from it (with a
 * little slack for the tint), and clearly light (≥ 150) or dark (≤ 95). Null when empty.
 */
function toneLevels(fill: RGB, tone: 'light' | 'dark'): [number, number] | null {
  const need = MIN_LUMA_DIFF + LUMA_MARGIN + 6;
  const lf = luma(fill);
  const range: [number, number] = tone === 'light' ? [Math.max(lf + need, 150), 248] : [6, Math.min(lf - need, 95)];
  return range[0] <= range[1] ? range : null;
}

function sampleBackground(rng: SeededRandom, kind: SvgBackgroundKind, tone: 'light' | 'dark', levels: [number, number]): SvgBackground {
  const light = tone === 'light';
  const [lo, hi] = levels;
  const level = uniformIn(rng, lo, hi);
  const base = tinted(rng, level, 16);
  // Accents differ from the base by 12..40 grey levels, in whichever direction stays in range.
  const accentLevel = () => {
    const d = uniformIn(rng, 12, 40);
    const first = rng.uniform() < 0.5 ? -1 : 1;
    for (const dir of [first, -first]) if (level + dir * d >= lo && level + dir * d <= hi) return level + dir * d;
    return level - d < lo ? Math.min(hi, level + d) : Math.max(lo, level - d);
  };
  const bg = flatBackground(kind, tone, base);
  switch (kind) {
    case 'paper':
      break;
    case 'radial':
      bg.accents = [tinted(rng, accentLevel(), 16)];
      bg.ox = uniformIn(rng, 0.2, 0.8);
      bg.oy = uniformIn(rng, 0.2, 0.8);
      bg.gradientRadius = uniformIn(rng, 0.6, 1.1);
      break;
    case 'hatch':
      bg.accents = [tinted(rng, accentLevel(), 12)];
      bg.angle = uniformIn(rng, 0.35, 1.2) * (rng.uniform() < 0.5 ? 1 : -1); // clearly diagonal
      bg.period = uniformIn(rng, 0.08, 0.16);
      bg.lineWidth = bg.period * uniformIn(rng, 0.25, 0.5);
      break;
    case 'grid':
      bg.accents = [tinted(rng, accentLevel(), 12)];
      bg.period = uniformIn(rng, 0.1, 0.2);
      bg.lineWidth = uniformIn(rng, 0.012, 0.028);
      bg.ox = rng.uniform() * bg.period;
      bg.oy = rng.uniform() * bg.period;
      break;
    case 'blobs': {
      bg.accents = [tinted(rng, accentLevel(), 16), tinted(rng, accentLevel(), 16)];
      const n = 3 + Math.floor(rng.uniform() * 3);
      for (let i = 0; i < n; i++) {
        bg.blobs.push({
          cx: rng.uniform(),
          cy: rng.uniform(),
          rx: uniformIn(rng, 0.2, 0.45),
          ry: uniformIn(rng, 0.12, 0.3),
          angle: rng.uniform() * Math.PI,
          accent: i % 2,
          opacity: uniformIn(rng, 0.5, 0.9),
        });
      }
      break;
    }
  }
  if (light && kind !== 'paper') {
    // The shadow darkens what lies under it to (1 − 0.65·opacity) of its level at most; keep the
    // darkest background colour, so darkened, inside the allowed levels.
    const darkest = Math.min(...[base, ...bg.accents].map(luma));
    const maxOpacity = Math.min(0.32, (1 - lo / darkest) / 0.65);
    if (maxOpacity >= 0.12) {
      bg.shadow = {
        color: [clampByte(base[0] * 0.35), clampByte(base[1] * 0.35), clampByte(base[2] * 0.35)],
        opacity: uniformIn(rng, 0.12, maxOpacity),
        dx: uniformIn(rng, 0.012, 0.03),
        dy: uniformIn(rng, 0.018, 0.035),
        blur: uniformIn(rng, 0.01, 0.02),
      };
    }
  }
  return bg;
}

function fallbackBackground(tone: 'light' | 'dark'): SvgBackground {
  const v = tone === 'light' ? 240 : 18;
  return flatBackground('paper', tone, [v, v, v]);
}

/** A background of one colour, every pattern parameter zero (kinds fill in what they use). */
function flatBackground(kind: SvgBackgroundKind, tone: 'light' | 'dark', base: RGB): SvgBackground {
  return { kind, tone, base, accents: [], angle: 0, period: 0, lineWidth: 0, ox: 0, oy: 0, gradientRadius: 0, blobs: [], shadow: null };
}

/** Random sticker scene of a class "<color> <shape>". Consumes a variable number of draws from rng. */
export function sampleStickerScene(rng: SeededRandom, className: string): StickerScene {
  const { color, shape } = classInfo(className);
  const canon = COLOR_RGB[color];
  const fill: RGB = [0, 1, 2].map((k) => clampByte(canon[k] + Math.round(uniformIn(rng, -10.5, 10.5)))) as RGB;
  // Same geometry ranges as the rest of the world (SCENE_RANGES); only the drawing differs.
  const radius = uniformIn(rng, SCENE_RANGES.radius[0], Math.min(SCENE_RANGES.radius[1], 0.4));
  // Circumcircle plus half the outline plus a 1% margin stays inside the canvas.
  const lo = radius + STROKE_FRACTION / 2 + 0.01;
  const j = SCENE_RANGES.positionJitter;
  const cx = uniformIn(rng, Math.max(lo, 0.5 - j), Math.min(1 - lo, 0.5 + j));
  const cy = uniformIn(rng, Math.max(lo, 0.5 - j), Math.min(1 - lo, 0.5 + j));
  const rotation = (2 * rng.uniform() - 1) * SCENE_RANGES.maxRotation;

  const tones: ('light' | 'dark')[] =
    color === 'black' ? ['light'] : color === 'white' ? ['dark'] : rng.uniform() < 0.5 ? ['light', 'dark'] : ['dark', 'light'];
  // The kind is drawn once, so colour rejections do not bias the mix towards flat paper.
  const kind = SVG_BACKGROUND_KINDS[Math.floor(rng.uniform() * SVG_BACKGROUND_KINDS.length)];
  let background: SvgBackground | null = null;
  for (const tone of tones) {
    const levels = toneLevels(fill, tone);
    for (let attempt = 0; levels && attempt < 40 && !background; attempt++) {
      const bg = sampleBackground(rng, kind, tone, levels);
      if (paletteContrastOk(backgroundPalette(bg), fill)) background = bg;
    }
    if (background) break;
  }
  if (!background) {
    // Extreme flat greys; one of them works for every jittered canonical colour.
    const found = [fallbackBackground(tones[0]), fallbackBackground(tones[0] === 'light' ? 'dark' : 'light')].find((bg) =>
      paletteContrastOk(backgroundPalette(bg), fill),
    );
    if (!found) throw new Error(`svg-renderer: no background keeps contrast to fill ${fill.join(',')}`);
    background = found;
  }
  return { color, shape, fill, cx, cy, radius, rotation, background };
}

// ---------------------------------------------------------------------------------------------
// SVG

function num(v: number): string {
  const s = v.toFixed(3);
  return s === '-0.000' ? '0.000' : s;
}

function polygonPoints(pts: [number, number][]): string {
  return pts.map(([x, y]) => `${num(x)},${num(y)}`).join(' ');
}

/** Vertices at radii `radii[i % radii.length]`, angles starting straight up, evenly spaced. */
function radialVertices(n: number, radii: number[], startDeg = -90): [number, number][] {
  const pts: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const a = ((startDeg + (360 * i) / n) * Math.PI) / 180;
    const r = radii[i % radii.length];
    pts.push([r * Math.cos(a), r * Math.sin(a)]);
  }
  return pts;
}

/** Full circle as two arcs, starting at the top; `sweep` 1 = clockwise on screen. */
function circlePath(r: number, sweep: 0 | 1): string {
  return `M 0 ${num(-r)} A ${num(r)} ${num(r)} 0 1 ${sweep} 0 ${num(r)} A ${num(r)} ${num(r)} 0 1 ${sweep} 0 ${num(-r)} Z`;
}

/** The shape, centred on the origin, pointing up, circumradius R pixels; `attrs` styles it. */
function shapeElement(shape: ShapeName, R: number, attrs: string): string {
  switch (shape) {
    case 'circle':
      return `<circle cx="0" cy="0" r="${num(R)}" ${attrs}/>`;
    case 'square': {
      const h = R / Math.SQRT2; // side R√2
      return `<rect x="${num(-h)}" y="${num(-h)}" width="${num(2 * h)}" height="${num(2 * h)}" ${attrs}/>`;
    }
    case 'triangle':
      return `<polygon points="${polygonPoints(radialVertices(3, [R]))}" ${attrs}/>`;
    case 'star':
      return `<polygon points="${polygonPoints(radialVertices(10, [R, STAR_INNER * R]))}" ${attrs}/>`;
    case 'hexagon':
      return `<polygon points="${polygonPoints(radialVertices(6, [R], 0))}" ${attrs}/>`;
    case 'diamond': {
      const w = DIAMOND_RATIO * R;
      return `<polygon points="${polygonPoints([
        [0, -R],
        [w, 0],
        [0, R],
        [-w, 0],
      ])}" ${attrs}/>`;
    }
    case 'cross': {
      // Plus sign as one 12-vertex outline (so the stroke does not cross the middle); arm ends'
      // corners lie on the circumcircle.
      const t = CROSS_ARM * R; // half the arm thickness (arm = CROSS_ARM × 2R)
      const L = Math.sqrt(R * R - t * t);
      const pts: [number, number][] = [
        [-t, -L], [t, -L], [t, -t], [L, -t], [L, t], [t, t],
        [t, L], [-t, L], [-t, t], [-L, t], [-L, -t], [-t, -t],
      ];
      return `<polygon points="${polygonPoints(pts)}" ${attrs}/>`;
    }
    case 'ring':
      // Even-odd annulus: the background shows through the hole.
      return `<path d="${circlePath(R, 1)} ${circlePath(RING_HOLE * R, 0)}" fill-rule="evenodd" ${attrs}/>`;
  }
}

function backgroundMarkup(bg: SvgBackground, size: number): { defs: string; body: string } {
  const S = size;
  const full = `x="0" y="0" width="${S}" height="${S}"`;
  const baseRect = `<rect ${full} fill="${rgbCss(bg.base)}"/>`;
  switch (bg.kind) {
    case 'paper':
      return { defs: '', body: baseRect };
    case 'radial':
      return {
        defs:
          `<radialGradient id="bgRadial" gradientUnits="userSpaceOnUse" cx="${num(bg.ox * S)}" cy="${num(bg.oy * S)}" r="${num(bg.gradientRadius * S)}">` +
          `<stop offset="0" stop-color="${rgbCss(bg.base)}"/><stop offset="1" stop-color="${rgbCss(bg.accents[0])}"/></radialGradient>`,
        body: `<rect ${full} fill="url(#bgRadial)"/>`,
      };
    case 'hatch': {
      const p = bg.period * S;
      const deg = (bg.angle * 180) / Math.PI;
      return {
        defs:
          `<pattern id="bgHatch" patternUnits="userSpaceOnUse" x="0" y="0" width="${num(p)}" height="${num(p)}" patternTransform="rotate(${num(deg)})">` +
          `<rect x="0" y="0" width="${num(p)}" height="${num(p)}" fill="${rgbCss(bg.base)}"/>` +
          `<rect x="0" y="0" width="${num(bg.lineWidth * S)}" height="${num(p)}" fill="${rgbCss(bg.accents[0])}"/></pattern>`,
        body: `<rect ${full} fill="url(#bgHatch)"/>`,
      };
    }
    case 'grid': {
      const p = bg.period * S;
      const w = bg.lineWidth * S;
      const lines: string[] = [];
      for (let x = bg.ox * S; x < S + w; x += p) lines.push(`M ${num(x)} 0 V ${S}`);
      for (let y = bg.oy * S; y < S + w; y += p) lines.push(`M 0 ${num(y)} H ${S}`);
      return {
        defs: '',
        body: `${baseRect}<path d="${lines.join(' ')}" fill="none" stroke="${rgbCss(bg.accents[0])}" stroke-width="${num(w)}"/>`,
      };
    }
    case 'blobs': {
      const ells = bg.blobs.map(
        (b) =>
          `<ellipse cx="0" cy="0" rx="${num(b.rx * S)}" ry="${num(b.ry * S)}" fill="${rgbCss(bg.accents[b.accent])}" fill-opacity="${num(b.opacity)}" ` +
          `transform="translate(${num(b.cx * S)} ${num(b.cy * S)}) rotate(${num((b.angle * 180) / Math.PI)})"/>`,
      );
      return {
        defs:
          `<filter id="bgSoft" x="-50%" y="-50%" width="200%" height="200%" color-interpolation-filters="sRGB">` +
          `<feGaussianBlur stdDeviation="${num(0.05 * S)}"/></filter>`,
        body: `${baseRect}<g filter="url(#bgSoft)">${ells.join('')}</g>`,
      };
    }
  }
}

/** The scene as a standalone SVG document of size×size pixels. */
export function stickerSvg(scene: StickerScene, size: number): string {
  checkSize(size);
  const S = size;
  const R = scene.radius * S;
  const stroke = STROKE_FRACTION * S;
  const place = `translate(${num(scene.cx * S)} ${num(scene.cy * S)}) rotate(${num((-scene.rotation * 180) / Math.PI)})`;
  const bg = backgroundMarkup(scene.background, S);
  const parts: string[] = [];
  let defs = bg.defs;
  parts.push(bg.body);
  const sh = scene.background.shadow;
  if (sh) {
    defs +=
      `<filter id="shadowBlur" x="-50%" y="-50%" width="200%" height="200%" color-interpolation-filters="sRGB">` +
      `<feGaussianBlur stdDeviation="${num(sh.blur * S)}"/></filter>`;
    const shadowShape = shapeElement(scene.shape, R, `fill="${rgbCss(sh.color)}" stroke="${rgbCss(sh.color)}" stroke-width="${num(stroke)}" stroke-linejoin="round"`);
    parts.push(
      `<g transform="translate(${num(sh.dx * S)} ${num(sh.dy * S)})"><g opacity="${num(sh.opacity)}" filter="url(#shadowBlur)"><g transform="${place}">${shadowShape}</g></g></g>`,
    );
  }
  const styled = `fill="${rgbCss(scene.fill)}" stroke="${rgbCss(outlineColor(scene.fill))}" stroke-width="${num(stroke)}" stroke-linejoin="round"`;
  parts.push(`<g transform="${place}">${shapeElement(scene.shape, R, styled)}</g>`);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${S}" height="${S}" viewBox="0 0 ${S} ${S}">` +
    (defs ? `<defs>${defs}</defs>` : '') +
    parts.join('') +
    `</svg>`
  );
}

function checkSize(size: number): void {
  if (!Number.isInteger(size) || size < 8 || size > 4096) throw new Error(`svg-renderer: size must be an integer in [8, 4096], got ${size}`);
}

// ---------------------------------------------------------------------------------------------
// Rasterizing

/** Rasterize the scene with librsvg (via sharp): exactly size×size, 3 channels, HWC. */
export async function renderSticker(scene: StickerScene, size: number): Promise<RGBImage> {
  const svg = stickerSvg(scene, size);
  // density 72 = one SVG user unit per pixel; the background rect is opaque, so flattening onto
  // the base colour only drops the alpha channel.
  const { data, info } = await sharp(Buffer.from(svg), { density: 72 })
    .flatten({ background: { r: scene.background.base[0], g: scene.background.base[1], b: scene.background.base[2] } })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width !== size || info.height !== size || info.channels !== 3 || data.length !== size * size * 3) {
    throw new Error(`svg-renderer: librsvg produced ${info.width}×${info.height}×${info.channels}, expected ${size}×${size}×3`);
  }
  return { width: size, height: size, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

/**
 * `perClass` stickers of each class (class-major order), deterministic for a seed: scenes are
 * sampled sequentially from one SeededRandom, then rasterized a few at a time.
 */
export async function renderStickerSet(
  classNames: string[],
  perClass: number,
  size: number,
  seed: number,
): Promise<{ className: string; image: RGBImage }[]> {
  checkSize(size);
  if (!Number.isInteger(perClass) || perClass < 0) throw new Error(`svg-renderer: perClass must be a non-negative integer, got ${perClass}`);
  const rng = new SeededRandom(seed);
  const jobs: { className: string; scene: StickerScene }[] = [];
  for (const className of classNames) for (let i = 0; i < perClass; i++) jobs.push({ className, scene: sampleStickerScene(rng, className) });
  const out: { className: string; image: RGBImage }[] = new Array(jobs.length);
  const CONCURRENCY = 4;
  for (let start = 0; start < jobs.length; start += CONCURRENCY) {
    const batch = jobs.slice(start, start + CONCURRENCY);
    const images = await Promise.all(batch.map((j) => renderSticker(j.scene, size)));
    images.forEach((image, k) => (out[start + k] = { className: batch[k].className, image }));
  }
  return out;
}
