// Label lists as people type them: one per line or separated by commas.

/** The labels of `text`, trimmed; blank ones dropped. */
export function parseLabels(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/** The first label listed twice (the API refuses repeats), or undefined. */
export function repeatedLabel(labels: string[]): string | undefined {
  return labels.find((l, i) => labels.indexOf(l) !== i);
}
