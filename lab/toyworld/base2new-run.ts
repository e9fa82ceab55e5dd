// The two phases of the base-to-new benchmark on a pool of worker processes: (1) the crop scale of each
// method chosen on validation runs (skipped with a single candidate), (2) every evaluation seed of every
// condition with the chosen crop scales.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Base2NewRow, Base2NewSettings, SelectionRow, TrainedMethod } from './base2new.ts';
import type { Base2NewJob, Base2NewJobResult, EvalJob, SelectJob } from './base2new-jobs.ts';
import { chooseCropScales, type CropChoice } from './base2new-summary.ts';
import { runPool } from './process-pool.ts';

const WORKER = join(fileURLToPath(new URL('.', import.meta.url)), 'base2new-worker.ts');

export interface BenchmarkRunOptions {
  modelDir: string;
  /** Worker processes in parallel. */
  jobs: number;
  /** Scratch directory (the workers' few-shot folders). */
  workDir: string;
  log: (line: string) => void;
}

export interface BenchmarkOutput {
  selection: SelectionRow[];
  cropChoice: CropChoice[];
  rows: Base2NewRow[];
  selectionSeconds: number;
}

export function selectionJobs(s: Base2NewSettings): SelectJob[] {
  return s.worlds.flatMap((world) =>
    s.splits.flatMap((split) =>
      s.selectionSeeds.flatMap((seed) =>
        s.cropCandidates.map((cropScale): SelectJob => ({ kind: 'select', world, split, seed, shots: s.shots, valPerClass: s.valPerClass, methods: s.methods, recipes: s.recipes, cropScale })),
      ),
    ),
  );
}

export function evalJobs(s: Base2NewSettings, cropScales: Record<TrainedMethod, [number, number]>): EvalJob[] {
  return s.seeds.flatMap((seed) =>
    s.worlds.flatMap((world) =>
      s.splits.map((split): EvalJob => ({ kind: 'eval', world, split, seed, shots: s.shots, testPerClass: s.testPerClass, testSeed: s.testSeed, methods: s.methods, recipes: s.recipes, cropScales })),
    ),
  );
}

export async function runBenchmark(s: Base2NewSettings, o: BenchmarkRunOptions): Promise<BenchmarkOutput> {
  const threads = o.jobs > 1 ? 1 : 0;
  const pool = <J extends Base2NewJob>(jobs: J[], what: string) => {
    let done = 0;
    return runPool<J, Base2NewJobResult>(jobs, {
      entry: WORKER,
      args: [o.modelDir, String(threads)],
      workDir: join(o.workDir, what),
      concurrency: o.jobs,
      onResult: () => o.log(`bench:base2new: ${what} ${++done}/${jobs.length} jobs done`),
    });
  };
  const t0 = performance.now();
  let selection: SelectionRow[] = [];
  let cropChoice: CropChoice[];
  if (s.cropCandidates.length > 1) {
    const results = await pool(selectionJobs(s), 'selection');
    selection = results.flatMap((r) => (r.kind === 'select' ? r.rows : []));
    cropChoice = chooseCropScales(selection, s.methods, s.cropCandidates);
  } else {
    cropChoice = s.methods.map((method) => ({ method, candidates: [], chosen: s.cropCandidates[0] }));
  }
  const selectionSeconds = (performance.now() - t0) / 1000;
  for (const c of cropChoice) o.log(`bench:base2new: ${c.method} trains with crop scale ${c.chosen.join('–')}`);
  const cropScales = Object.fromEntries(cropChoice.map((c) => [c.method, c.chosen])) as Record<TrainedMethod, [number, number]>;
  const results = await pool(evalJobs(s, cropScales), 'evaluation');
  const rows = results.flatMap((r) => (r.kind === 'eval' ? r.rows : []));
  return { selection, cropChoice, rows, selectionSeconds };
}
