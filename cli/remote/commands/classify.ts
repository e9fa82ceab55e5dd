// `cocoop remote classify --model ID|zero-shot --image PATH...`: POST /v1/classify, images sent in batches the API
// accepts (at most 32 images and about 10 MiB of image bytes per request).
import { readFileSync, statSync } from 'node:fs';
import type { Prediction } from '../../../sdk/src/node/index.ts';
import { CliError, commaList, intOption, listOption, stringOption } from '../args.ts';
import type { RemoteCommand } from '../context.ts';

const MAX_IMAGES_PER_REQUEST = 32;
const MAX_BYTES_PER_REQUEST = 10 * 1024 * 1024;

/** The image paths in request-sized groups, in order. */
export function batches(paths: string[], sizes: number[]): string[][] {
  const out: string[][] = [];
  let current: string[] = [];
  let bytes = 0;
  paths.forEach((path, i) => {
    if (current.length > 0 && (current.length === MAX_IMAGES_PER_REQUEST || bytes + sizes[i]! > MAX_BYTES_PER_REQUEST)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(path);
    bytes += sizes[i]!;
  });
  if (current.length > 0) out.push(current);
  return out;
}

function sizeOf(path: string): number {
  try {
    const s = statSync(path);
    if (!s.isFile()) throw new CliError(`--image ${path} is not a file`);
    return s.size;
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`--image ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}

export const CLASSIFY_COMMAND: RemoteCommand = {
  spec: {
    words: ['classify'],
    summary: "each image's labels with their probabilities (a model of yours, or zero-shot CLIP)",
    options: {
      model: { type: 'string', value: 'MODEL_ID', required: true, help: 'a model id (mdl_…), or zero-shot for CLIP without an adapter' },
      labels: { type: 'string', value: '"a,b,c"', multiple: true, help: "candidate labels, comma-separated or repeated (default: the model's classes; required for zero-shot)" },
      image: { type: 'string', value: 'PATH', multiple: true, required: true, help: 'an image file (JPEG, PNG, WebP)' },
      'top-k': { type: 'string', value: 'K', help: 'only the K most probable labels of each image' },
    },
    notes: ['Output: {"model", "labels_source": "model"|"request", "results": [{"image": PATH, "predictions": [{"label", "score"}]}]}, highest score first.'],
  },
  async run(ctx) {
    const model = stringOption(ctx.values, 'model')!;
    const labels = commaList(ctx.values, 'labels');
    const topK = intOption(ctx.values, 'top-k', ctx.spec, 1);
    const paths = listOption(ctx.values, 'image');
    const sizes = paths.map(sizeOf);
    const client = ctx.client();
    const results: { image: string; predictions: Prediction[] }[] = [];
    let labelsSource: string | undefined;
    for (const group of batches(paths, sizes)) {
      const answer = await client.classify({
        model,
        images: group.map((p) => new Uint8Array(readFileSync(p))),
        ...(labels.length > 0 ? { labels } : {}),
        ...(topK !== undefined ? { top_k: topK } : {}),
      });
      labelsSource = answer.labels_source;
      answer.results.forEach((r, i) => results.push({ image: group[i]!, predictions: r.predictions }));
    }
    for (const r of results) {
      const top = r.predictions[0];
      if (top) ctx.status.note(`${r.image}: ${top.label} (${(top.score * 100).toFixed(1)}%)`);
    }
    return { model, labels_source: labelsSource, results };
  },
};
