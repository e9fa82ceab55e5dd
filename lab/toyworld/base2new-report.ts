// docs/base2new.md's generated section (per condition: mean and 95% CI of Base / New / H per method,
// the paired CoCoOp differences, the meta-net diagnostics; the crop-scale selection; the run) and one
// SVG bar chart per condition. Statements are computed from the intervals: a difference is called
// a difference only when its 95% CI excludes 0.
import type { Base2NewMethod, Base2NewRow, Base2NewSettings, SelectionRow, World } from './base2new.ts';
import type { ConditionSummary, CropChoice, Metric, PairedDiff } from './base2new-summary.ts';
import type { SplitName } from './splits.ts';
import type { MeanCI } from './stats.ts';

export interface Base2NewRun {
  command: string;
  machine: string;
  date: string;
  /** Wall time of the whole run (selection + evaluation), seconds. */
  seconds: number;
  selectionSeconds: number;
  /** Worker processes run in parallel. */
  jobs: number;
  engine: 'ort';
  model: string;
  modelSha256: string;
}

export interface Base2NewResult {
  settings: Base2NewSettings & { cropChoice: CropChoice[] };
  run: Base2NewRun;
  conditions: ConditionSummary[];
  selection: SelectionRow[];
  rows: Base2NewRow[];
}

export const METHOD_NAMES: Record<Base2NewMethod, string> = {
  'zero-shot': 'Zero-shot CLIP',
  coop: 'CoOp',
  'coop-official': 'CoOp (official recipe)',
  cocoop: 'CoCoOp',
  'cocoop-mean-pi': 'CoCoOp, π(x) := training mean',
};
const COLORS: Record<Base2NewMethod, string> = {
  'zero-shot': '#8c8c8c',
  coop: '#4c72b0',
  'coop-official': '#64b5cd',
  cocoop: '#dd8452',
  'cocoop-mean-pi': '#e6b89c',
};
const WORLD_NAMES: Record<World, string> = { night: 'night (one global shift)', mixed: 'mixed shifts (one of four per image)' };
const SPLIT_NAMES: Record<SplitName, string> = { 'name-sorted': 'name-sorted split (base/new = colours)', balanced: 'balanced split (checkerboard)' };
const METRIC_NAMES: Record<Metric, string> = { base: 'Base', new: 'New', h: 'H' };

const pct = (x: number) => (x * 100).toFixed(1);
const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)}`;
const ci = (m: MeanCI) => `${pct(m.mean)} [${pct(m.ci95[0])}, ${pct(m.ci95[1])}]`;
const pValue = (p: number) => (Number.isNaN(p) ? '–' : p < 0.001 ? '< 0.001' : p.toFixed(3));

export function chartFile(world: World, split: SplitName): string {
  return `base2new-${world}-${split}.svg`;
}

/** One sentence on a paired difference, saying only what its 95% CI supports. */
export function pairedStatement(d: PairedDiff): string {
  const what = `${METHOD_NAMES[d.a]} − ${METHOD_NAMES[d.b]} on ${METRIC_NAMES[d.metric]}: ${signed(d.mean_diff)} points, 95% CI [${signed(d.ci95[0])}, ${signed(d.ci95[1])}], p ${pValue(d.p_value)}`;
  if (!(d.ci95[0] <= d.ci95[1])) return `${what} — too few seeds for an interval.`;
  if (d.ci95[0] > 0) return `${what} — ${METHOD_NAMES[d.a]} higher (the interval excludes 0).`;
  if (d.ci95[1] < 0) return `${what} — ${METHOD_NAMES[d.a]} lower (the interval excludes 0).`;
  return `${what} — no difference shown (the interval contains 0; differences larger than ${pct(Math.max(-d.ci95[0], d.ci95[1]))} points are ruled out at this level).`;
}

function conditionSection(c: ConditionSummary, rows: Base2NewRow[]): string {
  const table = c.summary.map((m) => `| ${METHOD_NAMES[m.method]} | ${ci(m.base)} | ${ci(m.new)} | ${ci(m.h)} |`).join('\n');
  const paired = c.paired
    .map((d) => `| ${METHOD_NAMES[d.a]} − ${METHOD_NAMES[d.b]} | ${METRIC_NAMES[d.metric]} | ${signed(d.mean_diff)} | [${signed(d.ci95[0])}, ${signed(d.ci95[1])}] | ${pValue(d.p_value)} |`)
    .join('\n');
  const main = c.paired.filter((d) => d.a === 'cocoop' && (d.b === 'coop' || d.b === 'coop-official'));
  const rs = rows.filter((r) => r.world === c.world && r.split === c.split);
  const seeds = new Set(rs.map((r) => r.seed)).size;
  const attr = (method: Base2NewMethod) => {
    const of = rs.filter((r) => r.method === method);
    if (!of.length) return null;
    const avg = (f: (r: Base2NewRow) => number) => pct(of.reduce((a, r) => a + f(r), 0) / of.length);
    return `| ${METHOD_NAMES[method]} | ${avg((r) => r.attributes.baseColor)} / ${avg((r) => r.attributes.baseShape)} | ${avg((r) => r.attributes.newColor)} / ${avg((r) => r.attributes.newShape)} |`;
  };
  const attrs = (['zero-shot', 'coop', 'coop-official', 'cocoop'] as Base2NewMethod[]).map(attr).filter((x) => x).join('\n');
  return `### ${WORLD_NAMES[c.world]} × ${SPLIT_NAMES[c.split]}

Accuracy (%) on the fixed test set, mean over ${seeds} seeds [95% CI]:

| method | Base | New | H |
|---|---:|---:|---:|
${table}

![Base / New / H, ${c.world}, ${c.split}](${chartFile(c.world, c.split)})

Paired differences (points; same seeds):

| difference | metric | mean | 95% CI | p |
|---|---|---:|---:|---:|
${paired}

${main.map((d) => `- ${pairedStatement(d)}`).join('\n')}

Meta-net: ‖π(x)‖ / ‖ctx row‖ = ${c.pi_to_context ? `${c.pi_to_context.mean.toFixed(3)} [${c.pi_to_context.ci95[0].toFixed(3)}, ${c.pi_to_context.ci95[1].toFixed(3)}]` : '–'} (mean over the test images, then over seeds).

Error analysis, mean over seeds — share of test images whose predicted class has the right colour / the right shape:

| method | base: colour / shape | new: colour / shape |
|---|---:|---:|
${attrs}`;
}

export function base2newMarkdown(r: Base2NewResult): string {
  const s = r.settings;
  const run = r.run;
  const recipes = s.methods
    .map((m) => {
      const x = s.recipes[m];
      return `${METHOD_NAMES[m]}: ${x.method}, ${x.epochs} epochs, batch ${x.batchSize}, lr ${x.lr}, ctx "${x.ctxInit}"`;
    })
    .join('; ');
  const crops = s.cropChoice
    .map((c) => `| ${METHOD_NAMES[c.method]} | ${c.candidates.map((k) => `${k.cropScale.join('–')}: ${pct(k.valAccuracy)} (${k.runs} runs)`).join(' · ')} | **${c.chosen.join('–')}** |`)
    .join('\n');
  return `Run ${run.date} on ${run.machine}; ${run.jobs} worker process(es) in parallel; training on the \`${run.engine}\` engine.
Total wall time **${(run.seconds / 60).toFixed(1)} min** (crop selection ${(run.selectionSeconds / 60).toFixed(1)} min, evaluation ${((run.seconds - run.selectionSeconds) / 60).toFixed(1)} min):

\`\`\`
${run.command}
\`\`\`

Seeds ${s.seeds.join(', ')} (${s.seeds.length} per condition); ${s.shots} shots per base class; one fixed test set per
world of ${s.testPerClass} images per class (test seed ${s.testSeed}; base images scored among the 32 base labels, new
among the 32 new labels). Recipes — ${recipes}. Model \`${run.model}\` (sha256 ${run.modelSha256.slice(0, 12)}…).
Intervals: mean ± t(0.975, n−1)·s/√n over seeds; H = mean of the per-seed harmonic means; p = two-sided paired
t-test over seeds. Raw numbers (every seed): \`docs/base2new.json\`.

**Crop scale, chosen on validation** (selection seeds ${s.selectionSeeds.join(', ')} × ${s.worlds.length} worlds × ${s.splits.length} splits; each
run trains on the first ${s.shots - s.valPerClass} of each base class's ${s.shots} few-shot images and scores the other ${s.valPerClass}, among the base labels;
mean validation accuracy %):

| method | candidates | chosen |
|---|---|---|
${crops}

${r.conditions.map((c) => conditionSection(c, r.rows)).join('\n\n')}`;
}

/** Grouped bars (Base, New, H × method) with 95% CI whiskers for one condition, as a standalone SVG. */
export function base2newSvg(c: ConditionSummary): string {
  const summary = c.summary;
  const groups: { key: Metric; label: string }[] = [
    { key: 'base', label: 'Base' },
    { key: 'new', label: 'New' },
    { key: 'h', label: 'H' },
  ];
  const W = 640;
  const H = 330;
  const left = 48;
  const top = 30;
  const plotH = 220;
  const groupW = (W - left - 20) / groups.length;
  const barW = Math.min(36, (groupW - 24) / summary.length);
  const clamp = (v: number) => (Number.isFinite(v) ? Math.max(0, Math.min(1, v)) : NaN);
  const y = (v: number) => top + plotH * (1 - v);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="16" text-anchor="middle" font-size="13">${c.world} world, ${c.split} split: mean over seeds, whiskers 95% CI</text>`,
  ];
  for (let t = 0; t <= 10; t += 2) {
    const v = t / 10;
    parts.push(`<line x1="${left}" x2="${W - 10}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" fill="#555">${t * 10}</text>`);
  }
  groups.forEach((g, gi) => {
    const gx = left + gi * groupW + (groupW - barW * summary.length) / 2;
    summary.forEach((m, mi) => {
      const st = m[g.key];
      const x = gx + mi * barW;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${y(st.mean).toFixed(1)}" width="${(barW - 4).toFixed(1)}" height="${(plotH * st.mean).toFixed(1)}" fill="${COLORS[m.method]}"><title>${METHOD_NAMES[m.method]} ${g.label}: ${pct(st.mean)}%</title></rect>`,
      );
      const cx = x + (barW - 4) / 2;
      const [lo, hi] = st.ci95.map(clamp);
      if (Number.isFinite(lo) && Number.isFinite(hi)) {
        parts.push(`<line x1="${cx.toFixed(1)}" x2="${cx.toFixed(1)}" y1="${y(lo).toFixed(1)}" y2="${y(hi).toFixed(1)}" stroke="#222"/>`);
      }
      parts.push(`<text x="${cx.toFixed(1)}" y="${(y(st.mean) - 4).toFixed(1)}" text-anchor="middle" font-size="9">${pct(st.mean)}</text>`);
    });
    parts.push(`<text x="${(left + gi * groupW + groupW / 2).toFixed(1)}" y="${top + plotH + 18}" text-anchor="middle">${g.label}</text>`);
  });
  summary.forEach((m, mi) => {
    const col = mi % 3;
    const row = Math.floor(mi / 3);
    const x = left + 10 + col * 190;
    const yy = H - 48 + row * 20;
    parts.push(`<rect x="${x}" y="${yy}" width="12" height="12" fill="${COLORS[m.method]}"/>`);
    parts.push(`<text x="${x + 17}" y="${yy + 10}">${METHOD_NAMES[m.method]}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
