// `npm run bench:classify`: classify latency and throughput of the local stack (`npm start`: edge on Node with
// SQLite → the worker's inference server, the bundled toy CLIP), zero-shot and CoCoOp, single-image requests at
// increasing concurrency (closed loop), plus 32-image batch requests. Each answer's Server-Timing header splits the
// time: `inference` = the edge's call to the worker (HTTP hop + model), `total` = the edge's whole handling; the rest
// of the client latency is the client and loopback HTTP. The same run repeats everything against a second stack with
// the worker's micro-batching off (INFERENCE_MAX_BATCH=1): the naive one-request-one-forward-pass server.
//
// Options: --seconds N (per level, default 8), --levels 1,4,16, --quick (1 s, levels 1,2: the test's smoke run),
// --write (replace the bench:classify section of docs/benchmarks.md), --json FILE.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CLASS_NAMES } from '../lab/toyworld/world.ts';
import { writeDocSection } from './lib/doc-section.ts';
import { type BenchStack, benchTenant, machineName, nightImages, startBenchStack, trainBenchModel } from './lib/bench-stack.ts';
import { type Sample, parseServerTiming, percentile, runClosedLoop, summarize } from './lib/closed-loop.ts';

const CLASSES = [CLASS_NAMES[3]!, CLASS_NAMES[12]!, CLASS_NAMES[21]!, CLASS_NAMES[30]!, CLASS_NAMES[33]!, CLASS_NAMES[42]!, CLASS_NAMES[51]!, CLASS_NAMES[60]!];

export interface ClassifyRow {
  server: 'batching' | 'naive';
  model: 'zero-shot' | 'cocoop';
  images_per_request: number;
  concurrency: number;
  requests: number;
  errors: number;
  images_per_s: number;
  p50_ms: number;
  p99_ms: number;
  /** Medians over the requests: client latency, edge total, the edge's worker call, and the edge's own share. */
  median_client_ms: number;
  median_edge_total_ms: number;
  median_inference_ms: number;
  edge_own_share: number;
}

export interface ClassifyBenchResult {
  command: string;
  machine: string;
  date: string;
  seconds_per_level: number;
  labels: number;
  rows: ClassifyRow[];
}

async function measureStack(
  server: ClassifyRow['server'],
  stack: BenchStack,
  o: { seconds: number; levels: number[]; log: (l: string) => void },
): Promise<ClassifyRow[]> {
  const key = await benchTenant(stack);
  o.log(`[${server}] training a CoCoOp model (8 classes, 4 shots, 2 epochs) for the CoCoOp rows…`);
  const modelId = await trainBenchModel(stack, key, { classes: CLASSES, shots: 4, epochs: 2, method: 'cocoop' });
  const images = (await nightImages(CLASSES, 8, 3)).map((x) => x.png.toString('base64'));
  const rows: ClassifyRow[] = [];

  const send = async (model: string, batch: string[]): Promise<Sample> => {
    const t0 = performance.now();
    const res = await fetch(`${stack.url}/v1/classify`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(batch.length === 1 ? { model, image: batch[0], labels: CLASSES } : { model, images: batch, labels: CLASSES }),
    });
    await res.arrayBuffer();
    return { ok: res.status === 200, ms: performance.now() - t0, timing: parseServerTiming(res.headers.get('server-timing')) };
  };

  for (const [name, model] of [
    ['zero-shot', 'zero-shot'],
    ['cocoop', modelId],
  ] as const) {
    for (let i = 0; i < 4; i++) await send(model, [images[i]!]); // warm-up: adapter cache, ORT sessions, connections
    const plan: [number, number][] = [...o.levels.map((c) => [1, c] as [number, number]), [32, 1]];
    for (const [perRequest, concurrency] of plan) {
      const run = await runClosedLoop(concurrency, o.seconds * 1000, (n) => {
        const start = (n * perRequest) % images.length;
        const batch = Array.from({ length: perRequest }, (_, k) => images[(start + k) % images.length]!);
        return send(model, batch);
      });
      const s = summarize(run);
      const ok = run.samples.filter((x) => x.ok && x.timing?.total !== undefined && x.timing.inference !== undefined);
      const row: ClassifyRow = {
        server,
        model: name,
        images_per_request: perRequest,
        concurrency,
        requests: s.requests,
        errors: s.errors,
        images_per_s: s.perSecond * perRequest,
        p50_ms: s.p50,
        p99_ms: s.p99,
        median_client_ms: percentile(ok.map((x) => x.ms), 50),
        median_edge_total_ms: percentile(ok.map((x) => x.timing!.total!), 50),
        median_inference_ms: percentile(ok.map((x) => x.timing!.inference!), 50),
        edge_own_share: percentile(ok.map((x) => (x.timing!.total! - x.timing!.inference!) / x.ms), 50),
      };
      rows.push(row);
      o.log(
        `[${server}] ${name.padEnd(9)} ${String(perRequest).padStart(2)} img/req × ${String(concurrency).padStart(2)} clients: ` +
          `${row.images_per_s.toFixed(1)} images/s, p50 ${row.p50_ms.toFixed(1)} ms, p99 ${row.p99_ms.toFixed(1)} ms, ${row.errors} errors; ` +
          `edge own ${(100 * row.edge_own_share).toFixed(1)}% of the latency`,
      );
    }
  }
  return rows;
}

export async function runClassifyBench(o: { seconds: number; levels: number[]; command: string; log: (l: string) => void }): Promise<ClassifyBenchResult> {
  const rows: ClassifyRow[] = [];
  for (const [server, env] of [
    ['batching', {}],
    ['naive', { INFERENCE_MAX_BATCH: '1' }],
  ] as const) {
    o.log(`[${server}] starting a local stack${server === 'naive' ? ' with micro-batching off (INFERENCE_MAX_BATCH=1)' : ''}…`);
    const stack = await startBenchStack({ ...env, RATE_LIMIT_REQUESTS: '100000000' });
    try {
      rows.push(...(await measureStack(server, stack, o)));
    } finally {
      await stack.stop();
    }
  }
  return { command: o.command, machine: machineName(), date: new Date().toISOString().slice(0, 10), seconds_per_level: o.seconds, labels: CLASSES.length, rows };
}

const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–');

export function classifyMarkdown(r: ClassifyBenchResult): string {
  const naive = (row: ClassifyRow) =>
    r.rows.find((x) => x.server === 'naive' && x.model === row.model && x.concurrency === row.concurrency && x.images_per_request === row.images_per_request);
  const lines = [
    `### Classify on the local stack (edge → worker inference server), toy CLIP`,
    '',
    `Command: \`${r.command}\`  `,
    `Machine: ${r.machine}; run ${r.date}; client, edge, worker and S3 server share the machine. ${r.seconds_per_level} s per level, closed loop, ${r.labels} labels per request, 48×48 PNG images (base64 JSON).`,
    '',
    '| model | images / request | clients | images/s | p50 ms | p99 ms | errors | edge own ms | worker call ms | edge share | naive server: images/s, p50, p99 |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const row of r.rows.filter((x) => x.server === 'batching')) {
    const n = naive(row);
    lines.push(
      `| ${row.model} | ${row.images_per_request} | ${row.concurrency} | **${row.images_per_s.toFixed(1)}** | ${ms(row.p50_ms)} | ${ms(row.p99_ms)} | ${row.errors} | ` +
        `${ms(row.median_edge_total_ms - row.median_inference_ms)} | ${ms(row.median_inference_ms)} | ${(100 * row.edge_own_share).toFixed(1)}% | ` +
        `${n ? `${n.images_per_s.toFixed(1)}, ${ms(n.p50_ms)}, ${ms(n.p99_ms)}${n.errors ? ` (${n.errors} errors)` : ''}` : '–'} |`,
    );
  }
  lines.push(
    '',
    '"Edge own" = median of the edge\'s Server-Timing `total` minus its `inference` (auth, rate limit, validation, model lookup, ' +
      'softmax, JSON); "worker call" = median `inference` (the HTTP call to the worker: decode, image tower, prompts, text tower); ' +
      '"edge share" = median per request of edge own ÷ client latency. The naive server is the same stack with the worker\'s ' +
      'micro-batching off (`INFERENCE_MAX_BATCH=1`: one forward pass per request), measured in the same run.',
  );
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { seconds: { type: 'string' }, levels: { type: 'string' }, quick: { type: 'boolean' }, write: { type: 'boolean' }, json: { type: 'string' } },
    strict: true,
  });
  const seconds = values.quick ? 1 : Number(values.seconds ?? 8);
  const levels = (values.levels ?? (values.quick ? '1,2' : '1,4,16')).split(',').map(Number);
  if (!(seconds > 0) || !levels.every((c) => Number.isInteger(c) && c >= 1 && c <= 256)) throw new Error('--seconds must be > 0 and --levels whole numbers 1..256');
  const command = `npm run bench:classify${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`;
  const log = (l: string) => process.stderr.write(l + '\n');
  log(`${command}\nmachine: ${machineName()}`);
  const result = await runClassifyBench({ seconds, levels, command, log });
  const md = classifyMarkdown(result);
  process.stdout.write(md + '\n');
  if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2) + '\n');
  if (values.write) writeDocSection(resolve('docs/benchmarks.md'), 'bench:classify', md, '# Benchmarks\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench:classify: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
