// `npm run bench:load`: the local stack (`npm start`) under load from autocannon on loopback, bounded in time.
//   control plane: GET /v1/me (auth + a read), GET /v1/training-jobs (a list), POST /v1/training-jobs followed by
//                  its cancel (a write: job, event and cancel in SQLite)
//   classify:      one 48×48 image per request, 8 labels, zero-shot and a CoCoOp model trained first
// each at increasing concurrency (connections), reporting throughput, p50/p99 latency and errors (non-2xx + socket
// errors), then a soak: a mixed load for --soak-s seconds (default 300) while the resident memory (RSS) of the edge,
// s3 and worker processes is sampled every 5 s, and every minute the heap of the edge and of the s3 process after a
// forced full garbage collection (the stack's IPC memory sampling, scripts/start-local.ts). Per process it fits a
// least-squares slope (MB/min, 95% interval corrected for autocorrelation, scripts/lib/trend.ts) to the per-minute
// heap after GC and the per-minute median RSS over the minutes after warm-up, and over the second half of them. The
// soak passes with zero errors and when no process's median RSS over the last minute exceeds its median over the
// minute after warm-up (the first minute: caches, JIT, ORT arenas) by more than the bound; the slopes are reported
// for the reader's verdict.
//
// Options: --seconds N per level (default 10), --levels 1,8,32 (none: the soak only), --soak-s N (300; 0 skips),
// --warmup-s N (60), --heap-snapshots DIR (V8 heap snapshots of the edge after warm-up, halfway and at the end of the
// soak; a snapshot itself raises the edge's RSS, so runs with them do not measure RSS), --quick (1 s per level,
// levels 1,4, a 4 s soak: the test's smoke run), --write (replace the bench:load section of docs/reliability.md, or
// the section named by --section NAME), --json FILE.
import autocannon from 'autocannon';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CLASS_NAMES } from '../lab/toyworld/world.ts';
import { writeDocSection } from './lib/doc-section.ts';
import { percentile } from './lib/closed-loop.ts';
import { apiCall, type BenchStack, benchTenant, machineName, nightImages, rssMb, startBenchStack, trainBenchModel } from './lib/bench-stack.ts';
import { excludesZero, fitSlope, type SlopeFit } from './lib/trend.ts';

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

/** The processes of the local stack whose memory the soak follows. */
export const PROCESSES = ['edge', 's3', 'worker'] as const;
export type ProcessName = (typeof PROCESSES)[number];
/** The fitted series: heap after GC (edge, s3: the processes that answer the IPC sample) and RSS (all three). */
export const SERIES = ['edge_heap', 's3_heap', 'edge_rss', 's3_rss', 'worker_rss'] as const;
export type SeriesName = (typeof SERIES)[number];

export interface HeapSample {
  /** Seconds since the soak began. */
  t: number;
  /** heapUsed after a forced full GC, and RSS at that moment, in MB (null: the process did not answer). */
  edge_heap_mb: number | null;
  edge_rss_mb: number | null;
  /** The edge's V8 heap reserved (heapTotal) and memory outside it that V8 tracks (external: Buffers, ...), MB. */
  edge_heap_total_mb: number | null;
  edge_external_mb: number | null;
  s3_heap_mb: number | null;
  s3_rss_mb: number | null;
}

export interface MinuteRow {
  /** Minute m covers seconds [60(m−1), 60m) of the soak. */
  minute: number;
  /** Median of the minute's 5-s RSS samples, MB. */
  edge_rss_mb: number | null;
  s3_rss_mb: number | null;
  worker_rss_mb: number | null;
  /** Heap after GC sampled at the minute's end (t = 60m), MB; with the edge's heapTotal and external then. */
  edge_heap_mb: number | null;
  edge_heap_total_mb: number | null;
  edge_external_mb: number | null;
  s3_heap_mb: number | null;
}

export interface SeriesFit {
  /** Over every minute after warm-up. */
  all: SlopeFit | null;
  /** Over the second half of those minutes (does the growth level off?). */
  second_half: SlopeFit | null;
}

export interface SoakResult {
  seconds: number;
  warmup_s: number;
  requests: number;
  errors: number;
  per_s: number;
  p99_ms: number;
  /** [seconds since the soak began, edge MB, s3 MB, worker MB] RSS every 5 s. */
  samples: [number, number | null, number | null, number | null][];
  /** Heap after forced GC of the edge and s3 processes: at the start, every minute, at the end. */
  heap: HeapSample[];
  minutes: MinuteRow[];
  /** Slopes in MB/min. */
  fits: Record<SeriesName, SeriesFit>;
  /** Median RSS of the last minute minus the median of the minute after warm-up, per process. */
  growth_mb: Record<ProcessName, number>;
  /** Highest RSS sample after warm-up minus the warm-up median (informational: includes GC phases). */
  peak_over_warm_mb: Record<ProcessName, number>;
  /** V8 heap snapshots of the edge written during the soak (--heap-snapshots). */
  heap_snapshots: string[];
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

const MB = 1024 * 1024;
const median = (xs: number[]): number | null => (xs.length ? percentile(xs, 50) : null);

/** Per-minute rows: RSS medians of each full minute's 5-s samples, heap after GC sampled at each minute's end. */
export function minuteRows(samples: SoakResult['samples'], heap: HeapSample[], seconds: number): MinuteRow[] {
  const rows: MinuteRow[] = [];
  for (let m = 1; m * 60 <= seconds; m++) {
    const inMinute = samples.filter(([t]) => t >= (m - 1) * 60 && t < m * 60);
    const col = (i: 1 | 2 | 3) => median(inMinute.map((x) => x[i]).filter((v): v is number => v !== null));
    const h = heap.find((x) => Math.abs(x.t - m * 60) <= 15);
    rows.push({
      minute: m,
      edge_rss_mb: col(1),
      s3_rss_mb: col(2),
      worker_rss_mb: col(3),
      edge_heap_mb: h?.edge_heap_mb ?? null,
      edge_heap_total_mb: h?.edge_heap_total_mb ?? null,
      edge_external_mb: h?.edge_external_mb ?? null,
      s3_heap_mb: h?.s3_heap_mb ?? null,
    });
  }
  return rows;
}

/** Slopes (MB/min) over the minutes after `warmupS` and over the second half of them. */
export function seriesFits(minutes: MinuteRow[], warmupS: number): Record<SeriesName, SeriesFit> {
  // Heap samples sit at the end of their minute (x = m); RSS medians at its middle (x = m − 0.5).
  const points = (key: SeriesName): [number, number][] =>
    minutes
      .filter((r) => (r.minute - 1) * 60 >= warmupS)
      .map((r): [number, number | null] => [key.endsWith('_heap') ? r.minute : r.minute - 0.5, r[`${key}_mb` as keyof MinuteRow] as number | null])
      .filter((p): p is [number, number] => p[1] !== null);
  const fit = (ps: [number, number][]) => fitSlope(ps.map((p) => p[0]), ps.map((p) => p[1]));
  const out = {} as Record<SeriesName, SeriesFit>;
  for (const key of SERIES) {
    const ps = points(key);
    out[key] = { all: fit(ps), second_half: fit(ps.slice(Math.floor(ps.length / 2))) };
  }
  return out;
}

async function soak(stack: BenchStack, all: Scenario[], o: { seconds: number; warmupS: number; snapshotDir?: string }, log: (l: string) => void): Promise<SoakResult> {
  const { seconds, warmupS } = o;
  const samples: SoakResult['samples'] = [];
  const heap: HeapSample[] = [];
  const snapshots: string[] = [];
  const t0 = Date.now();
  const now = () => Math.round((Date.now() - t0) / 1000);
  const sample = () => {
    const { launcher, s3, worker } = stack.pids();
    samples.push([now(), rssMb(launcher), s3 !== null ? rssMb(s3) : null, worker !== null ? rssMb(worker) : null]);
  };
  const sampleHeap = async () => {
    const t = now();
    try {
      const m = await stack.memory();
      if (!m.edge.gc) throw new Error('the edge process runs without --expose-gc');
      heap.push({
        t,
        edge_heap_mb: m.edge.heapUsed / MB,
        edge_rss_mb: m.edge.rss / MB,
        edge_heap_total_mb: m.edge.heapTotal / MB,
        edge_external_mb: m.edge.external / MB,
        s3_heap_mb: m.s3?.gc ? m.s3.heapUsed / MB : null,
        s3_rss_mb: m.s3 ? m.s3.rss / MB : null,
      });
      const h = heap.at(-1)!;
      log(`soak ${t} s: heap after GC: edge ${h.edge_heap_mb?.toFixed(1)} MB, s3 ${h.s3_heap_mb?.toFixed(1)} MB`);
    } catch (err) {
      log(`soak ${t} s: memory sample failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  const snapshot = async (label: string) => {
    if (!o.snapshotDir) return;
    try {
      const file = await stack.heapSnapshot(join(o.snapshotDir, `edge-${label}-${now()}s.heapsnapshot`));
      snapshots.push(file);
      log(`soak ${now()} s: heap snapshot ${file}`);
    } catch (err) {
      log(`soak: heap snapshot failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  sample();
  await sampleHeap();
  const timer = setInterval(() => {
    sample();
    const last = samples.at(-1)!;
    log(`soak ${last[0]} s: RSS edge ${last[1]?.toFixed(0)} MB, s3 ${last[2]?.toFixed(0)} MB, worker ${last[3]?.toFixed(0)} MB`);
  }, 5000);
  // Heap after GC once a minute (at t = 60, 120, ...), chained so that two never overlap.
  let heapChain: Promise<void> = Promise.resolve();
  const heapTimer = setInterval(() => {
    heapChain = heapChain.then(sampleHeap);
  }, 60_000);
  const snapshotTimers: NodeJS.Timeout[] = [];
  if (o.snapshotDir && seconds >= 3 * warmupS) {
    mkdirSync(o.snapshotDir, { recursive: true });
    snapshotTimers.push(setTimeout(() => (heapChain = heapChain.then(() => snapshot('warm'))), warmupS * 1000 + 5000));
    snapshotTimers.push(setTimeout(() => (heapChain = heapChain.then(() => snapshot('mid'))), ((warmupS + seconds) / 2) * 1000 + 5000));
  }
  // The mix: reads, writes and classification together (2 connections each).
  const runs = await Promise.all(all.map((s) => cannon(stack.url, s, 2, seconds)));
  clearInterval(timer);
  clearInterval(heapTimer);
  for (const t of snapshotTimers) clearTimeout(t);
  sample();
  await heapChain;
  if (!heap.some((h) => h.t > 0 && h.t >= seconds - 5)) await sampleHeap(); // one at the end, unless the last minute's is

  if (o.snapshotDir && seconds >= 3 * warmupS) await snapshot('end');

  // Growth = median of the last minute − median of the minute after warm-up (medians: the heap rises and falls with
  // garbage collection; a trend is growth, a GC phase is not). Short soaks use what samples they have.
  const w = Math.min(warmupS, seconds / 2);
  const warmWindow = samples.filter((x) => x[0] >= w && x[0] < w + 60);
  const endWindow = samples.filter((x) => x[0] >= Math.max(w, seconds - 60));
  const warm = warmWindow.length ? warmWindow : [samples.find((x) => x[0] >= w) ?? samples.at(-1)!];
  const end = endWindow.length ? endWindow : [samples.at(-1)!];
  const col = (rows: SoakResult['samples'], i: 1 | 2 | 3) => rows.map((x) => x[i] ?? 0);
  const growth = (i: 1 | 2 | 3) => percentile(col(end, i), 50) - percentile(col(warm, i), 50);
  const peak = (i: 1 | 2 | 3) => Math.max(...col(samples.filter((x) => x[0] >= w), i)) - percentile(col(warm, i), 50);
  const requests = runs.reduce((n, r) => n + r.requests.total, 0);
  const minutes = minuteRows(samples, heap, seconds);
  const result: SoakResult = {
    seconds,
    warmup_s: warmupS,
    requests,
    errors: runs.reduce((n, r) => n + r.non2xx + r.errors, 0),
    per_s: requests / seconds,
    p99_ms: Math.max(...runs.map((r) => r.latency.p99)),
    samples,
    heap,
    minutes,
    fits: seriesFits(minutes, warmupS),
    growth_mb: { edge: growth(1), s3: growth(2), worker: growth(3) },
    peak_over_warm_mb: { edge: peak(1), s3: peak(2), worker: peak(3) },
    heap_snapshots: snapshots,
    bound_mb: SOAK_GROWTH_BOUND_MB,
    passed: false,
  };
  result.passed = soakPassed(result.errors, result.growth_mb, SOAK_GROWTH_BOUND_MB);
  return result;
}

/** The soak's verdict: no failed request and every process's RSS growth within the bound. */
export function soakPassed(errors: number, growthMb: Record<ProcessName, number>, boundMb: number): boolean {
  return errors === 0 && PROCESSES.every((p) => growthMb[p] <= boundMb);
}

export async function runLoadBench(o: {
  seconds: number;
  levels: number[];
  soakS: number;
  warmupS?: number;
  snapshotDir?: string;
  command: string;
  log: (l: string) => void;
}): Promise<LoadBenchResult> {
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
      soakResult = await soak(stack, all, { seconds: o.soakS, warmupS: o.warmupS ?? 60, snapshotDir: o.snapshotDir }, o.log);
      const g = soakResult.growth_mb;
      o.log(`soak: ${soakResult.requests} requests, ${soakResult.errors} errors; RSS growth (medians) after warm-up: edge ${g.edge.toFixed(1)} MB, s3 ${g.s3.toFixed(1)} MB, worker ${g.worker.toFixed(1)} MB (bound ${SOAK_GROWTH_BOUND_MB} MB): ${soakResult.passed ? 'PASS' : 'FAIL'}`);
      for (const key of SERIES) o.log(`soak: ${key} slope ${fmtFit(soakResult.fits[key].all)} MB/min; second half ${fmtFit(soakResult.fits[key].second_half)} MB/min`);
    }
    return { command: o.command, machine: machineName(), date: new Date().toISOString().slice(0, 10), seconds_per_level: o.seconds, rows, soak: soakResult };
  } finally {
    await stack.stop();
  }
}

function fmtFit(f: SlopeFit | null): string {
  if (!f) return '–';
  const [lo, hi] = f.ci95;
  return Number.isFinite(lo) ? `${f.slope.toFixed(2)} [${lo.toFixed(2)}, ${hi.toFixed(2)}]` : `${f.slope.toFixed(2)} [no interval]`;
}

const SERIES_LABEL: Record<SeriesName, string> = {
  edge_heap: 'edge: heap after GC',
  s3_heap: 's3: heap after GC',
  edge_rss: 'edge: RSS',
  s3_rss: 's3: RSS',
  worker_rss: 'worker: RSS',
};

export function loadMarkdown(r: LoadBenchResult): string {
  const lines = [
    `Command: \`${r.command}\`  `,
    `Machine: ${r.machine}; run ${r.date}. autocannon (in the bench process) and the stack (the edge, s3rver and the worker, each in its own process) share the machine` +
      (r.rows.length ? `; ${r.seconds_per_level} s per level.` : '; no concurrency levels (soak only).'),
  ];
  if (r.rows.length) {
    lines.push(
      '',
      '| scenario | connections | requests/s | p50 ms | p99 ms | errors |',
      '|---|---:|---:|---:|---:|---:|',
      ...r.rows.map((x) => `| ${x.scenario} | ${x.connections} | ${x.per_s.toFixed(0)} | ${x.p50_ms} | ${x.p99_ms} | ${x.errors} |`),
    );
  }
  if (r.soak) {
    const s = r.soak;
    const first = s.samples[0]!;
    const last = s.samples.at(-1)!;
    const mb = (v: number | null | undefined) => (v == null ? '–' : v.toFixed(0));
    const mb1 = (v: number | null | undefined) => (v == null ? '–' : v.toFixed(1));
    lines.push(
      '',
      `Soak: ${s.seconds} s of all five scenarios at once (2 connections each): ${s.requests} requests (${s.per_s.toFixed(0)}/s), ${s.errors} errors, worst p99 ${s.p99_ms} ms. ` +
        `RSS, start → end: edge ${mb(first[1])} → ${mb(last[1])} MB, s3 ${mb(first[2])} → ${mb(last[2])} MB, worker ${mb(first[3])} → ${mb(last[3])} MB; ` +
        `growth (median of the last minute − median of the minute after a ${s.warmup_s} s warm-up): edge ${s.growth_mb.edge.toFixed(1)} MB, s3 ${s.growth_mb.s3.toFixed(1)} MB, worker ${s.growth_mb.worker.toFixed(1)} MB ` +
        `(bound ${s.bound_mb} MB each): **${s.passed ? 'within the bound' : 'OVER THE BOUND'}**; highest single sample after warm-up: ` +
        `edge +${s.peak_over_warm_mb.edge.toFixed(0)} MB, s3 +${s.peak_over_warm_mb.s3.toFixed(0)} MB, worker +${s.peak_over_warm_mb.worker.toFixed(0)} MB (garbage-collection phases included).`,
    );
    if (s.minutes.length) {
      lines.push(
        '',
        'Per minute (RSS: median of the minute\'s 5-s samples; heap: `heapUsed` right after a forced full GC at the minute\'s end), MB:',
        '',
        '| minute | edge RSS | edge heap after GC | edge heapTotal | edge external | s3 RSS | s3 heap after GC | worker RSS |',
        '|---:|---:|---:|---:|---:|---:|---:|---:|',
        ...s.minutes.map(
          (m) =>
            `| ${m.minute} | ${mb(m.edge_rss_mb)} | ${mb1(m.edge_heap_mb)} | ${mb1(m.edge_heap_total_mb)} | ${mb1(m.edge_external_mb)} | ${mb(m.s3_rss_mb)} | ${mb1(m.s3_heap_mb)} | ${mb(m.worker_rss_mb)} |`,
        ),
        '',
        `Least-squares slopes over the minutes after warm-up, MB/min [95% interval, widened for the residuals' lag-1 autocorrelation r1]:`,
        '',
        '| series | minutes | slope (all) | r1 | interval excludes 0 | slope (second half) | interval excludes 0 |',
        '|---|---:|---:|---:|---|---:|---|',
        ...SERIES.map((key) => {
          const f = s.fits[key];
          return `| ${SERIES_LABEL[key]} | ${f.all?.n ?? 0} | ${fmtFit(f.all)} | ${f.all ? f.all.r1.toFixed(2) : '–'} | ${excludesZero(f.all) ? 'yes' : 'no'} | ${fmtFit(f.second_half)} | ${excludesZero(f.second_half) ? 'yes' : 'no'} |`;
        }),
      );
    }
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string' },
      levels: { type: 'string' },
      'soak-s': { type: 'string' },
      'warmup-s': { type: 'string' },
      'heap-snapshots': { type: 'string' },
      section: { type: 'string' },
      quick: { type: 'boolean' },
      write: { type: 'boolean' },
      json: { type: 'string' },
    },
    strict: true,
  });
  const seconds = values.quick ? 1 : Number(values.seconds ?? 10);
  const levelsArg = values.levels ?? (values.quick ? '1,4' : '1,8,32');
  const levels = levelsArg === 'none' ? [] : levelsArg.split(',').map(Number);
  const soakS = values.quick ? 4 : Number(values['soak-s'] ?? 300);
  const warmupS = Number(values['warmup-s'] ?? 60);
  if (!(seconds > 0) || !(soakS >= 0) || !(warmupS >= 0) || !levels.every((c) => Number.isInteger(c) && c >= 1 && c <= 1000)) {
    throw new Error('--seconds must be > 0, --soak-s ≥ 0, --warmup-s ≥ 0, --levels whole numbers 1..1000 (or none)');
  }
  const command = `npm run bench:load${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`;
  const log = (l: string) => process.stderr.write(l + '\n');
  log(`${command}\nmachine: ${machineName()}`);
  const snapshotDir = values['heap-snapshots'] ? resolve(values['heap-snapshots']) : undefined;
  const result = await runLoadBench({ seconds, levels, soakS, warmupS, snapshotDir, command, log });
  const md = loadMarkdown(result);
  process.stdout.write(md + '\n');
  if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2) + '\n');
  if (values.write) writeDocSection(resolve('docs/reliability.md'), values.section ?? 'bench:load', md, '# Reliability\n');
  if (result.soak && !result.soak.passed) process.exitCode = 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench:load: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
