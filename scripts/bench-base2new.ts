// The base-to-new benchmark in miniature (docs/base2new.md): zero-shot CLIP, CoOp and CoCoOp on the
// toy world with the bundled toy CLIP, seeds 1, 2, 3.
//
//   npm run bench:base2new                     # full run: writes docs/base2new.md (generated section),
//                                              # docs/base2new.json and docs/base2new.svg
//   npm run bench:base2new -- --seeds 1 --shots 2 --test-per-class 2 --epochs 1 --out-dir /tmp/x   # smoke
//   options: --model DIR --seeds 1,2,3 --shots 16 --test-per-class 25 --epochs 10 --lr 0.002 --crop-scale 0.08,1
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { loadClipModel } from '../gpu-worker/clip/model.ts';
import { OrtClipEncoders } from '../gpu-worker/clip/ort-encoders.ts';
import { initTfBackend } from '../gpu-worker/runtime/tf-backend.ts';
import { BASE2NEW_DEFAULTS, runBase2New, summarize, type Base2NewSettings } from '../lab/toyworld/base2new.ts';
import { base2newMarkdown, base2newSvg, type Base2NewResult } from '../lab/toyworld/base2new-report.ts';
import { writeDocSection } from './lib/doc-section.ts';

function fail(msg: string): never {
  console.error(`bench:base2new: ${msg}`);
  process.exit(1);
}

function positiveInt(name: string, v: string): number {
  const x = Number(v);
  if (!Number.isInteger(x) || x <= 0) fail(`--${name} must be a positive integer, got "${v}"`);
  return x;
}

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/toy-clip' },
    seeds: { type: 'string', default: BASE2NEW_DEFAULTS.seeds.join(',') },
    shots: { type: 'string', default: String(BASE2NEW_DEFAULTS.shots) },
    'test-per-class': { type: 'string', default: String(BASE2NEW_DEFAULTS.testPerClass) },
    epochs: { type: 'string', default: String(BASE2NEW_DEFAULTS.epochs) },
    lr: { type: 'string', default: String(BASE2NEW_DEFAULTS.lr) },
    'crop-scale': { type: 'string', default: BASE2NEW_DEFAULTS.cropScale.join(',') },
    'out-dir': { type: 'string', default: 'docs' },
  },
});
const lr = Number(values.lr);
if (!(lr > 0)) fail(`--lr must be a positive number, got "${values.lr}"`);
const cropScale = values['crop-scale']!.split(',').map(Number);
if (cropScale.length !== 2 || !(cropScale[0] > 0 && cropScale[0] <= cropScale[1] && cropScale[1] <= 1)) {
  fail(`--crop-scale must be "min,max" with 0 < min ≤ max ≤ 1, got "${values['crop-scale']}"`);
}
const settings: Base2NewSettings = {
  ...BASE2NEW_DEFAULTS,
  seeds: values.seeds!.split(',').map((s) => positiveInt('seeds', s.trim())),
  shots: positiveInt('shots', values.shots!),
  testPerClass: positiveInt('test-per-class', values['test-per-class']!),
  epochs: positiveInt('epochs', values.epochs!),
  lr,
  cropScale: cropScale as [number, number],
};
const argv = process.argv.slice(2);
const command = `npm run bench:base2new${argv.length ? ' -- ' + argv.join(' ') : ''}`;
const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}`;
console.log(`$ ${command}\nmachine: ${machine}`);

let model;
try {
  model = loadClipModel(values.model!);
} catch (e) {
  fail((e as Error).message);
}
await initTfBackend({ log: (l) => console.log(l) });
const encoders = new OrtClipEncoders(model);
const workDir = mkdtempSync(join(tmpdir(), 'base2new-'));
const t0 = performance.now();
let rows;
try {
  rows = await runBase2New({ model, encoders, settings, workDir, log: (l) => console.log(l) });
} finally {
  await encoders.release();
  rmSync(workDir, { recursive: true, force: true });
}
const result: Base2NewResult = {
  command,
  machine,
  model: relative(process.cwd(), model.dir) || model.dir,
  modelSha256: model.weightsSha256(),
  settings,
  rows,
  summary: summarize(rows),
  seconds: (performance.now() - t0) / 1000,
  date: new Date().toISOString().slice(0, 10),
};
const outDir = values['out-dir']!;
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'base2new.json'), JSON.stringify(result, null, 2) + '\n');
writeFileSync(join(outDir, 'base2new.svg'), base2newSvg(result.summary));
const md = base2newMarkdown(result, 'base2new.svg');
writeDocSection(join(outDir, 'base2new.md'), 'bench:base2new', md, '# Base-to-new generalisation in the toy world\n\n');
console.log(`\n${md}\n\nbench:base2new: wrote ${join(outDir, 'base2new.md')}, base2new.json, base2new.svg in ${(result.seconds / 60).toFixed(1)} min`);
