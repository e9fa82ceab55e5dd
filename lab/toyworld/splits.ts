// The two base/new splits of the 64 toy-world classes used by the base-to-new benchmark:
//   name-sorted — the paper's protocol (first half of the names = base). In this world it is a colour
//                 split: base holds every black, blue, green and orange class, new every purple, red,
//                 white and yellow one.
//   balanced    — a fixed checkerboard over the colour × shape grid: base iff (colour index + shape index)
//                 is even. Every colour and every shape then has 4 classes in base and 4 in new.
import { baseNewSplit, CLASSES, COLORS, SHAPES } from './world.ts';

export type SplitName = 'name-sorted' | 'balanced';
export const SPLIT_NAMES: SplitName[] = ['name-sorted', 'balanced'];

export interface BaseNewSplit {
  base: string[]; // sorted by name
  novel: string[]; // sorted by name
}

export function checkerboardSplit(): BaseNewSplit {
  const isBase = (color: string, shape: string) =>
    (COLORS.indexOf(color as (typeof COLORS)[number]) + SHAPES.indexOf(shape as (typeof SHAPES)[number])) % 2 === 0;
  return {
    base: CLASSES.filter((c) => isBase(c.color, c.shape)).map((c) => c.name),
    novel: CLASSES.filter((c) => !isBase(c.color, c.shape)).map((c) => c.name),
  };
}

export function splitClasses(name: SplitName): BaseNewSplit {
  return name === 'balanced' ? checkerboardSplit() : baseNewSplit();
}
