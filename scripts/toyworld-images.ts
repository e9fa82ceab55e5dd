// npm run toyworld -- --out DIR [--domain raster|night|sticker] [--split train|test] [--classes base|new|all|"red star,blue ring"]
//                     [--per-class N] [--seed S] [--size 48]
// Writes toy-world images as an image folder (DIR/<class name>/NNN.png), the layout `cocoop train/eval --data` reads.
import { parseArgs } from 'node:util';
import { toyImageSet, TOY_DOMAINS, writeImageFolder, type ToyDomain, type ToySplit } from '../lab/toyworld/image-sets.ts';
import { baseNewSplit, CLASS_NAMES } from '../lab/toyworld/world.ts';

const USAGE = `npm run toyworld -- --out DIR [--domain raster|night|sticker] [--split train|test]
                    [--classes base|new|all|"red star,blue ring"] [--per-class N] [--seed S] [--size 48]
Writes toy-world images as an image folder DIR/<class name>/NNN.png (what \`cocoop train --data\` reads).
  --domain     raster (the pretraining renderer), sticker (the held-out renderer), night (default: the shifted domain)
  --split      train (default) or test: independent random streams
  --classes    all (default), base, new, or a comma-separated list of "<color> <shape>" names
  --per-class  images per class (default 16); --seed (default 1); --size in pixels (default 48)`;

function fail(msg: string): never {
  console.error(`toyworld: ${msg}`);
  process.exit(1);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      out: { type: 'string' },
      domain: { type: 'string', default: 'night' },
      split: { type: 'string', default: 'train' },
      classes: { type: 'string', default: 'all' },
      'per-class': { type: 'string', default: '16' },
      seed: { type: 'string', default: '1' },
      size: { type: 'string', default: '48' },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (e) {
  fail((e as Error).message);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (!values.out) fail('--out DIR is required (npm run toyworld -- --help)');
if (!TOY_DOMAINS.includes(values.domain as ToyDomain)) fail(`--domain must be one of ${TOY_DOMAINS.join(', ')}`);
if (values.split !== 'train' && values.split !== 'test') fail('--split must be train or test');
const int = (name: string, v: string, max: number) => {
  const x = Number(v);
  if (!Number.isInteger(x) || x < 1 || x > max) fail(`--${name} must be an integer in 1..${max}, got "${v}"`);
  return x;
};
const { base, novel } = baseNewSplit(CLASS_NAMES);
let classes: string[];
if (values.classes === 'all') classes = CLASS_NAMES;
else if (values.classes === 'base') classes = base;
else if (values.classes === 'new') classes = novel;
else {
  classes = values.classes.split(',').map((c) => c.trim());
  const unknown = classes.find((c) => !CLASS_NAMES.includes(c));
  if (unknown !== undefined) fail(`unknown class "${unknown}" (classes are "<color> <shape>", e.g. "red star")`);
}
const perClass = int('per-class', values['per-class'], 10_000);
const set = await toyImageSet(values.domain as ToyDomain, values.split as ToySplit, int('seed', values.seed, 2 ** 31), classes, perClass, int('size', values.size, 1024));
await writeImageFolder(set, values.out);
console.log(`wrote ${set.images.length} ${values.domain} images (${classes.length} classes × ${perClass}, split ${values.split}) to ${values.out}`);
