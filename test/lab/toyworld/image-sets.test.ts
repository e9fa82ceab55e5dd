import { describe, expect, it } from 'vitest';
import { readImageFolder } from '../../../gpu-worker/cocoop/dataset.ts';
import { decodeImageRGB } from '../../../gpu-worker/clip/preprocess.ts';
import { toyImageSet, writeImageFolder } from '../../../lab/toyworld/image-sets.ts';
import { baseNewSplit, CLASS_NAMES } from '../../../lab/toyworld/world.ts';
import { useTmpDir } from '../../helpers/tmp.ts';

const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

describe('toy image sets', () => {
  const dir = useTmpDir('toy-sets-');

  it('splits 64 classes by name into 32 base and 32 new', () => {
    const { base, novel } = baseNewSplit(CLASS_NAMES);
    expect(base).toHaveLength(32);
    expect(novel).toHaveLength(32);
    expect(base[31] < novel[0]).toBe(true);
    expect(new Set([...base, ...novel]).size).toBe(64);
    expect(base).toContain('black circle');
    expect(novel).toContain('yellow triangle');
  });

  it('are deterministic, class-major, independent of the other classes asked for, and differ by split and domain', async () => {
    const a = await toyImageSet('night', 'train', 1, ['red star', 'blue ring'], 2, 48);
    const b = await toyImageSet('night', 'train', 1, ['red star', 'blue ring'], 2, 48);
    expect(a.labels).toEqual([0, 0, 1, 1]);
    a.images.forEach((img, i) => expect(same(img.data, b.images[i].data)).toBe(true));
    const onlyRing = await toyImageSet('night', 'train', 1, ['blue ring'], 2, 48);
    expect(same(onlyRing.images[0].data, a.images[2].data)).toBe(true);
    const test = await toyImageSet('night', 'test', 1, ['red star'], 1, 48);
    expect(same(test.images[0].data, a.images[0].data)).toBe(false);
    const seed2 = await toyImageSet('night', 'train', 2, ['red star'], 1, 48);
    expect(same(seed2.images[0].data, a.images[0].data)).toBe(false);
    for (const domain of ['raster', 'sticker'] as const) {
      const other = await toyImageSet(domain, 'train', 1, ['red star'], 1, 48);
      expect(other.images[0].width).toBe(48);
      expect(same(other.images[0].data, a.images[0].data)).toBe(false);
    }
  });

  it('write an image folder that the trainer reads back pixel-exact', async () => {
    const set = await toyImageSet('raster', 'train', 3, ['green hexagon', 'black cross'], 3, 48);
    await writeImageFolder(set, dir);
    const ds = readImageFolder(dir);
    expect(ds.classNames).toEqual(['black cross', 'green hexagon']);
    expect(ds.items).toHaveLength(6);
    const first = ds.items.find((it) => ds.classNames[it.label] === 'green hexagon')!;
    const decoded = await decodeImageRGB(first.path);
    expect(same(decoded.data, set.images[0].data)).toBe(true);
  });
});
