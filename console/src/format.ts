// How numbers, sizes, times and durations read in the console.

export function percent(fraction: number | null | undefined, digits = 1): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return '–';
  return `${(fraction * 100).toFixed(digits)}%`;
}

const BYTE_UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

/** A count with thousands separators: 20000 → "20,000". */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** Training progress as a fraction of all steps: epochs done plus the current epoch's steps. */
export function jobFraction(p: { epoch: number; epochs: number; step: number; steps: number }): number {
  if (!(p.epochs > 0) || !(p.steps > 0)) return 0;
  const done = Math.max(0, p.epoch - 1) * p.steps + Math.min(p.step, p.steps);
  return Math.min(1, done / (p.epochs * p.steps));
}

/** Time left, extrapolated from the time since `startedAt` and the fraction done; null before it means anything. */
export function eta(startedAt: string | null, fraction: number, now = Date.now()): number | null {
  if (!startedAt || !(fraction > 0.01) || fraction >= 1) return null;
  const elapsed = now - new Date(startedAt).getTime();
  if (!(elapsed > 0)) return null;
  return (elapsed / fraction) * (1 - fraction);
}
