// The toy world's vocabulary: 8 colors × 8 shapes = 64 classes named "<color> <shape>", and the
// description of one scene (what a renderer draws). Renderers are pure functions of a Scene.

export const COLORS = ['red', 'green', 'blue', 'yellow', 'purple', 'orange', 'white', 'black'] as const;
export const SHAPES = ['circle', 'square', 'triangle', 'star', 'cross', 'diamond', 'ring', 'hexagon'] as const;
export type ColorName = (typeof COLORS)[number];
export type ShapeName = (typeof SHAPES)[number];

export type RGB = [number, number, number]; // 0..255 each

/** Canonical sRGB value of each color name (renderers may jitter it slightly per scene). */
export const COLOR_RGB: Record<ColorName, RGB> = {
  red: [215, 35, 35],
  green: [35, 165, 60],
  blue: [40, 75, 215],
  yellow: [240, 215, 35],
  purple: [135, 55, 175],
  orange: [245, 135, 25],
  white: [245, 245, 245],
  black: [20, 20, 20],
};

export interface ClassInfo {
  name: string; // "<color> <shape>"
  color: ColorName;
  shape: ShapeName;
}

/** All 64 classes, sorted by name (the order of the official base/new split). */
export const CLASSES: ClassInfo[] = COLORS.flatMap((color) => SHAPES.map((shape) => ({ name: `${color} ${shape}`, color, shape }))).sort(
  (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
);
export const CLASS_NAMES: string[] = CLASSES.map((c) => c.name);

/** Base = the first ceil(n/2) classes by name, new = the rest (CoCoOp's base-to-new protocol). */
export function baseNewSplit(names: readonly string[] = CLASS_NAMES): { base: string[]; novel: string[] } {
  const sorted = [...names].sort();
  const nBase = Math.ceil(sorted.length / 2);
  return { base: sorted.slice(0, nBase), novel: sorted.slice(nBase) };
}

export function classInfo(name: string): ClassInfo {
  const c = CLASSES.find((x) => x.name === name);
  if (!c) throw new Error(`toy world: unknown class "${name}"`);
  return c;
}

export type BackgroundKind = 'plain' | 'noise' | 'gradient' | 'stripes' | 'checker' | 'dots';
export const BACKGROUND_KINDS: BackgroundKind[] = ['plain', 'noise', 'gradient', 'stripes', 'checker', 'dots'];

/** How each background is named in captions ("… on a noisy background"). */
export const BACKGROUND_WORDS: Record<BackgroundKind, string> = {
  plain: 'plain',
  noise: 'noisy',
  gradient: 'gradient',
  stripes: 'striped',
  checker: 'checkered',
  dots: 'dotted',
};

export interface Background {
  kind: BackgroundKind;
  /** Main color; for gradient/stripes/checker/dots the second color is `b`. */
  a: RGB;
  b: RGB;
  /** Gradient direction / stripe orientation, radians. */
  angle: number;
  /** Stripe period / checker cell / dot spacing, as a fraction of the canvas side. */
  period: number;
  /** Noise amplitude (0..255 units, for 'noise'), and the seed of the noise field. */
  noiseAmp: number;
  noiseSeed: number;
}

export interface Scene {
  color: ColorName;
  shape: ShapeName;
  /** The object's fill color actually drawn (COLOR_RGB jittered). */
  fill: RGB;
  /** Center, as fractions of the canvas side (0..1, x right, y down). */
  cx: number;
  cy: number;
  /** Circumradius as a fraction of the canvas side. */
  radius: number;
  /** Rotation in radians (counter-clockwise on screen). */
  rotation: number;
  background: Background;
}

/**
 * How much objects vary, shared by every renderer of the world. Measured while designing the toy CLIP:
 * with objects anywhere and at any angle a ViT this small learns shapes slowly (≈ 40% zero-shot after
 * 38k captioned images); objects near the centre, of moderate size and tilted by at most ±20° reach
 * the same accuracy in a third of the steps (docs/base2new.md, "the world").
 */
export const SCENE_RANGES = {
  /** Circumradius, fraction of the canvas side. */
  radius: [0.28, 0.42] as [number, number],
  /** Largest offset of the object's center from the canvas center, per axis, fraction of the side. */
  positionJitter: 0.1,
  /** Rotation uniform in ±maxRotation radians (≈ ±20°). */
  maxRotation: 0.35,
};

export type SizeWord = 'small' | 'large' | null;
/** "small" / "large" when the object is clearly so, else null (captions then say neither). */
export function sizeWord(radius: number): SizeWord {
  if (radius < 0.32) return 'small';
  if (radius > 0.38) return 'large';
  return null;
}

export type PositionWord = 'left' | 'right' | 'top' | 'bottom' | 'center';
export function positionWord(cx: number, cy: number): PositionWord {
  const dx = cx - 0.5;
  const dy = cy - 0.5;
  if (Math.abs(dx) < 0.08 && Math.abs(dy) < 0.08) return 'center';
  if (Math.abs(dx) >= Math.abs(dy)) return dx < 0 ? 'left' : 'right';
  return dy < 0 ? 'top' : 'bottom';
}
