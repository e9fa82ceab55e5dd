// Statistics over seeds of the base-to-new benchmark: per condition and method the mean and 95% CI of
// Base, New and H (H = the mean of the per-seed harmonic means), the paired differences of CoCoOp
// against the other methods (mean, 95% CI, two-sided paired t-test), and the crop-scale choice.
import type { Base2NewMethod, Base2NewRow, CropScale, SelectionRow, TrainedMethod, World } from './base2new.ts';
import type { SplitName } from './splits.ts';
import { mean, meanCI95, pairedTTest, type MeanCI } from './stats.ts';

export type Metric = 'base' | 'new' | 'h';
export const METRICS: Metric[] = ['base', 'new', 'h'];

export interface MethodSummary {
  method: Base2NewMethod;
  n: number;
  base: MeanCI;
  new: MeanCI;
  h: MeanCI;
}

export interface PairedDiff {
  a: Base2NewMethod;
  b: Base2NewMethod;
  metric: Metric;
  n: number;
  mean_diff: number;
  ci95: [number, number];
  p_value: number;
}

export interface ConditionSummary {
  world: World;
  split: SplitName;
  summary: MethodSummary[];
  paired: PairedDiff[];
  /** CoCoOp's mean ‖π(x)‖ / ‖ctx row‖ over seeds. */
  pi_to_context: MeanCI | null;
}

/** The comparisons reported: CoCoOp against each CoOp, and against itself with π(x) fixed to its mean. */
export const COMPARISONS: [Base2NewMethod, Base2NewMethod][] = [
  ['cocoop', 'coop'],
  ['cocoop', 'coop-official'],
  ['cocoop', 'cocoop-mean-pi'],
];

const ORDER: Base2NewMethod[] = ['zero-shot', 'coop', 'coop-official', 'cocoop', 'cocoop-mean-pi'];

/** Values of `metric` of method `a` and `b` on the seeds both have, in seed order. */
export function pairedValues(rows: Base2NewRow[], a: Base2NewMethod, b: Base2NewMethod, metric: Metric): [number[], number[]] {
  const seeds = [...new Set(rows.map((r) => r.seed))].sort((x, y) => x - y);
  const xs: number[] = [];
  const ys: number[] = [];
  for (const s of seeds) {
    const ra = rows.find((r) => r.seed === s && r.method === a);
    const rb = rows.find((r) => r.seed === s && r.method === b);
    if (ra && rb) {
      xs.push(ra[metric]);
      ys.push(rb[metric]);
    }
  }
  return [xs, ys];
}

/** One condition's rows → its summary. */
export function summarizeCondition(world: World, split: SplitName, rows: Base2NewRow[]): ConditionSummary {
  const rs = rows.filter((r) => r.world === world && r.split === split);
  const methods = ORDER.filter((m) => rs.some((r) => r.method === m));
  const summary = methods.map((method): MethodSummary => {
    const of = rs.filter((r) => r.method === method);
    return { method, n: of.length, base: meanCI95(of.map((r) => r.base)), new: meanCI95(of.map((r) => r.new)), h: meanCI95(of.map((r) => r.h)) };
  });
  const paired: PairedDiff[] = [];
  for (const [a, b] of COMPARISONS) {
    if (!methods.includes(a) || !methods.includes(b)) continue;
    for (const metric of METRICS) {
      const [xs, ys] = pairedValues(rs, a, b, metric);
      const t = pairedTTest(xs, ys);
      paired.push({ a, b, metric, n: t.n, mean_diff: t.meanDiff, ci95: t.ci95, p_value: t.pValue });
    }
  }
  const ratios = rs.filter((r) => r.method === 'cocoop' && r.piToContext !== undefined).map((r) => r.piToContext!);
  return { world, split, summary, paired, pi_to_context: ratios.length ? meanCI95(ratios) : null };
}

export function summarizeAll(worlds: World[], splits: SplitName[], rows: Base2NewRow[]): ConditionSummary[] {
  return worlds.flatMap((w) => splits.map((s) => summarizeCondition(w, s, rows)));
}

export interface CropChoice {
  method: TrainedMethod;
  /** Mean validation accuracy of each candidate over every selection run (conditions × selection seeds). */
  candidates: { cropScale: CropScale; valAccuracy: number; runs: number }[];
  chosen: CropScale;
}

/** Per method, the candidate crop scale with the highest mean validation accuracy (the first on ties). */
export function chooseCropScales(rows: SelectionRow[], methods: TrainedMethod[], candidates: CropScale[]): CropChoice[] {
  return methods.map((method) => {
    const scored = candidates.map((cropScale) => {
      const vs = rows.filter((r) => r.method === method && r.cropScale.join() === cropScale.join()).map((r) => r.valAccuracy);
      if (vs.length === 0) throw new Error(`crop selection: no validation run of ${method} with crop ${cropScale.join('–')}`);
      return { cropScale, valAccuracy: mean(vs), runs: vs.length };
    });
    const best = scored.reduce((a, b) => (b.valAccuracy > a.valAccuracy ? b : a));
    return { method, candidates: scored, chosen: best.cropScale };
  });
}
