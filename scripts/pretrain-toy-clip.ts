// npm run pretrain:toy -- [--out models/toy-clip] [--seed 1] [--steps 5000] [--lr 0.002] [--batch 64] [--replicas 2]
// npm run pretrain:toy -- --out models/toy-clip --eval-only   # re-measure the zero-shot table of an existing model
// Pretrains the bundled toy CLIP contrastively on the toy world (TF.js), saves it in Hugging Face
// layout, measures its zero-shot accuracy (ORT, the product's inference path) in the three domains,
// and writes the model card (README.md) and pretrain-report.json next to the weights.
import { availableParallelism, cpus } from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { statSync } from 'node:fs';
import { initTfBackend } from '../gpu-worker/runtime/tf-backend.ts';
import { PRETRAIN_DEFAULTS, pretrainToyClip } from '../lab/pretrain/pretrain.ts';
import { modelCard, type FullPretrainReport } from '../lab/pretrain/model-card.ts';
import { zeroShotReport } from '../lab/toyworld/zero-shot-report.ts';

const EVAL_PER_CLASS = 20;
const EVAL_SEED = 1;

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'models/toy-clip' },
    seed: { type: 'string', default: String(PRETRAIN_DEFAULTS.seed) },
    steps: { type: 'string', default: String(PRETRAIN_DEFAULTS.steps) },
    lr: { type: 'string', default: String(PRETRAIN_DEFAULTS.lr) },
    batch: { type: 'string', default: String(PRETRAIN_DEFAULTS.batchSize) },
    'eval-only': { type: 'boolean', default: false },
    replicas: { type: 'string', default: String(Math.min(2, availableParallelism())) },
  },
});
function num(name: string, v: string, integer: boolean): number {
  const x = Number(v);
  if (!Number.isFinite(x) || x <= 0 || (integer && !Number.isInteger(x))) {
    console.error(`pretrain: --${name} must be a positive ${integer ? 'integer' : 'number'}, got "${v}"`);
    process.exit(1);
  }
  return x;
}
const opts = {
  ...PRETRAIN_DEFAULTS,
  out: values.out!,
  seed: num('seed', values.seed!, true),
  steps: num('steps', values.steps!, true),
  lr: num('lr', values.lr!, false),
  batchSize: num('batch', values.batch!, true),
  replicas: num('replicas', values.replicas!, true),
  log: (line: string) => console.log(line),
};
if (values['eval-only']) {
  const reportPath = join(values.out!, 'pretrain-report.json');
  let previous: FullPretrainReport;
  try {
    previous = JSON.parse(readFileSync(reportPath, 'utf8')) as FullPretrainReport;
  } catch (e) {
    console.error(`pretrain: --eval-only needs ${reportPath} (${(e as Error).message.split('\n')[0]})`);
    process.exit(1);
  }
  console.log(`measuring zero-shot accuracy of ${values.out} (${EVAL_PER_CLASS} test images per class per domain)…`);
  const zeroShot = await zeroShotReport(values.out!, EVAL_PER_CLASS, EVAL_SEED);
  const full = { ...previous, zeroShot, evalPerClass: EVAL_PER_CLASS, evalSeed: EVAL_SEED };
  writeFileSync(reportPath, JSON.stringify(full, null, 2) + '\n');
  writeFileSync(join(values.out!, 'README.md'), modelCard(full));
  console.log(`zero-shot over 64 labels: raster ${(zeroShot.raster * 100).toFixed(1)}%, sticker ${(zeroShot.sticker * 100).toFixed(1)}%, night ${(zeroShot.night * 100).toFixed(1)}%`);
  process.exit(0);
}
const command = `npm run pretrain:toy -- --out ${relative(process.cwd(), opts.out) || '.'} --seed ${opts.seed} --steps ${opts.steps} --lr ${opts.lr} --batch ${opts.batchSize} --replicas ${opts.replicas}`;
const backend = await initTfBackend({ log: (l) => console.log(l) });
console.log(`$ ${command}\nmachine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, TF.js backend ${backend.backend}`);
const report = await pretrainToyClip(opts);
console.log(`pretraining done in ${report.seconds.toFixed(0)} s; measuring zero-shot accuracy (${EVAL_PER_CLASS} test images per class per domain)…`);
const zeroShot = await zeroShotReport(opts.out, EVAL_PER_CLASS, EVAL_SEED);
const sizeBytes = statSync(join(opts.out, 'model.safetensors')).size;
const full = { command, machine: `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores`, backend: backend.backend, ...report, zeroShot, evalPerClass: EVAL_PER_CLASS, evalSeed: EVAL_SEED, weightsBytes: sizeBytes };
writeFileSync(join(opts.out, 'pretrain-report.json'), JSON.stringify(full, null, 2) + '\n');
writeFileSync(join(opts.out, 'README.md'), modelCard(full));
console.log(`zero-shot over 64 labels: raster ${(zeroShot.raster * 100).toFixed(1)}%, sticker ${(zeroShot.sticker * 100).toFixed(1)}%, night ${(zeroShot.night * 100).toFixed(1)}%`);
console.log(`wrote ${opts.out} (model.safetensors ${(sizeBytes / 1e6).toFixed(2)} MB, README.md, pretrain-report.json)`);
