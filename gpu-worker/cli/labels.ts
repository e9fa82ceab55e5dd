// `--labels "a,b,c"` (or repeated --labels): comma-separated, trimmed, non-empty, distinct.
import { UsageError } from './usage.ts';

export function parseLabels(values: string[], command: string): string[] {
  const labels = values.flatMap((v) => v.split(',')).map((s) => s.trim());
  if (labels.length === 0) throw new UsageError(`${command}: --labels is required (e.g. --labels "cat,dog")`);
  if (labels.some((l) => l === '')) throw new Error(`--labels: empty label in ${JSON.stringify(values.join(','))}`);
  const seen = new Set<string>();
  for (const l of labels) {
    if (seen.has(l)) throw new Error(`--labels: duplicate label "${l}"`);
    seen.add(l);
  }
  return labels;
}
