// docs/base2new.md's generated section (tables, verdict, settings, command) and the SVG bar chart.
import type { Base2NewMethod, Base2NewRow, Base2NewSettings, Base2NewSummary } from './base2new.ts';

export interface Base2NewResult {
  command: string;
  machine: string;
  model: string; // model directory
  modelSha256: string;
  settings: Base2NewSettings;
  rows: Base2NewRow[];
  summary: Base2NewSummary[];
  seconds: number;
  date: string;
}

const NAMES: Record<Base2NewMethod, string> = { 'zero-shot': 'Zero-shot CLIP', coop: 'CoOp', cocoop: 'CoCoOp' };
const COLORS: Record<Base2NewMethod, string> = { 'zero-shot': '#8c8c8c', coop: '#4c72b0', cocoop: '#dd8452' };
const pct = (x: number) => (x * 100).toFixed(1);
const pts = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)}`;

/** Per-seed differences CoCoOp − CoOp on one metric. */
function seedDiffs(rows: Base2NewRow[], key: 'base' | 'novel' | 'h'): number[] {
  const seeds = [...new Set(rows.map((r) => r.seed))];
  return seeds.flatMap((s) => {
    const a = rows.find((r) => r.seed === s && r.method === 'cocoop');
    const b = rows.find((r) => r.seed === s && r.method === 'coop');
    return a && b ? [a[key] - b[key]] : [];
  });
}

/** Plain-language verdict computed from the numbers (no hand-tuned text). */
export function verdict(r: Base2NewResult): string {
  const cocoop = r.summary.find((s) => s.method === 'cocoop');
  const coop = r.summary.find((s) => s.method === 'coop');
  if (!cocoop || !coop) return 'CoOp and CoCoOp were not both run: no comparison.';
  const lines: string[] = [];
  for (const [key, label] of [['novel', 'new classes'], ['h', 'H'], ['base', 'base classes']] as const) {
    const diff = cocoop[key].mean - coop[key].mean;
    const per = seedDiffs(r.rows, key);
    const wins = per.filter((d) => d > 0).length;
    const verb = diff > 0 ? 'beat' : diff < 0 ? 'did not beat' : 'tied with';
    lines.push(
      `- On **${label}**, CoCoOp ${verb} CoOp: ${pct(cocoop[key].mean)}% vs ${pct(coop[key].mean)}% (${pts(diff)} points on the mean; ` +
        `per seed ${per.map(pts).join(', ')}; CoCoOp ahead in ${wins} of ${per.length} seeds).`,
    );
  }
  return lines.join('\n');
}

export function base2newMarkdown(r: Base2NewResult, chartFile: string): string {
  const s = r.settings;
  const mean = r.summary
    .map((m) => `| ${NAMES[m.method]} | ${pct(m.base.mean)} (${pct(m.base.min)}–${pct(m.base.max)}) | ${pct(m.novel.mean)} (${pct(m.novel.min)}–${pct(m.novel.max)}) | ${pct(m.h.mean)} (${pct(m.h.min)}–${pct(m.h.max)}) |`)
    .join('\n');
  const perSeed = r.rows
    .map((x) => {
      const a = x.attributes;
      return `| ${x.seed} | ${NAMES[x.method]} | ${pct(x.base)} | ${pct(x.novel)} | ${pct(x.h)} | ${pct(a.baseColor)} / ${pct(a.baseShape)} | ${pct(a.novelColor)} / ${pct(a.novelShape)} | ${x.trainSeconds ? x.trainSeconds.toFixed(0) : '–'} |`;
    })
    .join('\n');
  return `Run ${r.date} on ${r.machine}, ${(r.seconds / 60).toFixed(1)} min in all:

\`\`\`
${r.command}
\`\`\`

Accuracy (%) on held-out test images; mean over seeds ${s.seeds.join(', ')} with the range across seeds in brackets.
H of the mean row = harmonic mean of the mean Base and mean New (as in the paper).

| method | Base | New | H |
|---|---:|---:|---:|
${mean}

![Base / New / H per method](${chartFile})

${verdict(r)}

Per seed, with an error analysis (share of test images whose predicted class has the right color / the right shape):

| seed | method | Base | New | H | base: color / shape | new: color / shape | training s |
|---:|---|---:|---:|---:|---:|---:|---:|
${perSeed}

Settings: model \`${r.model}\` (sha256 ${r.modelSha256.slice(0, 12)}…); ${s.shots} shots per base class from the \`${s.domain}\`
domain; ${s.testPerClass} test images per class (base and new, same domain, their own random stream); CoOp and CoCoOp
with the product's trainer: ${s.epochs} epochs, SGD lr ${s.lr} (momentum 0.9, weight decay 5e-4, one warm-up epoch at
1e-5, cosine), batch ${s.batchSize}, context initialised from "${s.ctxInit}", random-resized-crop (area ${s.cropScale[0]}–${s.cropScale[1]}) + flip views;
zero-shot prompt "a photo of a {class}.". Base test images are classified among the 32 base labels, new test
images among the 32 new labels. Raw numbers: \`docs/base2new.json\`.`;
}

/** A grouped bar chart (Base, New, H × method) as a standalone SVG. */
export function base2newSvg(summary: Base2NewSummary[]): string {
  const groups: { key: 'base' | 'novel' | 'h'; label: string }[] = [
    { key: 'base', label: 'Base' },
    { key: 'novel', label: 'New' },
    { key: 'h', label: 'H' },
  ];
  const W = 560;
  const H = 300;
  const left = 48;
  const top = 30;
  const plotH = 220;
  const groupW = (W - left - 20) / groups.length;
  const barW = Math.min(40, (groupW - 30) / summary.length);
  const y = (v: number) => top + plotH * (1 - v);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="16" text-anchor="middle" font-size="13">Base-to-new on the toy world (mean over seeds; whiskers: min–max)</text>`,
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
      parts.push(`<rect x="${x.toFixed(1)}" y="${y(st.mean).toFixed(1)}" width="${(barW - 4).toFixed(1)}" height="${(plotH * st.mean).toFixed(1)}" fill="${COLORS[m.method]}"><title>${NAMES[m.method]} ${g.label}: ${pct(st.mean)}%</title></rect>`);
      const cx = x + (barW - 4) / 2;
      parts.push(`<line x1="${cx.toFixed(1)}" x2="${cx.toFixed(1)}" y1="${y(st.min).toFixed(1)}" y2="${y(st.max).toFixed(1)}" stroke="#222"/>`);
      parts.push(`<text x="${cx.toFixed(1)}" y="${(y(st.mean) - 4).toFixed(1)}" text-anchor="middle" font-size="10">${pct(st.mean)}</text>`);
    });
    parts.push(`<text x="${(left + gi * groupW + groupW / 2).toFixed(1)}" y="${top + plotH + 18}" text-anchor="middle">${g.label}</text>`);
  });
  summary.forEach((m, mi) => {
    const x = left + 10 + mi * 150;
    parts.push(`<rect x="${x}" y="${H - 22}" width="12" height="12" fill="${COLORS[m.method]}"/>`);
    parts.push(`<text x="${x + 17}" y="${H - 12}">${NAMES[m.method]}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
