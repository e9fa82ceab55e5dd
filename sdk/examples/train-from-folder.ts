// Train a CoCoOp adapter on an image folder (one sub-folder of images per class, named after the class):
//
//   COCOOP_BASE_URL=http://127.0.0.1:8787 COCOOP_API_KEY=sk_... npx tsx train-from-folder.ts ./shapes --epochs 5
//
// Creates a dataset, uploads the folder with a progress line, finalizes it, starts a training job and prints its
// events until it ends; prints the model id (for classify.ts). In your project import from '@cocoop/sdk/node'.
import { parseArgs } from 'node:util';
import { CoCoOp, ImageFolderError } from '../src/node/index.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { epochs: { type: 'string', default: '5' }, shots: { type: 'string' }, name: { type: 'string' } },
});
const folder = positionals[0];
if (!folder) {
  console.error('usage: train-from-folder.ts <folder> [--epochs N] [--shots N] [--name NAME]');
  process.exit(2);
}

const client = new CoCoOp(); // COCOOP_BASE_URL and COCOOP_API_KEY

const dataset = await client.datasets.create({ name: values.name ?? folder });
console.log(`dataset ${dataset.id}`);
try {
  await client.datasets.uploadFolder(dataset.id, folder, {
    onProgress: (p) => {
      if (p.error) console.error(`  ${p.file}: ${p.error.message}`);
      if (p.uploaded === p.total || p.uploaded % 25 === 0) console.log(`uploaded ${p.uploaded}/${p.total} (${(p.bytes / 1024).toFixed(0)} KiB)`);
    },
  });
} catch (err) {
  if (err instanceof ImageFolderError) {
    console.error(err.message);
    await client.datasets.delete(dataset.id);
    process.exit(1);
  }
  throw err;
}
const ready = await client.datasets.finalize(dataset.id);
console.log(`ready: ${ready.classes.map((c) => `${c.name} (${c.image_count})`).join(', ')}`);

const job = await client.trainingJobs.create({
  dataset_id: dataset.id,
  method: 'cocoop',
  hyperparameters: { epochs: Number(values.epochs), ...(values.shots ? { shots: Number(values.shots) } : {}) },
});
console.log(`training job ${job.id}`);
const done = await client.trainingJobs.wait(job.id, {
  onEvent: (e) => console.log(`  [${e.level}] ${e.message}`),
});
if (done.status !== 'succeeded') {
  console.error(`job ${done.status}: ${done.error?.code ?? ''} ${done.error?.message ?? ''}`);
  process.exit(1);
}
const validation = done.result?.validation;
console.log(`model ${done.model_id}${validation ? `: validation accuracy ${(validation.accuracy * 100).toFixed(1)}% (zero-shot CLIP ${(validation.zero_shot_accuracy * 100).toFixed(1)}%)` : ''}`);
