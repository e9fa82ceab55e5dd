import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DatasetError, readImageFolder } from '../../../gpu-worker/cocoop/dataset.ts';
import { useTmpDirs } from '../../helpers/tmp.ts';

const tmp = useTmpDirs('dataset-');

function folder(layout: Record<string, string[]>): string {
  const root = tmp();
  for (const [cls, files] of Object.entries(layout)) {
    mkdirSync(join(root, cls), { recursive: true });
    for (const f of files) writeFileSync(join(root, cls, f), 'x');
  }
  return root;
}

describe('image-folder dataset', () => {
  it('sorts classes by name and keeps files grouped by class', () => {
    const root = folder({ zebra: ['b.png', 'a.jpg'], ant: ['1.webp'], '.hidden': ['x.png'] });
    writeFileSync(join(root, 'zebra', '.DS_Store'), '');
    const ds = readImageFolder(root);
    expect(ds.classNames).toEqual(['ant', 'zebra']);
    expect(ds.items.map((i) => [i.label, i.path.slice(root.length)])).toEqual([
      [0, '/ant/1.webp'],
      [1, '/zebra/a.jpg'],
      [1, '/zebra/b.png'],
    ]);
  });

  it.each([
    [{}, /no class folders/],
    [{ only: ['a.png'] }, /1 class folder\(s\); training needs at least 2/],
    [{ a: ['1.png'], b: [] }, /class folder has no images/],
    [{ a: ['1.png'], b: ['notes.txt'] }, /notes\.txt: not an image file/],
  ])('refuses a bad layout %j', (layout, message) => {
    const root = folder(layout);
    expect(() => readImageFolder(root)).toThrow(DatasetError);
    expect(() => readImageFolder(root)).toThrow(message);
  });

  it('names a missing folder', () => {
    expect(() => readImageFolder('/no/such/folder')).toThrow(/\/no\/such\/folder: cannot read directory \(ENOENT\)/);
  });
});
