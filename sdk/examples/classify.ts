// Classify images with a trained model (or "zero-shot"), optionally against labels of your own:
//
//   COCOOP_BASE_URL=... COCOOP_API_KEY=... npx tsx classify.ts mdl_... photo1.png photo2.jpg --labels "red star,blue ring"
//
// Prints the top predictions of each image. In your project import from '@cocoop/sdk'.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { APIError, CoCoOp } from '../src/index.ts';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { labels: { type: 'string' }, top: { type: 'string', default: '3' } } });
const [model, ...files] = positionals;
if (!model || files.length === 0) {
  console.error('usage: classify.ts <model id | zero-shot> <image>... [--labels "a,b,c"] [--top N]');
  process.exit(2);
}

const client = new CoCoOp();
const labels = values.labels?.split(',').map((l) => l.trim());
try {
  // One request for the whole batch (the API takes up to 32 images per request).
  const { results, labels_source } = await client.classify({
    model,
    images: await Promise.all(files.map((f) => readFile(f))),
    ...(labels ? { labels } : {}),
    top_k: Number(values.top),
  });
  console.log(`labels from the ${labels_source}`);
  results.forEach((r, i) => console.log(`${files[i]}: ${r.predictions.map((p) => `${p.label} ${(p.score * 100).toFixed(1)}%`).join(', ')}`));
} catch (err) {
  if (err instanceof APIError) {
    console.error(`${err.status ?? 'no answer'} ${err.code ?? ''}: ${err.message}`);
    process.exit(1);
  }
  throw err;
}
