// The per-epoch figures of a training job, read from its `metrics` events (data: epoch, loss, accuracy, val_accuracy),
// for the job page's charts.
import type { TrainingJobEvent } from './sdk.ts';

export interface EpochMetrics {
  epoch: number;
  loss: number | null;
  accuracy: number | null;
  val_accuracy: number | null;
}

/** The per-epoch figures of a job's metrics events (the last event of an epoch wins, e.g. after a resume). */
export function epochMetrics(events: TrainingJobEvent[]): EpochMetrics[] {
  const byEpoch = new Map<number, EpochMetrics>();
  for (const e of events) {
    if (e.type !== 'metrics' || typeof e.data !== 'object' || e.data === null) continue;
    const d = e.data as Record<string, unknown>;
    if (typeof d.epoch !== 'number') continue;
    const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
    byEpoch.set(d.epoch, { epoch: d.epoch, loss: n(d.loss), accuracy: n(d.accuracy), val_accuracy: n(d.val_accuracy) });
  }
  return [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
}
