import { describe, expect, it } from 'vitest';
import { checkerboardSplit, splitClasses } from '../../../lab/toyworld/splits.ts';
import { CLASS_NAMES, COLORS, SHAPES } from '../../../lab/toyworld/world.ts';

const colorOf = (name: string) => name.split(' ')[0];
const shapeOf = (name: string) => name.split(' ')[1];

describe('base/new splits', () => {
  it('balanced: 32 + 32 classes, disjoint, covering all 64, each half sorted by name', () => {
    const { base, novel } = checkerboardSplit();
    expect(base).toHaveLength(32);
    expect(novel).toHaveLength(32);
    expect(new Set([...base, ...novel]).size).toBe(64);
    expect([...base, ...novel].sort()).toEqual([...CLASS_NAMES].sort());
    expect(base).toEqual([...base].sort());
    expect(novel).toEqual([...novel].sort());
  });

  it('balanced: every colour and every shape has 4 classes in base and 4 in new', () => {
    const { base, novel } = splitClasses('balanced');
    for (const c of COLORS) {
      expect(base.filter((n) => colorOf(n) === c)).toHaveLength(4);
      expect(novel.filter((n) => colorOf(n) === c)).toHaveLength(4);
    }
    for (const s of SHAPES) {
      expect(base.filter((n) => shapeOf(n) === s)).toHaveLength(4);
      expect(novel.filter((n) => shapeOf(n) === s)).toHaveLength(4);
    }
    // A checkerboard: two classes that differ in colour only by one step of the list are on opposite sides.
    expect(base.includes('red circle')).toBe(true);
    expect(novel.includes('green circle')).toBe(true);
    expect(novel.includes('red square')).toBe(true);
    expect(base.includes('green square')).toBe(true);
  });

  it('name-sorted: the first 32 names are base, which makes base and new a colour split', () => {
    const { base, novel } = splitClasses('name-sorted');
    expect(base).toEqual([...CLASS_NAMES].sort().slice(0, 32));
    expect(new Set(base.map(colorOf))).toEqual(new Set(['black', 'blue', 'green', 'orange']));
    expect(new Set(novel.map(colorOf))).toEqual(new Set(['purple', 'red', 'white', 'yellow']));
  });
});
