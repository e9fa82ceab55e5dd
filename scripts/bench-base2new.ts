// The base-to-new benchmark (docs/base2new.md): zero-shot CLIP, CoOp (two recipes) and CoCoOp on the
// toy world with the bundled toy CLIP, conditions = worlds (night, mixed) × splits (name-sorted,
// balanced), 10 seeds each, crop scale chosen on validation, training on the ORT engine in parallel
// worker processes.
//
//   npm run bench:base2new                     # full run: writes docs/base2new.md (generated section),
//                                              # docs/base2new.json and docs/base2new-<world>-<split>.svg
//   npm run bench:base2new -- --seeds 1,2 --selection-seeds 9 --shots 2 --val-per-class 1 --test-per-class 2 \
//     --epochs 1 --official-epochs 1 --out-dir /tmp/x                                            # smoke
//   npm run bench:base2new -- --from-json docs/base2new.json   # re-render the doc and charts from a run's JSON
//   options: --model DIR --worlds night,mixed --splits name-sorted,balanced --methods coop,coop-official,cocoop
//            --crop-candidates "0.08,1;0.5,1" --test-seed 1 --jobs 2
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { loadClipModel } from '../gpu-worker/clip/model.ts';
import { BASE2NEW_DEFAULTS, TRAINED_METHODS, WORLDS, type Base2NewSettings, type CropScale, type TrainedMethod, type World } from '../lab/toyworld/base2new.ts';
import { base2newMarkdown, base2newSvg, chartFile, type Base2NewResult } from '../lab/toyworld/base2new-report.ts';
import { runBenchmark } from '../lab/toyworld/base2new-run.ts';
import { summarizeAll } from '../lab/toyworld/base2new-summary.ts';
import { SPLIT_NAMES, type SplitName } from '../lab/toyworld/splits.ts';
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

function ints(name: string, v: string): number[] {
  return v.split(',').map((s) => positiveInt(name, s.trim()));
}

function oneOf<T extends string>(name: string, v: string, allowed: readonly T[]): T[] {
  const xs = v.split(',').map((s) => s.trim());
  for (const x of xs) if (!allowed.includes(x as T)) fail(`--${name}: "${x}" is not one of ${allowed.join(', ')}`);
  return xs as T[];
}

function cropScales(v: string): CropScale[] {
  return v.split(';').map((pair) => {
    const c = pair.split(',').map(Number);
    if (c.length !== 2 || !(c[0] > 0 && c[0] <= c[1] && c[1] <= 1)) fail(`--crop-candidates: "${pair}" is not "min,max" with 0 < min ≤ max ≤ 1`);
    return c as CropScale;
  });
}

const d = BASE2NEW_DEFAULTS;
const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/toy-clip' },
    worlds: { type: 'string', default: d.worlds.join(',') },
    splits: { type: 'string', default: d.splits.join(',') },
    methods: { type: 'string', default: d.methods.join(',') },
    seeds: { type: 'string', default: d.seeds.join(',') },
    'selection-seeds': { type: 'string', default: d.selectionSeeds.join(',') },
    shots: { type: 'string', default: String(d.shots) },
    'val-per-class': { type: 'string', default: String(d.valPerClass) },
    'test-per-class': { type: 'string', default: String(d.testPerClass) },
    'test-seed': { type: 'string', default: String(d.testSeed) },
    epochs: { type: 'string', default: String(d.recipes.cocoop.epochs) },
    'official-epochs': { type: 'string', default: String(d.recipes['coop-official'].epochs) },
    'crop-candidates': { type: 'string', default: d.cropCandidates.map((c) => c.join(',')).join(';') },
    jobs: { type: 'string', default: String(Math.min(2, cpus().length)) },
    'out-dir': { type: 'string', default: 'docs' },
    'from-json': { type: 'string' },
  },
});

function writeOutputs(result: Base2NewResult, outDir: string): void {
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'base2new.json'), JSON.stringify(result, null, 2) + '\n');
  for (const c of result.conditions) writeFileSync(join(outDir, chartFile(c.world, c.split)), base2newSvg(c));
  const md = base2newMarkdown(result);
  writeDocSection(join(outDir, 'base2new.md'), 'bench:base2new', md, '# Base-to-new generalisation in the toy world\n\n');
  console.log(`\n${md}\n\nbench:base2new: wrote ${join(outDir, 'base2new.md')}, base2new.json and ${result.conditions.length} charts`);
}

if (values['from-json']) {
  const result = JSON.parse(readFileSync(values['from-json'], 'utf8')) as Base2NewResult;
  writeOutputs(result, values['out-dir']!);
  process.exit(0);
}

const shots = positiveInt('shots', values.shots!);
const valPerClass = positiveInt('val-per-class', values['val-per-class']!);
if (valPerClass >= shots) fail(`--val-per-class (${valPerClass}) must be smaller than --shots (${shots})`);
const epochs = positiveInt('epochs', values.epochs!);
const officialEpochs = positiveInt('official-epochs', values['official-epochs']!);
const settings: Base2NewSettings = {
  worlds: oneOf<World>('worlds', values.worlds!, WORLDS),
  splits: oneOf<SplitName>('splits', values.splits!, SPLIT_NAMES),
  methods: oneOf<TrainedMethod>('methods', values.methods!, TRAINED_METHODS),
  seeds: ints('seeds', values.seeds!),
  selectionSeeds: ints('selection-seeds', values['selection-seeds']!),
  shots,
  valPerClass,
  testPerClass: positiveInt('test-per-class', values['test-per-class']!),
  testSeed: positiveInt('test-seed', values['test-seed']!),
  recipes: {
    coop: { ...d.recipes.coop, epochs },
    'coop-official': { ...d.recipes['coop-official'], epochs: officialEpochs },
    cocoop: { ...d.recipes.cocoop, epochs },
  },
  cropCandidates: cropScales(values['crop-candidates']!),
};
const overlap = settings.seeds.filter((s) => settings.selectionSeeds.includes(s));
if (overlap.length && settings.cropCandidates.length > 1) fail(`selection seeds must differ from evaluation seeds (both have ${overlap.join(', ')})`);
const jobs = positiveInt('jobs', values.jobs!);
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
const workDir = mkdtempSync(join(tmpdir(), 'base2new-'));
const t0 = performance.now();
let out;
try {
  out = await runBenchmark(settings, { modelDir: model.dir, jobs, workDir, log: (l) => console.log(l) });
} finally {
  rmSync(workDir, { recursive: true, force: true });
}
const result: Base2NewResult = {
  settings: { ...settings, cropChoice: out.cropChoice },
  run: {
    command,
    machine,
    date: new Date().toISOString().slice(0, 10),
    seconds: (performance.now() - t0) / 1000,
    selectionSeconds: out.selectionSeconds,
    jobs,
    engine: 'ort',
    model: relative(process.cwd(), model.dir) || model.dir,
    modelSha256: model.weightsSha256(),
  },
  conditions: summarizeAll(settings.worlds, settings.splits, out.rows),
  selection: out.selection,
  rows: out.rows,
};
writeOutputs(result, values['out-dir']!);
