// `npm run bench:load`: the local stack (`npm start`) under load from autocannon on loopback, bounded in time.
//   control plane: GET /v1/me (auth + a read), GET /v1/training-jobs (a list), POST /v1/training-jobs followed by
//                  its cancel (a write: job, event and cancel in SQLite)
//   classify:      one 48×48 image per request, 8 labels, zero-shot and a CoCoOp model trained first
// each at increasing concurrency (connections), reporting throughput, p50/p99 latency and errors (non-2xx + socket
// errors), then a soak: a mixed load for --soak-s seconds (default 300) while the resident memory of the edge
// process (with s3rver) and of the worker process is sampled every 5 s; the soak passes with zero errors and when
// neither process's median RSS over the last minute exceeds its median over the minute after warm-up (the first
// minute: caches, JIT, ORT arenas) by more than the bound.
//
// Options: --seconds N per level (default 10), --levels 1,8,32, --soak-s N (300; 0 skips), --quick (1 s per level,
// levels 1,4, a 4 s soak: the test's smoke run), --write (replace the bench:load section of docs/reliability.md),
// --json FILE.
import autocannon from 'autocannon';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CLASS_NAMES } from '../lab/toyworld/world.ts';
import { writeDocSection } from './lib/doc-section.ts';
import { percentile } from './lib/closed-loop.ts';
import { apiCall, type BenchStack, benchTenant, machineName, nightImages, rssMb, startBenchStack, trainBenchModel } from './lib/bench-stack.ts';

const CLASSES = [CLASS_NAMES[3]!, CLASS_NAMES[12]!, CLASS_NAMES[21]!, CLASS_NAMES[30]!, CLASS_NAMES[33]!, CLASS_NAMES[42]!, CLASS_NAMES[51]!, CLASS_NAMES[60]!];
/** Allowed resident-memory growth per process from the end of the soak's first minute to its end. */
export const SOAK_GROWTH_BOUND_MB = 64;

export interface LoadRow {
  scenario: string;
  connections: number;
  requests: number;
  per_s: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
}

export interface SoakResult {
  seconds: number;
  requests: number;
  errors: number;
  per_s: number;
  p99_ms: number;
  /** [seconds since the soak began, edge MB, worker MB] every 5 s. */
  samples: [number, number | null, number | null][];
  /** Median RSS of the last minute minus the median of the minute after warm-up. */
  edge_growth_mb: number;
  worker_growth_mb: number;
  /** Highest sample after warm-up minus the warm-up median (informational: includes GC phases). */
  edge_peak_over_warm_mb: number;
  worker_peak_over_warm_mb: number;
  bound_mb: number;
  passed: boolean;
}

export interface LoadBenchResult {
  command: string;
  machine: string;
  date: string;
  seconds_per_level: number;
  rows: LoadRow[];
  soak: SoakResult | null;
}

type Scenario = { name: string; requests: autocannon.Request[] };

function scenarios(key: string, datasetId: string, modelId: string, image: string): Scenario[] {
  const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const classify = (model: string) => [{ method: 'POST' as const, path: '/v1/classify', headers: auth, body: JSON.stringify({ model, image, labels: CLASSES }) }];
  return [
    { name: 'GET /v1/me', requests: [{ method: 'GET', path: '/v1/me', headers: auth }] },
    { name: 'GET /v1/training-jobs (list of 20)', requests: [{ method: 'GET', path: '/v1/training-jobs?limit=20', headers: auth }] },
    {
      name: 'POST /v1/training-jobs, then its cancel (2 requests)',
      requests: [
        {
          method: 'POST',
          path: '/v1/training-jobs',
          headers: auth,
          body: JSON.stringify({ dataset_id: datasetId, method: 'cocoop', hyperparameters: { epochs: 1 } }),
          onResponse: (_status, body, context) => {
            try {
              (context as { jobId?: string }).jobId = (JSON.parse(body) as { id?: string }).id;
            } catch {
              (context as { jobId?: string }).jobId = undefined;
            }
          },
        },
        {
          method: 'POST',
          headers: auth,
          setupRequest: (req, context) => ({ ...req, path: `/v1/training-jobs/${(context as { jobId?: string }).jobId ?? 'none'}/cancel` }),
        },
      ],
    },
    { name: 'POST /v1/classify zero-shot', requests: classify('zero-shot') },
    { name: 'POST /v1/classify CoCoOp', requests: classify(modelId) },
  ];
}

async function cannon(url: string, s: Scenario, connections: number, seconds: number): Promise<autocannon.Result> {
  return autocannon({ url, connections, duration: seconds, requests: s.requests, timeout: 30 });
}

function row(s: Scenario, connections: number, r: autocannon.Result): LoadRow {
  return {
    scenario: s.name,
    connections,
    requests: r.requests.total,
    per_s: r.requests.total / r.duration,
    p50_ms: r.latency.p50,
    p99_ms: r.latency.p99,
    errors: r.non2xx + r.errors,
  };
}

async function soak(stack: BenchStack, all: Scenario[], seconds: number, log: (l: string) => void): Promise<SoakResult> {
  const samples: SoakResult['samples'] = [];
  const t0 = Date.now();
  const sample = () => {
    const { launcher, worker } = stack.pids();
    samples.push([Math.round((Date.now() - t0) / 1000), rssMb(launcher), worker !== null ? rssMb(worker) : null]);
  };
  sample();
  const timer = setInterval(() => {
    sample();
    const last = samples.at(-1)!;
    log(`soak ${last[0]} s: edge ${last[1]?.toFixed(0)} MB, worker ${last[2]?.toFixed(0)} MB`);
  }, 5000);
  // The mix: reads, writes and classification together (2 connections each).
  const runs = await Promise.all(all.map((s) => cannon(stack.url, s, 2, seconds)));
  clearInterval(timer);
  sample();
  // Growth = median of the last minute − median of the minute after warm-up (medians: the heap rises and falls with
  // garbage collection; a trend is growth, a GC phase is not). Short soaks use what samples they have.
  const w = Math.min(60, seconds / 2);
  const warmWindow = samples.filter((x) => x[0] >= w && x[0] < w + 60);
  const endWindow = samples.filter((x) => x[0] >= Math.max(w, seconds - 60));
  const warm = warmWindow.length ? warmWindow : [samples.find((x) => x[0] >= w) ?? samples.at(-1)!];
  const end = endWindow.length ? endWindow : [samples.at(-1)!];
  const median = (rows: SoakResult['samples'], i: 1 | 2) => percentile(rows.map((x) => x[i] ?? 0), 50);
  const growth = (i: 1 | 2) => median(end, i) - median(warm, i);
  const peak = (i: 1 | 2) => Math.max(...samples.filter((x) => x[0] >= w).map((x) => x[i] ?? 0)) - median(warm, i);
  const requests = runs.reduce((n, r) => n + r.requests.total, 0);
  const result: SoakResult = {
    seconds,
    requests,
    errors: runs.reduce((n, r) => n + r.non2xx + r.errors, 0),
    per_s: requests / seconds,
    p99_ms: Math.max(...runs.map((r) => r.latency.p99)),
    samples,
    edge_growth_mb: growth(1),
    worker_growth_mb: growth(2),
    edge_peak_over_warm_mb: peak(1),
    worker_peak_over_warm_mb: peak(2),
    bound_mb: SOAK_GROWTH_BOUND_MB,
    passed: false,
  };
  result.passed = result.errors === 0 && result.edge_growth_mb <= SOAK_GROWTH_BOUND_MB && result.worker_growth_mb <= SOAK_GROWTH_BOUND_MB;
  return result;
}

export async function runLoadBench(o: { seconds: number; levels: number[]; soakS: number; command: string; log: (l: string) => void }): Promise<LoadBenchResult> {
  o.log('starting a local stack…');
  // Worker polls at most every 10 s: the create+cancel scenario's jobs are cancelled before a worker sees most of them.
  const stack = await startBenchStack({ RATE_LIMIT_REQUESTS: '1000000000', QUOTA_CONCURRENT_JOBS: '1000000', MAX_POLL_MS: '10000' });
  try {
    const key = await benchTenant(stack, 'load');
    o.log('training a CoCoOp model (8 classes, 4 shots, 2 epochs) for the CoCoOp classify scenario…');
    const modelId = await trainBenchModel(stack, key, { classes: CLASSES, shots: 4, epochs: 2, method: 'cocoop' });
    const datasetId = (await apiCall<{ data: { id: string }[] }>(stack.url, key, 'GET', '/v1/datasets')).data[0]!.id;
    const image = (await nightImages(CLASSES, 1, 4))[0]!.png.toString('base64');
    const all = scenarios(key, datasetId, modelId, image);
    const rows: LoadRow[] = [];
    for (const s of all) {
      await cannon(stack.url, s, 2, 1); // warm-up
      for (const c of o.levels) {
        const r = row(s, c, await cannon(stack.url, s, c, o.seconds));
        rows.push(r);
        o.log(`${s.name.padEnd(34)} ${String(c).padStart(3)} conn: ${r.per_s.toFixed(0)} req/s, p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, ${r.errors} errors`);
      }
    }
    let soakResult: SoakResult | null = null;
    if (o.soakS > 0) {
      o.log(`soak: ${o.soakS} s of mixed load (2 connections per scenario)…`);
      soakResult = await soak(stack, all, o.soakS, o.log);
      o.log(`soak: ${soakResult.requests} requests, ${soakResult.errors} errors; memory growth (medians) after warm-up: edge ${soakResult.edge_growth_mb.toFixed(1)} MB, worker ${soakResult.worker_growth_mb.toFixed(1)} MB (bound ${SOAK_GROWTH_BOUND_MB} MB): ${soakResult.passed ? 'PASS' : 'FAIL'}`);
    }
    return { command: o.command, machine: machineName(), date: new Date().toISOString().slice(0, 10), seconds_per_level: o.seconds, rows, soak: soakResult };
  } finally {
    await stack.stop();
  }
}

export function loadMarkdown(r: LoadBenchResult): string {
  const lines = [
    `Command: \`${r.command}\`  `,
    `Machine: ${r.machine}; run ${r.date}. autocannon (in the bench process) and the stack (edge + s3rver in one process, the worker in another) share the machine; ${r.seconds_per_level} s per level.`,
    '',
    '| scenario | connections | requests/s | p50 ms | p99 ms | errors |',
    '|---|---:|---:|---:|---:|---:|',
    ...r.rows.map((x) => `| ${x.scenario} | ${x.connections} | ${x.per_s.toFixed(0)} | ${x.p50_ms} | ${x.p99_ms} | ${x.errors} |`),
  ];
  if (r.soak) {
    const s = r.soak;
    const first = s.samples[0]!;
    const last = s.samples.at(-1)!;
    lines.push(
      '',
      `Soak: ${s.seconds} s of all five scenarios at once (2 connections each): ${s.requests} requests (${s.per_s.toFixed(0)}/s), ${s.errors} errors, worst p99 ${s.p99_ms} ms. ` +
        `Resident memory, start → end: edge ${first[1]?.toFixed(0)} → ${last[1]?.toFixed(0)} MB, worker ${first[2]?.toFixed(0)} → ${last[2]?.toFixed(0)} MB; ` +
        `growth (median of the last minute − median of the minute after a 1-minute warm-up): edge ${s.edge_growth_mb.toFixed(1)} MB, worker ${s.worker_growth_mb.toFixed(1)} MB ` +
        `(bound ${s.bound_mb} MB each): **${s.passed ? 'within the bound' : 'OVER THE BOUND'}**; highest single sample after warm-up: ` +
        `edge +${s.edge_peak_over_warm_mb.toFixed(0)} MB, worker +${s.worker_peak_over_warm_mb.toFixed(0)} MB (garbage-collection phases included).`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { seconds: { type: 'string' }, levels: { type: 'string' }, 'soak-s': { type: 'string' }, quick: { type: 'boolean' }, write: { type: 'boolean' }, json: { type: 'string' } },
    strict: true,
  });
  const seconds = values.quick ? 1 : Number(values.seconds ?? 10);
  const levels = (values.levels ?? (values.quick ? '1,4' : '1,8,32')).split(',').map(Number);
  const soakS = values.quick ? 4 : Number(values['soak-s'] ?? 300);
  if (!(seconds > 0) || !(soakS >= 0) || !levels.every((c) => Number.isInteger(c) && c >= 1 && c <= 1000)) {
    throw new Error('--seconds must be > 0, --soak-s ≥ 0, --levels whole numbers 1..1000');
  }
  const command = `npm run bench:load${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`;
  const log = (l: string) => process.stderr.write(l + '\n');
  log(`${command}\nmachine: ${machineName()}`);
  const result = await runLoadBench({ seconds, levels, soakS, command, log });
  const md = loadMarkdown(result);
  process.stdout.write(md + '\n');
  if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2) + '\n');
  if (values.write) writeDocSection(resolve('docs/reliability.md'), 'bench:load', md, '# Reliability\n');
  if (result.soak && !result.soak.passed) process.exitCode = 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench:load: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
