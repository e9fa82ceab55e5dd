// Hold-out and shot sampling (gpu-worker/cocoop/sampling.ts): per-class counts against the documented rule
// (floor(n × split), at least 1 when the class has 2 or more images and split > 0), partition properties,
// determinism in the seed, independence from file names and from other classes.
import { describe, expect, it } from 'vitest';
import type { ImageFolderDataset } from '../../../gpu-worker/cocoop/dataset.ts';
import { drawShots, holdOut, holdOutCount } from '../../../gpu-worker/cocoop/sampling.ts';

/** A dataset with `sizes[c]` images of class c, grouped by class, files named <class>/<i>.png. */
function dataset(sizes: number[], name = (c: number, i: number) => `/ds/c${c}/${String(i).padStart(3, '0')}.png`): ImageFolderDataset {
  const items = sizes.flatMap((n, c) => Array.from({ length: n }, (_, i) => ({ path: name(c, i), label: c })));
  return { root: '/ds', classNames: sizes.map((_, c) => `c${c}`), items };
}

/** The rule of the brief, written independently: floor(n × split), at least 1 when n ≥ 2 and split > 0. */
function expectedHeld(n: number, split: number): number {
  if (split === 0 || n < 2) return 0;
  const f = Math.floor(n * split);
  return f < 1 ? 1 : f;
}

function countByLabel(items: { label: number }[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const it of items) m.set(it.label, (m.get(it.label) ?? 0) + 1);
  return m;
}

/** Positions within its class of each chosen item (by path lookup in the full dataset). */
function positionsInClass(full: ImageFolderDataset, chosen: { path: string }[]): Map<number, number[]> {
  const posOf = new Map<string, [number, number]>();
  const seen = new Map<number, number>();
  for (const it of full.items) {
    const k = seen.get(it.label) ?? 0;
    posOf.set(it.path, [it.label, k]);
    seen.set(it.label, k + 1);
  }
  const out = new Map<number, number[]>();
  for (const c of chosen) {
    const [label, k] = posOf.get(c.path)!;
    out.set(label, [...(out.get(label) ?? []), k]);
  }
  return out;
}

describe('holdOutCount', () => {
  it.each([
    [1, 0.2, 0],
    [1, 0.5, 0],
    [2, 0.2, 1], // floor(0.4) = 0 → at least 1
    [2, 0.5, 1],
    [3, 0.34, 1],
    [5, 0.2, 1],
    [6, 0.34, 2],
    [9, 0.34, 3],
    [10, 0.2, 2],
    [10, 0.5, 5],
    [11, 0.5, 5],
    [7, 0.01, 1],
    [100, 0.01, 1],
    [10, 0, 0],
    [0, 0.3, 0],
  ])('n=%i split=%f → %i held out', (n, split, held) => {
    expect(holdOutCount(n, split)).toBe(held);
    expect(expectedHeld(n, split)).toBe(held);
  });
});

describe('holdOut', () => {
  const sizes = [1, 2, 3, 5, 6, 10, 17];

  it.each([0, 0.1, 0.2, 0.34, 0.5])('split %f: per-class counts follow the rule; train ∪ validation = all, disjoint, order kept', (split) => {
    const ds = dataset(sizes);
    const { train, validation } = holdOut(ds, split, 42);
    const valItems = validation?.items ?? [];
    const valCounts = countByLabel(valItems);
    const trainCounts = countByLabel(train.items);
    sizes.forEach((n, c) => {
      expect(valCounts.get(c) ?? 0, `class ${c} of ${n}`).toBe(expectedHeld(n, split));
      expect(trainCounts.get(c) ?? 0).toBe(n - expectedHeld(n, split));
    });
    // Disjoint and covering.
    const trainPaths = new Set(train.items.map((i) => i.path));
    const valPaths = new Set(valItems.map((i) => i.path));
    expect(trainPaths.size).toBe(train.items.length);
    expect([...valPaths].filter((p) => trainPaths.has(p))).toEqual([]);
    expect(new Set([...trainPaths, ...valPaths])).toEqual(new Set(ds.items.map((i) => i.path)));
    // Each side keeps the dataset's order (a subsequence of ds.items).
    const index = new Map(ds.items.map((it, i) => [it.path, i]));
    for (const side of [train.items, valItems]) {
      const idx = side.map((i) => index.get(i.path)!);
      expect(idx).toEqual([...idx].sort((a, b) => a - b));
    }
    // Labels are kept with their images; class names and root are the dataset's.
    for (const it of [...train.items, ...valItems]) expect(ds.items[index.get(it.path)!].label).toBe(it.label);
    expect(train.classNames).toEqual(ds.classNames);
    if (split === 0) expect(validation).toBeNull();
    else expect(validation!.classNames).toEqual(ds.classNames);
  });

  it('returns validation null when every class has a single image', () => {
    const { train, validation } = holdOut(dataset([1, 1, 1]), 0.5, 3);
    expect(validation).toBeNull();
    expect(train.items).toHaveLength(3);
  });

  it('works on a dataset whose items are not grouped by class', () => {
    // Interleaved labels: 0,1,0,1,... (12 of each).
    const items = Array.from({ length: 24 }, (_, i) => ({ path: `/x/${i}.png`, label: i % 2 }));
    const ds: ImageFolderDataset = { root: '/x', classNames: ['a', 'b'], items };
    const { train, validation } = holdOut(ds, 0.25, 9);
    expect(countByLabel(validation!.items)).toEqual(new Map([[0, 3], [1, 3]]));
    expect(train.items.length + validation!.items.length).toBe(24);
  });

  it('same seed → same draw; different seeds → different draws on a big class', () => {
    const ds = dataset([40, 40]);
    const a = holdOut(ds, 0.25, 1234).validation!.items.map((i) => i.path);
    const b = holdOut(ds, 0.25, 1234).validation!.items.map((i) => i.path);
    expect(a).toEqual(b);
    // C(40,10) choices per class: several seeds cannot all give the same set unless the seed is ignored.
    const draws = new Set([1, 2, 3, 4, 5].map((s) => holdOut(ds, 0.25, s).validation!.items.map((i) => i.path).join('|')));
    expect(draws.size).toBeGreaterThan(1);
    expect(holdOut(ds, 0.25, 1).validation!.items.map((i) => i.path)).not.toEqual(a);
  });

  it('is not the first (or last) files by name, and does not depend on the names', () => {
    const sizes2 = [20, 20];
    const ds = dataset(sizes2);
    // Reverse-sorted, unrelated names: same positions, different names.
    const renamed = dataset(sizes2, (c, i) => `/other/${c}-${String.fromCharCode(122 - i)}-${(i * 7919) % 1000}.jpg`);
    let notPrefix = 0;
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const held = holdOut(ds, 0.3, seed).validation!.items;
      const heldRenamed = holdOut(renamed, 0.3, seed).validation!.items;
      const pos = positionsInClass(ds, held);
      const posRenamed = positionsInClass(renamed, heldRenamed);
      expect(posRenamed).toEqual(pos);
      for (const [, ps] of pos) {
        const k = ps.length;
        const prefix = Array.from({ length: k }, (_, i) => i);
        const suffix = Array.from({ length: k }, (_, i) => 20 - k + i);
        if (JSON.stringify(ps) !== JSON.stringify(prefix) && JSON.stringify(ps) !== JSON.stringify(suffix)) notPrefix++;
      }
    }
    // 12 class draws of 6 out of 20: a random draw is the prefix/suffix with probability ~2.6e-5 each.
    expect(notPrefix).toBeGreaterThanOrEqual(11);
  });

  it('adding a class does not change the draw of the other classes', () => {
    const before = dataset([9, 12, 7]);
    const after = dataset([9, 12, 7, 15]);
    for (const seed of [5, 77]) {
      const pb = positionsInClass(before, holdOut(before, 0.34, seed).validation!.items);
      const pa = positionsInClass(after, holdOut(after, 0.34, seed).validation!.items);
      for (const c of [0, 1, 2]) expect(pa.get(c)).toEqual(pb.get(c));
      expect(pa.get(3)).toHaveLength(expectedHeld(15, 0.34));
    }
  });

  it.each([-0.1, 0.51, 0.6, 1, Number.NaN])('refuses split %f with a RangeError', (split) => {
    expect(() => holdOut(dataset([4, 4]), split, 1)).toThrow(RangeError);
  });
});

describe('drawShots', () => {
  it('keeps min(n, shots) per class, in dataset order, deterministic in the seed', () => {
    const sizes = [1, 3, 4, 10, 30];
    const ds = dataset(sizes);
    for (const shots of [1, 4, 16]) {
      const out = drawShots(ds, shots, 8);
      const counts = countByLabel(out.items);
      sizes.forEach((n, c) => expect(counts.get(c) ?? 0).toBe(Math.min(n, shots)));
      const index = new Map(ds.items.map((it, i) => [it.path, i]));
      const idx = out.items.map((i) => index.get(i.path)!);
      expect(idx).toEqual([...idx].sort((a, b) => a - b));
      expect(new Set(idx).size).toBe(idx.length);
      expect(drawShots(ds, shots, 8).items).toEqual(out.items);
    }
  });

  it('keeps every image of a class with no more than `shots` images', () => {
    const ds = dataset([3, 5]);
    expect(drawShots(ds, 5, 1).items).toEqual(ds.items);
    expect(drawShots(ds, 100, 2).items).toEqual(ds.items);
  });

  it('draws at random (not the first files by name), with seed-dependent draws, independent of other classes', () => {
    const ds = dataset([30, 30]);
    const draws = [1, 2, 3, 4].map((s) => positionsInClass(ds, drawShots(ds, 4, s).items));
    const firstFour = [0, 1, 2, 3];
    const notFirst = draws.flatMap((d) => [...d.values()]).filter((ps) => JSON.stringify(ps) !== JSON.stringify(firstFour)).length;
    expect(notFirst).toBeGreaterThanOrEqual(7);
    expect(new Set(draws.map((d) => JSON.stringify([...d.entries()]))).size).toBeGreaterThan(1);
    const more = dataset([30, 30, 12]);
    expect(positionsInClass(more, drawShots(more, 4, 1).items).get(0)).toEqual(draws[0].get(0));
    expect(positionsInClass(more, drawShots(more, 4, 1).items).get(1)).toEqual(draws[0].get(1));
  });
});
