// Captions for contrastive pretraining on the toy world: templates filled with the class name and,
// where a template asks for them, the scene's size, position and background words.

import type { SeededRandom } from '../../gpu-worker/clip/random.ts';
import { BACKGROUND_KINDS, BACKGROUND_WORDS, CLASS_NAMES, positionWord, sizeWord } from './world.ts';
import type { PositionWord, Scene } from './world.ts';

/** How each position word is said in a caption ("a red circle on the left."). */
export const POSITION_PHRASES: Record<PositionWord, string> = {
  left: 'on the left',
  right: 'on the right',
  top: 'at the top',
  bottom: 'at the bottom',
  center: 'in the center',
};

/**
 * Caption templates. Placeholders: {c} class name, {size} "small"/"large" (templates using it are
 * skipped when the scene's size word is null), {bg} background word, {pos} position phrase.
 */
export const CAPTION_TEMPLATES: readonly string[] = [
  'a photo of a {c}.',
  'a {c}.',
  'a photo of the {c}.',
  'an image of a {c}.',
  'a picture of a {c}.',
  'a drawing of a {c}.',
  'a rendering of a {c}.',
  'a {size} {c}.',
  'a photo of a {size} {c}.',
  'a {c} on a {bg} background.',
  'a {size} {c} on a {bg} background.',
  'a photo of a {c} on a {bg} background.',
  'there is a {c} on a {bg} background.',
  'a {c} {pos}.',
  'a photo of a {c} {pos}.',
];

const SIZE_VALUES = ['small', 'large'] as const;
const POSITION_VALUES = Object.keys(POSITION_PHRASES) as PositionWord[];

interface Fill {
  c: string;
  size: string | null;
  bg: string;
  pos: string;
}

function fillTemplate(template: string, f: Fill): string {
  return template
    .replace('{c}', f.c)
    .replace('{size}', f.size ?? '')
    .replace('{bg}', f.bg)
    .replace('{pos}', f.pos);
}

/** The templates usable for a scene (those needing a size word are dropped when it is null). */
export function templatesFor(scene: Scene): string[] {
  const hasSize = sizeWord(scene.radius) !== null;
  return CAPTION_TEMPLATES.filter((t) => hasSize || !t.includes('{size}'));
}

/**
 * Share of captions that mention the scene's attributes (size, background, position). Kept low on
 * purpose: in a contrastive batch an attribute word can tell two images of the same color apart
 * without looking at the shape (a shortcut measured to stall zero-shot class accuracy near 35%);
 * class-only captions leave the shape as the only way to match.
 */
export const ATTRIBUTE_CAPTION_RATE = 0.2;

const isClassOnly = (t: string) => !/\{(size|bg|pos)\}/.test(t);

/**
 * A caption for `scene`: with probability ATTRIBUTE_CAPTION_RATE an attribute template, else a
 * class-only one, uniformly among the usable templates of that kind. Two uniform draws.
 */
export function captionFor(scene: Scene, rng: SeededRandom): string {
  const withAttributes = rng.uniform() < ATTRIBUTE_CAPTION_RATE;
  const templates = templatesFor(scene).filter((t) => isClassOnly(t) !== withAttributes);
  const template = templates[Math.floor(rng.uniform() * templates.length)];
  return fillTemplate(template, {
    c: `${scene.color} ${scene.shape}`,
    size: sizeWord(scene.radius),
    bg: BACKGROUND_WORDS[scene.background.kind],
    pos: POSITION_PHRASES[positionWord(scene.cx, scene.cy)],
  });
}

/**
 * Every template filled with every class and every value of the attributes it uses (one caption a
 * line): contains every word any caption can use, for building a BPE vocabulary.
 */
export function captionCorpus(): string {
  const lines: string[] = [];
  for (const template of CAPTION_TEMPLATES) {
    const sizes: (string | null)[] = template.includes('{size}') ? [...SIZE_VALUES] : [null];
    const bgs = template.includes('{bg}') ? BACKGROUND_KINDS.map((k) => BACKGROUND_WORDS[k]) : [''];
    const poss = template.includes('{pos}') ? POSITION_VALUES.map((p) => POSITION_PHRASES[p]) : [''];
    for (const c of CLASS_NAMES) {
      for (const size of sizes) {
        for (const bg of bgs) {
          for (const pos of poss) lines.push(fillTemplate(template, { c, size, bg, pos }));
        }
      }
    }
  }
  return lines.join('\n') + '\n';
}
